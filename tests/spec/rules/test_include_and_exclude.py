"""Rules keep (include) or drop (exclude) the patients for whom a yes/no criterion is true, in the
order written; a patient must pass every rule."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, STANDARD, tables

D = dt.date

DIABETES_ADULTS = {
    "id": "diabetes_adults",
    "index_date": INDEX,
    "population": {"age_min": 18},
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes", "window": "ever before"},
        {
            "name": "hba1c_value",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_value",
        },
        {
            "name": "hba1c_date",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_date",
        },
        {
            "name": "metformin",
            "codeset": "metformin",
            "table": "medications",
            "window": "12 months before",
        },
        {"name": "ethnicity", "codeset": "ethnicity", "returns": "last_category"},
    ],
    "flags": [{"name": "hba1c_controlled", "of": "hba1c_value", "at_most": 58}],
    "rules": [{"action": "include", "criterion": "diabetes"}],
    "columns": [
        "patient_id",
        "sex",
        "age",
        "practice_id",
        "hba1c_value",
        "hba1c_date",
        "hba1c_controlled",
        "metformin",
        "ethnicity",
    ],
}
DIABETES_ADULTS_EXPECTED = [
    {
        "patient_id": 1,
        "sex": "female",
        "age": 64,
        "practice_id": 1,
        "hba1c_value": 50.0,
        "hba1c_date": D(2024, 3, 31),
        "hba1c_controlled": True,
        "metformin": True,
        "ethnicity": "Asian",
    },
    {
        "patient_id": 5,
        "sex": "female",
        "age": 44,
        "practice_id": 2,
        "hba1c_value": 60.0,
        "hba1c_date": D(2023, 2, 28),
        "hba1c_controlled": False,
        "metformin": False,
        "ethnicity": "Asian",
    },
    {
        "patient_id": 6,
        "sex": "male",
        "age": 68,
        "practice_id": 2,
        "hba1c_value": 57.0,
        "hba1c_date": D(2024, 3, 1),
        "hba1c_controlled": True,
        "metformin": False,
        "ethnicity": None,
    },
]


def test_adults_with_diabetes_and_their_latest_hba1c(spec_test):
    spec_test.cohort(STANDARD, DIABETES_ADULTS, DIABETES_ADULTS_EXPECTED)


def test_an_include_and_an_exclude_rule_must_both_pass(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        4          | male   | 1980-01-01    |
        5          | female | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2015-01-01 | D1   |
        2          | 2015-01-01 | D1   |
        5          | 2020-01-01 | D2   |
        """,
        medications="""
        patient_id | date       | code
        2          | 2024-01-01 | M1
        4          | 2024-01-01 | M1
        5          | 2022-01-01 | M1               # before the 12 months
        """,
    )
    definition = {
        "id": "untreated_diabetes",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "diabetes", "codeset": "diabetes"},
            {
                "name": "metformin",
                "codeset": "metformin",
                "table": "medications",
                "window": "12 months before",
            },
        ],
        "rules": [
            {"action": "include", "criterion": "diabetes"},
            {"action": "exclude", "criterion": "metformin"},
        ],
        "columns": ["patient_id", "diabetes", "metformin"],
    }
    expected = [
        {"patient_id": 1, "diabetes": True, "metformin": False},
        {"patient_id": 5, "diabetes": True, "metformin": False},
    ]
    spec_test.cohort(data, definition, expected)


def test_a_rule_counts_only_the_events_in_its_criterions_window(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        4          | male   | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2024-01-01 | D1   |
        2          | 2015-01-01 | D1   |        # before the 12 months
        3          | 2024-04-01 | D1   |        # after the index date
        4          | 2015-01-01 | D1   |
        4          | 2024-03-31 | D2   |
        """,
    )
    definition = {
        "id": "recent_diabetes",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "recent_diabetes", "codeset": "diabetes", "window": "12 months before"},
            {"name": "first_diabetes", "codeset": "diabetes", "returns": "first_date"},
        ],
        "rules": [{"action": "include", "criterion": "recent_diabetes"}],
        "columns": ["patient_id", "first_diabetes"],
    }
    expected = [
        {"patient_id": 1, "first_diabetes": D(2024, 1, 1)},
        {"patient_id": 4, "first_diabetes": D(2015, 1, 1)},
    ]
    spec_test.cohort(data, definition, expected)
