"""Engines for the spec examples: DuckDB and the pandas reference always, Spark when selected.

Spark tests carry `@pytest.mark.spark` (registered here) and share one session-scoped SparkSession
with two shuffle partitions and no UI; deselect them with `-m "not spark"`.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from codesetlib.cohorts import DuckDBEngine, PandasReference


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs on a local Spark session (a few seconds)")


@pytest.fixture(scope="session")
def spark_session():
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ (apt-get install -y openjdk-17-jre-headless)")
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    from codesetlib.cohorts.engines.spark_engine import local_session

    session = local_session(partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


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
