"""Counting patients and events per code from a dataset loaded once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from codesetlib.cohorts import CodesetCodes, DuckDBEngine, codes_cohort
from codesetlib.cohorts.codeset_cohorts import HAS_CODE
from codesetlib.core.errors import DatasetError
from codesetlib.teaching.counts import PatientCounter
from tests.teaching.conftest import BCC, INDEX_DATE, LUNG, PRIMARY_LUNG, SMALL_CELL


def test_counts_per_code_on_or_before_the_index_date(counter: PatientCounter) -> None:
    table = counter.per_code([LUNG, PRIMARY_LUNG, SMALL_CELL, "999"])
    assert table.to_dict("list") == {
        "code": [LUNG, PRIMARY_LUNG, SMALL_CELL, "999"],
        "patients": [1, 2, 1, 0],
        "events": [1, 3, 1, 0],
    }


def test_a_patient_with_two_codes_counts_once(counter: PatientCounter) -> None:
    assert counter.patients([LUNG, PRIMARY_LUNG]) == 2
    assert counter.patients([LUNG, PRIMARY_LUNG, SMALL_CELL, BCC]) == 4
    assert counter.patients([]) == 0


def test_without_an_index_date_every_event_counts(dataset: Path) -> None:
    counter = PatientCounter.from_dataset(dataset)
    assert counter.events_of(SMALL_CELL) == 2
    assert counter.patients_with(SMALL_CELL) == 1


def test_a_missing_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"clinical_events\.parquet"):
        PatientCounter.from_dataset(tmp_path)


def test_events_without_a_code_column_are_refused() -> None:
    with pytest.raises(DatasetError, match="code"):
        PatientCounter(pd.DataFrame({"patient_id": [1], "date": ["2020-01-01"]}))


def test_the_counts_agree_with_the_cohort_engines_codes_cohort(
    dataset: Path, counter: PatientCounter
) -> None:
    """The counter is an index for live counting; what it counts is a codes cohort, so on the same
    events it gives what the cohort engine gives for that cohort, code by code and in all."""
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4],
            "sex": ["female", "male", "female", "male"],
            "date_of_birth": pd.to_datetime(["1950-01-01"] * 4).date,
            "date_of_death": pd.to_datetime([None, "2021-01-01", None, None]).date,
        }
    )
    patients.to_parquet(dataset / "patients.parquet", index=False)
    codes = [LUNG, PRIMARY_LUNG, SMALL_CELL, BCC, "999"]
    lung = {"lung": CodesetCodes(coding_system="snomedct", codes=codes)}
    cohort = codes_cohort("lung", INDEX_DATE)
    engine = DuckDBEngine(dataset)
    expected = engine.patients_per_code(cohort, lung, HAS_CODE).sort_values("code")
    found = counter.per_code(sorted(codes))
    assert found["patients"].tolist() == expected["patients"].tolist()
    assert found["events"].tolist() == expected["events"].tolist()
    assert counter.patients(codes) == len(engine.cohort(cohort, lung)) == 4
