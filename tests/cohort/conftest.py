"""Engines for the cohort tests: DuckDB and the pandas reference always, Spark when selected.

Spark tests carry `@pytest.mark.spark` and share the spec suite's one session-scoped SparkSession
(`tests/spec/engines.py`); deselect them with `-m "not spark"`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
