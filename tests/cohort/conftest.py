"""Engines for the cohort tests: DuckDB and the pandas reference always, Spark when selected.

Spark tests carry `@pytest.mark.spark` and share the spec suite's one session-scoped SparkSession
(`tests/spec/engines.py`); deselect them with `-m "not spark"`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import DuckDBEngine, PandasReference
from tests.spec.engines import spark_session

__all__ = ["spark_session"]

ENGINE_NAMES = ["duckdb", "pandas", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(params=ENGINE_NAMES)
def make_engine(request: pytest.FixtureRequest) -> Callable[[Path], object]:
    """A function from a dataset folder to an engine of each kind in turn."""
    if request.param == "duckdb":
        return DuckDBEngine
    if request.param == "pandas":
        return PandasReference.from_dataset
    session = request.getfixturevalue("spark_session")
    from codesetlib.cohorts.engines.spark_engine import SparkEngine

    return lambda folder: SparkEngine(folder, session)


D = dt.date


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Four patients and six coded events (one dead, one code after a late index date)."""
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4],
            "sex": ["female", "male", "female", "male"],
            "date_of_birth": [D(1950, 1, 1)] * 4,
            "date_of_death": [None, None, None, D(2024, 1, 1)],
        }
    )
    events = pd.DataFrame(
        {
            "patient_id": [1, 1, 2, 2, 3, 4],
            "date": [
                D(2020, 1, 1),
                D(2021, 1, 1),
                D(2024, 6, 1),
                D(2023, 12, 31),
                D(2020, 5, 5),
                D(2019, 1, 1),
            ],
            "code": ["254837009", "254837009", "363406005", "44054006", "44054006", "363406005"],
        }
    )
    for name, frame in {"patients": patients, "clinical_events": events}.items():
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), tmp_path / f"{name}.parquet"
        )
    return tmp_path
