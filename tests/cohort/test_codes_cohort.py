"""A codeset's codes cohort and its patients per code, on constructed data worked out by hand, on
every engine (the codeset review page counts with these)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from codesetlib.cohorts import (
    CodesetCodes,
    CohortDefinition,
    DuckDBEngine,
    Population,
    codes_cohort,
)
from codesetlib.cohorts.codeset_cohorts import FIRST_EVENT_DATE, HAS_CODE, table_coded_in
from codesetlib.core.errors import CohortError

D = dt.date
CANCER = ("254837009", "363406005", "399068003")
CODESETS = {
    "cancer": CodesetCodes(coding_system="snomedct", codes=CANCER),
    "diabetes": CodesetCodes(coding_system="snomedct", codes=["44054006"]),
}


@pytest.fixture
def engine(make_engine, dataset):
    return make_engine(dataset)


def first_dates(table: pd.DataFrame) -> list[tuple[int, dt.date]]:
    dates = pd.to_datetime(table[FIRST_EVENT_DATE]).dt.date
    return list(zip(table["patient_id"].astype(int), dates, strict=True))


def test_patients_with_a_code_on_or_before_the_index_date(engine):
    found = engine.cohort(codes_cohort("cancer", D(2024, 1, 1)), CODESETS)
    # Patient 2's cancer code is after the index date; patient 3 has only a diabetes code; patient 4
    # died on the index date and still counts: a codes cohort has no population conditions.
    assert first_dates(found) == [(1, D(2020, 1, 1)), (4, D(2019, 1, 1))]


def test_an_event_on_the_index_date_counts(engine):
    found = engine.cohort(codes_cohort("cancer", D(2024, 6, 1)), CODESETS)
    assert first_dates(found) == [(1, D(2020, 1, 1)), (2, D(2024, 6, 1)), (4, D(2019, 1, 1))]


def test_patients_and_events_per_code_include_unused_codes(engine):
    table = engine.patients_per_code(codes_cohort("cancer", D(2024, 1, 1)), CODESETS, HAS_CODE)
    assert table.astype({"code": str}).to_dict("records") == [
        {"code": "254837009", "patients": 1, "events": 2},
        {"code": "363406005", "patients": 1, "events": 1},
        {"code": "399068003", "patients": 0, "events": 0},
    ]


def test_patients_per_code_counts_only_the_cohort(engine):
    """Alive on the index date leaves out patient 4 (died that day), and with them their code."""
    cohort = codes_cohort("cancer", D(2024, 1, 1))
    alive = cohort.model_copy(update={"population": Population(registered=False, alive=True)})
    table = engine.patients_per_code(alive, CODESETS, HAS_CODE)
    assert dict(zip(table["code"].astype(str), table["patients"], strict=True)) == {
        "254837009": 1,
        "363406005": 0,
        "399068003": 0,
    }


def test_patients_per_code_follow_each_patients_own_index_date(engine):
    """Index date: each patient's first cancer code (1: 2020-01-01, 2: 2024-06-01, 4: 2019-01-01).
    Patient 1's second event (2021) is after their index date; patient 2's is on it."""
    definition = CohortDefinition.model_validate(
        {
            "id": "first_cancer",
            "index_date": {"first_event_of": "cancer"},
            "population": {"registered": False, "alive": False},
            "criteria": [
                {"name": "cancer_before", "codeset": "cancer"},
                {"name": "diabetes_year_before", "codeset": "diabetes", "window": "1 year before"},
            ],
            "columns": ["patient_id"],
        }
    )
    cancer = engine.patients_per_code(definition, CODESETS, "cancer_before")
    assert cancer.astype({"code": str}).to_dict("records") == [
        {"code": "363406005", "patients": 2, "events": 2},
        {"code": "254837009", "patients": 1, "events": 1},
        {"code": "399068003", "patients": 0, "events": 0},
    ]
    # Patient 2's diabetes code (2023-12-31) is within the year before their index date; patient 3
    # has no cancer code, so no index date.
    diabetes = engine.patients_per_code(definition, CODESETS, "diabetes_year_before")
    assert diabetes.astype({"code": str}).to_dict("records") == [
        {"code": "44054006", "patients": 1, "events": 1}
    ]


def test_an_unknown_criterion_is_named_with_those_there_are(engine):
    with pytest.raises(CohortError, match="no criterion 'nope' \\(it has: has_code, first_event"):
        engine.patients_per_code(codes_cohort("cancer", D(2024, 1, 1)), CODESETS, "nope")


def test_codes_reach_the_engine_as_data_not_sql_text(dataset):
    engine = DuckDBEngine(dataset)
    sql = engine.cohort_sql(codes_cohort("cancer", D(2024, 1, 1)), CODESETS)
    assert "clinical_events" in sql
    assert all(code not in sql for code in CANCER)


def test_each_coding_system_is_counted_in_its_own_table():
    assert table_coded_in("snomedct") == "clinical_events"
    assert table_coded_in("dmd") == "medications"
    medications = codes_cohort("metformin", D(2024, 1, 1), table="medications")
    assert {c.table for c in medications.criteria} == {"medications"}
    # ICD-10 codes are clinical events where the data hold them (an OMOP CDM); the checks refuse an
    # ICD-10 codeset on data that hold none (tests/sources/test_omop_cli.py).
    assert table_coded_in("icd10") == "clinical_events"
    with pytest.raises(CohortError, match="no events coded in omop:rxnorm"):
        table_coded_in("omop:rxnorm")
