"""The cohort engine on a PostgreSQL server gives what the DuckDB engine gives on the same tables:
cohorts, attrition, measures and counts per code, with the same column types."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from codesetlib.cohorts import CohortDefinition, DuckDBEngine, codes_cohort
from codesetlib.cohorts.codeset_cohorts import HAS_CODE
from codesetlib.cohorts.engines.database_engine import DatabaseEngine, open_engine
from codesetlib.cohorts.measures import Intervals, Measure, compute_measure
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import DataSource, OpenedSource
from tests.cohort.test_engines_agree import CODESETS as GENERATED_CODESETS
from tests.cohort.test_engines_agree import datasets, definitions
from tests.postgres import PostgresServer
from tests.spec import dataset
from tests.spec.engines import typed_tables
from tests.spec.measures.test_intervals import CONTROL_MEASURE

D = dt.date
schema_numbers = itertools.count()


@pytest.fixture(scope="module")
def load(postgres_server: PostgresServer) -> Callable[[dict[str, pd.DataFrame]], DataSource]:
    """A function from tables to a source of them on the server, each in a schema of its own."""

    def loaded(tables: dict[str, pd.DataFrame]) -> DataSource:
        schema = f"engine_test_{next(schema_numbers)}"
        postgres_server.load_tables(typed_tables(tables), schema)
        return postgres_server.source(schema, list(tables))

    return loaded


@pytest.fixture(scope="module")
def standard(load) -> DataSource:
    return load(dataset.STANDARD)


@pytest.fixture
def postgres(standard) -> DatabaseEngine:
    engine = open_engine(standard)
    assert isinstance(engine, DatabaseEngine)
    yield engine
    engine.con.disconnect()


@pytest.fixture
def duckdb(tmp_path) -> DuckDBEngine:
    return DuckDBEngine(dataset.write_tables(tmp_path))


def test_open_engine_runs_a_postgres_source_on_the_server(postgres):
    assert postgres.name == "postgres"
    assert postgres.con.name == "postgres"
    assert postgres.schemas()["patients"] >= {"patient_id", "sex", "date_of_birth"}


def test_the_cohort_and_its_attrition_equal_duckdbs_with_the_same_types(postgres, duckdb):
    definition = CohortDefinition.model_validate(
        {**CONTROL_MEASURE, "columns": ["patient_id", "index_date", "age", "hba1c_value"]}
    )
    found = postgres.cohort(definition, dataset.CODESETS)
    # Patients 1, 5 and 6 have a diabetes code by 31 March 2024 (patient 3 died, patient 4 joined
    # after it, patient 2's code is later); patient 5's last HbA1c in 13 months is 60.
    assert found["patient_id"].tolist() == [1, 5, 6]
    assert found["index_date"].dtype == "datetime64[s]"
    pd.testing.assert_frame_equal(found, duckdb.cohort(definition, dataset.CODESETS))
    attrition = postgres.attrition(definition, dataset.CODESETS)
    assert attrition["patients"].dtype == "int64"
    pd.testing.assert_frame_equal(attrition, duckdb.attrition(definition, dataset.CODESETS))


def test_a_measure_equals_duckdbs(postgres, duckdb):
    measure = Measure(
        id="hba1c_control",
        definition=CohortDefinition.model_validate(CONTROL_MEASURE),
        numerator="hba1c_controlled",
        group_by=["practice_id"],
        intervals=Intervals(start=D(2024, 1, 1), end=D(2024, 3, 31)),
    )
    found = compute_measure(measure, dataset.CODESETS, postgres)
    march = found[found["interval_start"] == pd.Timestamp(2024, 3, 1)]
    assert march["ratio"].tolist() == [1.0, 0.5]
    pd.testing.assert_frame_equal(found, compute_measure(measure, dataset.CODESETS, duckdb))


def test_patients_per_code_equal_duckdbs(postgres, duckdb):
    definition = codes_cohort("diabetes", dataset.INDEX)
    found = postgres.patients_per_code(definition, dataset.CODESETS, HAS_CODE)
    assert found["patients"].tolist() == [4, 1]
    pd.testing.assert_frame_equal(
        found, duckdb.patients_per_code(definition, dataset.CODESETS, HAS_CODE)
    )


def test_codes_reach_the_server_as_a_temporary_table_made_once(postgres):
    first = CohortDefinition.model_validate(CONTROL_MEASURE)
    # Another definition with the same codes joins the same table, which already exists.
    second = CohortDefinition.model_validate({**CONTROL_MEASURE, "id": "other", "flags": []})
    postgres.cohort(first, dataset.CODESETS)
    postgres.cohort(second, dataset.CODESETS)
    sql = postgres.cohort_sql(second, dataset.CODESETS)
    assert "cohort_relation_" in sql
    assert "'D1'" not in sql
    temporary = postgres.con.raw_sql(
        "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'cohort_relation_%'"
    ).fetchall()
    assert len(temporary) == 1


def test_an_engine_on_the_same_connection_reuses_the_temporary_tables(standard):
    opened = standard.open()
    definition = CohortDefinition.model_validate(CONTROL_MEASURE)
    one = DatabaseEngine(standard, opened).cohort(definition, dataset.CODESETS)
    other = DatabaseEngine(standard, opened).cohort(definition, dataset.CODESETS)
    pd.testing.assert_frame_equal(one, other)
    opened.con.disconnect()


def test_a_connection_of_another_kind_is_refused(standard):
    opened = OpenedSource(con=ibis.duckdb.connect(), backend="sqlite", tables={})
    with pytest.raises(DatasetError, match="not on a sqlite connection"):
        DatabaseEngine(standard, opened)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables=datasets(), definition=definitions())
def test_generated_definitions_give_duckdbs_cohort_and_attrition(load, tables, definition):
    source = load(tables)
    engine = open_engine(source)
    with tempfile.TemporaryDirectory() as folder:
        duckdb = DuckDBEngine(dataset.write_tables(Path(folder), tables))
        for run in ("cohort", "attrition"):
            found = getattr(engine, run)(definition, GENERATED_CODESETS)
            pd.testing.assert_frame_equal(
                found, getattr(duckdb, run)(definition, GENERATED_CODESETS)
            )
    engine.con.disconnect()
