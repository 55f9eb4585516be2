"""Every spec example against every engine: DuckDB, the pandas reference and (marked) Spark."""

from __future__ import annotations

import datetime as dt

import pytest

from codesetlib.cohorts import CohortDefinition
from tests.cohort import spec

D = dt.date


@pytest.fixture
def engine(make_engine, tmp_path):
    return make_engine(spec.write_tables(tmp_path / "data"))


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (spec.DIABETES_ADULTS, spec.DIABETES_ADULTS_EXPECTED),
        (spec.AGES_ON_28_FEB_2023, spec.AGES_EXPECTED),
        (spec.FIRST_DIAGNOSIS, spec.FIRST_DIAGNOSIS_EXPECTED),
        (spec.BETWEEN, spec.BETWEEN_EXPECTED),
    ],
    ids=["diabetes_adults", "ages", "first_diagnosis", "between"],
)
def test_cohort(engine, definition, expected):
    found = engine.cohort(CohortDefinition.model_validate(definition), spec.CODESETS)
    assert spec.records(found) == expected


def test_attrition(engine):
    table = engine.attrition(CohortDefinition.model_validate(spec.ATTRITION), spec.CODESETS)
    assert table["patients"].tolist() == spec.ATTRITION_EXPECTED
    assert table["excluded"].tolist() == [0, 2, 0, 1, 0, 1]
    assert table["description"].iloc[-1] == "exclude metformin"


def test_monthly_practice_measure(engine):
    found = engine.measure(
        CohortDefinition.model_validate(spec.CONTROL_MEASURE),
        spec.CODESETS,
        numerator="hba1c_controlled",
        denominator=None,
        group_by=["practice_id"],
        interval_starts=[D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)],
        interval_ends=[D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31)],
    )
    rows = sorted(spec.records(found), key=lambda r: (r["interval_start"], r["practice_id"]))
    assert rows == spec.CONTROL_MEASURE_EXPECTED
