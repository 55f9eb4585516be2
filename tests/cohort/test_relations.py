"""Small tables joined as data are named by their content, so the SQL the record shows is stable."""

import ibis
import pandas as pd

from codesetlib.cohorts import CodesetCodes, CohortDefinition, DuckDBEngine, codes_cohort
from codesetlib.cohorts.codeset_cohorts import HAS_CODE
from codesetlib.cohorts.engines.ibis_engine import IbisEngine
from codesetlib.cohorts.relations import content_name, named_memtable
from tests.spec import dataset
from tests.spec.rules.test_include_and_exclude import DIABETES_ADULTS

COHORT = codes_cohort("diabetes", "2024-01-01")
CODES = {"diabetes": CodesetCodes(coding_system="snomedct", codes=["44054006", "73211009"])}


def test_a_table_is_named_by_its_rows_and_types():
    frame = pd.DataFrame({"code": ["1", "2"]}, dtype="string")
    same = content_name(frame.copy(), {"code": "string"}, "codes")
    assert same == content_name(frame, {"code": "string"}, "codes")
    assert same.startswith("codes_")
    other_rows = pd.DataFrame({"code": ["1", "3"]}, dtype="string")
    assert content_name(other_rows, {"code": "string"}, "codes") != same
    assert content_name(frame, {"code": "int64"}, "codes") != same
    assert named_memtable(frame, {"code": "string"}, "codes").op().name == same


def test_the_sql_of_a_codeset_query_reads_the_same_in_every_session(tmp_path):
    folder = dataset.write_tables(tmp_path)
    texts = []
    for _ in range(2):
        engine = DuckDBEngine(folder)
        texts.append(engine.cohort_sql(COHORT, CODES))
    assert texts[0] == texts[1]
    assert "memtable" not in texts[0]


def test_a_query_joining_the_codes_twice_runs(tmp_path):
    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    table = engine.patients_per_code(COHORT, CODES, HAS_CODE)
    assert sorted(table["code"]) == ["44054006", "73211009"]


def test_a_plan_on_any_ibis_backend_shows_the_same_sql_and_runs(tmp_path):
    folder = dataset.write_tables(tmp_path)
    definition = CohortDefinition.model_validate(DIABETES_ADULTS)

    def engine() -> IbisEngine:
        con = ibis.duckdb.connect()
        tables = {p.stem: con.read_parquet(p, table_name=p.stem) for p in folder.glob("*.parquet")}
        return IbisEngine(con, tables)

    first, second = engine(), engine()
    sql = first.cohort_sql(definition, dataset.CODESETS)
    assert sql == second.cohort_sql(definition, dataset.CODESETS)
    assert "memtable" not in sql and "cohort_relation_" in sql
    expected = DuckDBEngine(folder).cohort(definition, dataset.CODESETS)
    pd.testing.assert_frame_equal(first.cohort(definition, dataset.CODESETS), expected)
