"""The DuckDB engine refuses a dataset that lacks a table or column it needs, naming it (the cohort
plan on data worked out by hand is in test_spec_examples.py and test_codes_cohort.py)."""

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import DuckDBEngine
from codesetlib.core.errors import DatasetError

D = dt.date


def test_a_missing_table_or_column_is_named(dataset):
    (dataset / "patients.parquet").unlink()
    with pytest.raises(DatasetError, match="table patients is missing"):
        DuckDBEngine(dataset)


def test_a_missing_column_is_named(dataset):
    frame = pd.DataFrame({"patient_id": [1], "when": [D(2020, 1, 1)], "code": ["1"]})
    pq.write_table(pa.Table.from_pandas(frame), dataset / "clinical_events.parquet")
    with pytest.raises(DatasetError, match="missing column\\(s\\) date") as raised:
        DuckDBEngine(dataset)
    assert raised.value.field == "clinical_events"


def test_results_have_the_types_ibis_gives(tmp_path):
    from codesetlib.cohorts import CohortDefinition
    from tests.spec import dataset
    from tests.spec.attrition.test_steps import ATTRITION
    from tests.spec.per_patient_index_dates.test_first_event import FIRST_DIAGNOSIS
    from tests.spec.rules.test_include_and_exclude import DIABETES_ADULTS

    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    for definition in (DIABETES_ADULTS, FIRST_DIAGNOSIS, ATTRITION):
        plan = engine.plan(CohortDefinition.model_validate(definition), dataset.CODESETS)
        for expr in (plan.patients(), plan.attrition()):
            pd.testing.assert_frame_equal(engine.execute(expr), engine.con.execute(expr))


def test_rules_narrow_the_rows_before_criteria_that_share_a_window_are_aggregated_once(tmp_path):
    from codesetlib.cohorts import CohortDefinition
    from tests.spec import dataset
    from tests.spec.rules.test_include_and_exclude import DIABETES_ADULTS

    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    sql = engine.cohort_sql(CohortDefinition.model_validate(DIABETES_ADULTS), dataset.CODESETS)
    # The diabetes rule is a semi join; hba1c value and date share one aggregate; then ethnicity.
    assert "SEMI JOIN" in sql
    assert sql.count('"clinical_events"') == 3


def test_a_definition_run_again_reuses_its_plan_and_sql(tmp_path):
    from codesetlib.cohorts import CohortDefinition
    from tests.spec import dataset
    from tests.spec.rules.test_include_and_exclude import DIABETES_ADULTS

    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    definition = CohortDefinition.model_validate(DIABETES_ADULTS)
    compiled = []
    compile_sql = engine.con.compile
    engine.con.compile = lambda expr, **kw: compiled.append(expr) or compile_sql(expr, **kw)
    first = engine.cohort(definition, dataset.CODESETS)
    again = engine.cohort(CohortDefinition.model_validate(DIABETES_ADULTS), dataset.CODESETS)
    pd.testing.assert_frame_equal(first, again)
    assert len(compiled) == 1
    other = {**dataset.CODESETS, "hba1c": dataset.CODESETS["diabetes"]}
    engine.cohort(definition, other)
    assert len(compiled) == 2
