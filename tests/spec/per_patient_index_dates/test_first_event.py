"""A per-patient index date: each patient's first event of a codeset, in a period if one is given;
a patient without such an event has no row."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import STANDARD, tables

D = dt.date

FIRST_DIAGNOSIS = {
    "id": "first_diagnosis",
    "index_date": {"first_event_of": "diabetes", "on_or_after": D(2015, 1, 1)},
    "population": {"registered": False, "alive": False},
    "criteria": [
        {"name": "hba1c_tests", "codeset": "hba1c", "window": "24 months after", "returns": "count"}
    ],
    "columns": ["patient_id", "index_date", "hba1c_tests"],
}
FIRST_DIAGNOSIS_EXPECTED = [
    {"patient_id": 2, "index_date": D(2024, 4, 1), "hba1c_tests": 0},
    {"patient_id": 4, "index_date": D(2020, 1, 1), "hba1c_tests": 0},
    {"patient_id": 5, "index_date": D(2022, 6, 1), "hba1c_tests": 2},
    {"patient_id": 6, "index_date": D(2024, 1, 1), "hba1c_tests": 2},
]


def test_the_first_diagnosis_on_or_after_a_date_and_tests_in_the_24_months_after(spec_test):
    spec_test.cohort(STANDARD, FIRST_DIAGNOSIS, FIRST_DIAGNOSIS_EXPECTED)


def test_the_first_prescription_on_or_before_a_date(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        """,
        medications="""
        patient_id | date       | code
        1          | 2023-05-01 | M1
        1          | 2022-01-01 | M1
        2          | 2024-02-01 | M1               # after the period
        3          | 2023-12-31 | M1               # its last day
        """,
    )
    definition = {
        "id": "first_prescription",
        "index_date": {
            "first_event_of": "metformin",
            "table": "medications",
            "on_or_before": D(2023, 12, 31),
        },
        "population": {"registered": False, "alive": False},
        "columns": ["patient_id", "index_date"],
    }
    expected = [
        {"patient_id": 1, "index_date": D(2022, 1, 1)},
        {"patient_id": 3, "index_date": D(2023, 12, 31)},
    ]
    spec_test.cohort(data, definition, expected)
