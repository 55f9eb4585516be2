"""The record's codeset review, cohort and measure pages take each codeset at the version the study
pins: diabetes 1.0.0 still holds 'Diabetes resolved' (315051004), which 1.1.0 left out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts.codes import codeset_codes
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import CodesetError
from codesetlib.record.codeset_review_page import (
    codeset_review_page,
    cohort_summary,
    usage_table,
)
from codesetlib.record.cohorts import run_cohort

CODESETS = Path(__file__).resolve().parent.parent / "codesets"
D = dt.date
RESOLVED = "315051004"  # Diabetes resolved: in diabetes 1.0.0 only
TYPE_2 = "44054006"  # Type 2 diabetes mellitus: in both versions
COHORT = """\
id: diabetes_ever
index_date: 2024-01-01
population: {registered: false, alive: false}
criteria:
  - {name: diabetes, codeset: diabetes}
rules:
  - {action: include, criterion: diabetes}
columns: [patient_id]
"""


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3],
            "sex": ["female", "male", "female"],
            "date_of_birth": [D(1950, 1, 1)] * 3,
            "date_of_death": [None, None, D(2030, 1, 1)],
        }
    )
    # Patient 1: type 2 diabetes; patient 2: only 'diabetes resolved'; patient 3: type 2 after the
    # index date.
    events = pd.DataFrame(
        {
            "patient_id": [1, 2, 2, 3],
            "date": [D(2020, 1, 1), D(2021, 1, 1), D(2022, 1, 1), D(2024, 2, 1)],
            "code": [TYPE_2, RESOLVED, RESOLVED, TYPE_2],
        }
    )
    for name, frame in {"patients": patients, "clinical_events": events}.items():
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), folder / f"{name}.parquet"
        )
    return folder


def review(dataset: Path, version: str | None):
    return codeset_review_page(
        "diabetes",
        codesets_dir=CODESETS,
        dataset_dir=dataset,
        index_date="2024-01-01",
        version=version,
        disclosure=DisclosureSettings(enabled=False),
    )


def test_the_review_page_counts_the_pinned_version(dataset: Path) -> None:
    pinned, current = review(dataset, "1.0.0"), review(dataset, None)
    assert (pinned.codeset.version, current.codeset.version) == ("1.0.0", "1.1.0")
    assert (pinned.cohort_size, current.cohort_size) == (2, 1)
    per_code = usage_table(pinned).set_index("Code")
    assert per_code.loc[RESOLVED, ["Patients", "Events"]].tolist() == [1, 2]
    assert per_code.loc[TYPE_2, ["Patients", "Events"]].tolist() == [1, 1]
    assert RESOLVED not in set(usage_table(current)["Code"])
    assert cohort_summary(pinned).iloc[0].tolist() == ["2024-01-01", 14, 2]


def test_the_review_page_shows_the_engines_sql(dataset: Path) -> None:
    page = review(dataset, "1.0.0")
    assert "clinical_events" in page.sql and "first_event_date" in page.sql
    assert RESOLVED not in page.sql and TYPE_2 not in page.sql


def test_a_cohort_takes_its_codesets_at_the_pinned_versions(dataset: Path, tmp_path: Path) -> None:
    definition = tmp_path / "diabetes_ever.yaml"
    definition.write_text(COHORT)
    run = {
        version: run_cohort(
            definition,
            codesets_dir=str(CODESETS),
            dataset_dir=str(dataset),
            codeset_versions={"diabetes": version},
        )
        for version in ("1.0.0", None)
    }
    assert run["1.0.0"].cohort["patient_id"].tolist() == [1, 2]
    assert run[None].cohort["patient_id"].tolist() == [1]


def test_codes_load_at_the_pinned_version_and_a_missing_one_is_named() -> None:
    pinned = codeset_codes(CODESETS, ["diabetes", "hba1c"], {"diabetes": "1.0.0"})
    current = codeset_codes(CODESETS, ["diabetes"])
    assert set(pinned["diabetes"].codes) - set(current["diabetes"].codes) == {RESOLVED}
    assert "hba1c" in pinned
    with pytest.raises(CodesetError, match=r"codeset diabetes has no version 9\.9\.9"):
        codeset_codes(CODESETS, ["diabetes"], {"diabetes": "9.9.9"})
