"""The engines every spec example runs on, and the one local Spark session the tests share.

DuckDB and the pandas reference are built afresh for each test from the example's Parquet files.
Spark reads Parquet into the session at about a second a dataset, so one Spark engine is kept per
distinct set of tables for the whole test session. Spark tests carry `@pytest.mark.spark`;
deselect them with `-m "not spark"`. On PostgreSQL (the session's throwaway server,
`tests/postgres.py`) each distinct set of tables is loaded once into a schema of its own, and each
test opens its own connection to it, as the engine does on a site's database.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping

import pandas as pd
import pyarrow as pa
import pytest

from codesetlib.cohorts import DuckDBEngine, PandasReference
from codesetlib.cohorts.engines.database_engine import open_engine
from tests.postgres import PostgresServer
from tests.spec.dataset import SCHEMAS, records, with_every_table, write_tables

Tables = Mapping[str, pd.DataFrame | None]
ENGINE_NAMES = ["duckdb", "pandas", "spark", "postgres"]
# PySpark warns that it does not yet fully support pandas 3 on every result it converts.
SPARK_MARKS = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]
ENGINES = [pytest.param(n, marks=SPARK_MARKS) if n == "spark" else n for n in ENGINE_NAMES]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """A local SparkSession with two shuffle partitions and no UI, for the whole test session."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ (apt-get install -y openjdk-17-jre-headless)")
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    from codesetlib.cohorts.engines.spark_engine import local_session

    session = local_session(partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def tables_key(tables: Mapping[str, pd.DataFrame]) -> str:
    """The content of a set of tables as text, to recognise the same tables in another example."""
    return json.dumps(
        {name: [list(frame.columns), records(frame)] for name, frame in sorted(tables.items())},
        default=str,
    )


@pytest.fixture(scope="session")
def spark_engines(
    spark_session: object, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Tables], object]:
    """A function from an example's tables to the session's Spark engine over them."""
    from codesetlib.cohorts.engines.spark_engine import SparkEngine

    engines: dict[str, object] = {}

    def engine_for(tables: Tables) -> object:
        every = with_every_table(tables)
        key = tables_key(every)
        if key not in engines:
            folder = write_tables(tmp_path_factory.mktemp("spark-tables"), every)
            engines[key] = SparkEngine(folder, spark_session)
        return engines[key]

    return engine_for


def typed_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pa.Table]:
    """The tables with the dataset's column types, as `write_tables` writes them (a column with
    only nulls keeps its type)."""
    return {
        name: pa.Table.from_pandas(
            frame,
            schema=pa.schema([(c, SCHEMAS[name][c]) for c in frame.columns]),
            preserve_index=False,
        )
        for name, frame in tables.items()
    }


def postgres_maker(request: pytest.FixtureRequest) -> Callable[[Tables], object]:
    """A function from an example's tables to an engine on a new connection to the server, closed
    when the test ends."""
    server: PostgresServer = request.getfixturevalue("postgres_server")

    def engine_for(tables: Tables) -> object:
        every = with_every_table(tables)
        schema = server.schema_holding(typed_tables(every), tables_key(every))
        engine = open_engine(server.source(schema, list(every)))
        request.addfinalizer(engine.con.disconnect)
        return engine

    return engine_for


def engine_maker(request: pytest.FixtureRequest, name: str) -> Callable[[Tables], object]:
    """A function from an example's tables to an engine of kind `name` over them."""
    if name == "spark":
        return request.getfixturevalue("spark_engines")
    if name == "postgres":
        return postgres_maker(request)
    folder = request.getfixturevalue("tmp_path") / "tables"
    read = DuckDBEngine if name == "duckdb" else PandasReference.from_dataset
    return lambda tables: read(write_tables(folder, with_every_table(tables)))
