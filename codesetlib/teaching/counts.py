"""Patients and events per code from a dataset's clinical events, loaded once for live counting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from codesetlib.core.errors import DatasetError
from codesetlib.core.paths import resolve
from codesetlib.data.synthetic.manifest import dataset_tables

EVENT_COLUMNS = ["patient_id", "date", "code"]


class PatientCounter:
    """The events of a dataset grouped by code, so that counts for any set of codes take no query.

    Built once from `clinical_events` (optionally only events on or before an index date); each code
    keeps the sorted ids of the patients who have it, so the patients found by a whole codeset are a
    union of small arrays rather than a scan of the events. What it counts is a codeset's codes
    cohort (`cohorts.codes_cohort`): its counts are tested to equal the cohort engine's for that
    cohort, which the record's pages run; the index only answers a learner's every change at once.
    """

    def __init__(self, events: pd.DataFrame, index_date: dt.date | None = None) -> None:
        missing = set(EVENT_COLUMNS) - set(events.columns)
        if missing:
            raise DatasetError(f"clinical events lack column(s) {', '.join(sorted(missing))}")
        events = events[EVENT_COLUMNS].astype({"code": "string"})
        if index_date is not None:
            events = events[pd.to_datetime(events["date"]) <= pd.Timestamp(index_date)]
        self.index_date = index_date
        grouped = events.groupby("code", observed=True)["patient_id"]
        self._patients = {str(code): np.unique(ids.to_numpy()) for code, ids in grouped}
        self._events = {str(code): int(n) for code, n in grouped.size().items()}

    @classmethod
    def from_dataset(
        cls, dataset_dir: str | Path, index_date: str | dt.date | None = None
    ) -> PatientCounter:
        """Read `clinical_events.parquet` from a dataset folder (relative to the project root)."""
        folder = resolve(dataset_dir)
        path = dataset_tables(folder, ["clinical_events"]).get("clinical_events")
        if path is None:
            raise DatasetError(
                "no clinical_events.parquet (generate the dataset with `codeset data study.yaml`)",
                path=folder,
            )
        when = dt.date.fromisoformat(str(index_date)) if index_date is not None else None
        return cls(pd.read_parquet(path, columns=EVENT_COLUMNS), when)

    def patients_with(self, code: str) -> int:
        """Patients with at least one event of `code`."""
        return len(self._patients.get(code, ()))

    def events_of(self, code: str) -> int:
        """Events coded `code`."""
        return self._events.get(code, 0)

    def per_code(self, codes: Iterable[str]) -> pd.DataFrame:
        """One row per code (in the order given): code, patients with it, events of it."""
        codes = list(codes)
        return pd.DataFrame(
            {
                "code": pd.Series(codes, dtype="string"),
                "patients": pd.Series([self.patients_with(c) for c in codes], dtype="int64"),
                "events": pd.Series([self.events_of(c) for c in codes], dtype="int64"),
            }
        )

    def patients(self, codes: Iterable[str]) -> int:
        """Distinct patients with an event of any of `codes` (a patient with two codes counts once)."""
        found = [self._patients[c] for c in codes if c in self._patients]
        return len(np.unique(np.concatenate(found))) if found else 0
