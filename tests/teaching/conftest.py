"""A tiny dataset of clinical events, written with pandas, whose counts are worked out by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.teaching.builder import CodesetBuilder
from codesetlib.teaching.counts import PatientCounter
from codesetlib.terminology import open_release

RELEASE = "snomedct-teaching-20240401"
INDEX_DATE = dt.date(2025, 3, 31)
LUNG = "363358000"  # Malignant tumour of lung
PRIMARY_LUNG = "93880001"  # its child
SMALL_CELL = "254632001"  # a child of PRIMARY_LUNG
BCC = "254701007"  # Basal cell carcinoma of skin, outside lung

# patient, date, code. On or before the index date:
#   LUNG: patient 1 (1 event); PRIMARY_LUNG: patients 1, 2 (3 events); SMALL_CELL: patient 3 (1 event,
#   the 2026 one is after the index date); BCC: patient 4. Lung codes with descendants find 3 patients.
EVENTS = [
    (1, "2020-01-01", LUNG),
    (1, "2021-01-01", PRIMARY_LUNG),
    (2, "2019-05-01", PRIMARY_LUNG),
    (2, "2022-05-01", PRIMARY_LUNG),
    (3, "2024-06-01", SMALL_CELL),
    (3, "2026-01-01", SMALL_CELL),
    (4, "2023-02-02", BCC),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "dataset"
    folder.mkdir()
    events = pd.DataFrame(EVENTS, columns=["patient_id", "date", "code"])
    events["date"] = pd.to_datetime(events["date"]).dt.date
    events["value"] = float("nan")
    events.to_parquet(folder / "clinical_events.parquet", index=False)
    return folder


@pytest.fixture
def counter(dataset: Path) -> PatientCounter:
    return PatientCounter.from_dataset(dataset, INDEX_DATE)


@pytest.fixture
def builder(counter: PatientCounter) -> CodesetBuilder:
    """A builder with exact counts (disclosure off) so that the tests can compare numbers."""
    return CodesetBuilder(
        open_release(RELEASE), counter, disclosure=DisclosureSettings(enabled=False)
    )
