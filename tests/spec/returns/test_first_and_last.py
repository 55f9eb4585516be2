"""`first_*` and `last_*`: the earliest or latest event in the window, and one field of it.

Events on the same day are ordered by code and then by value, a missing value lowest, so every
engine picks the same one.
"""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, tables

D = dt.date


def test_first_and_last_dates_in_each_table(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2019-05-05 | H1   | 48.0
        1          | 2023-01-01 | H1   | 52.0
        1          | 2024-04-01 | H1   | 50.0   # after the index date
        """,
        medications="""
        patient_id | date       | code
        1          | 2023-04-01 | M1
        1          | 2024-03-31 | M1
        2          | 2023-03-30 | M1               # a day before the 12 months
        """,
    )
    definition = {
        "id": "dates",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "first_hba1c", "codeset": "hba1c", "returns": "first_date"},
            {"name": "last_hba1c", "codeset": "hba1c", "returns": "last_date"},
            {
                "name": "last_metformin",
                "codeset": "metformin",
                "table": "medications",
                "window": "12 months before",
                "returns": "last_date",
            },
        ],
        "columns": ["patient_id", "first_hba1c", "last_hba1c", "last_metformin"],
    }
    expected = [
        {
            "patient_id": 1,
            "first_hba1c": D(2019, 5, 5),
            "last_hba1c": D(2023, 1, 1),
            "last_metformin": D(2024, 3, 31),
        },
        {"patient_id": 2, "first_hba1c": None, "last_hba1c": None, "last_metformin": None},
    ]
    spec_test.cohort(data, definition, expected)


def test_first_and_last_values_with_ties_on_the_same_day(spec_test):
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
        1          | 2023-01-01 | H1   | 70.0
        1          | 2024-01-01 | H1   | 50.0
        2          | 2024-03-01 | H1   | 57.0
        2          | 2024-03-01 | H1   | 55.0   # same day: the smaller value is first
        3          | 2024-02-01 | H1   | 40.0
        3          | 2024-02-01 | H1   |        # same day, no value: it is first
        """,
    )
    definition = {
        "id": "values",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "first_hba1c", "codeset": "hba1c", "returns": "first_value"},
            {"name": "last_hba1c", "codeset": "hba1c", "returns": "last_value"},
        ],
        "columns": ["patient_id", "first_hba1c", "last_hba1c"],
    }
    expected = [
        {"patient_id": 1, "first_hba1c": 70.0, "last_hba1c": 50.0},
        {"patient_id": 2, "first_hba1c": 55.0, "last_hba1c": 57.0},
        {"patient_id": 3, "first_hba1c": None, "last_hba1c": 40.0},
        {"patient_id": 4, "first_hba1c": None, "last_hba1c": None},
    ]
    spec_test.cohort(data, definition, expected)


def test_first_and_last_codes_and_the_categories_the_codeset_gives_them(spec_test):
    # The ethnicity codeset maps E1 to White and E2 to Asian.
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2015-01-01 | E1   |
        1          | 2020-01-01 | E2   |
        2          | 2018-01-01 | E2   |
        2          | 2018-01-01 | E1   |        # same day: ordered by code
        3          | 2024-04-01 | E1   |        # after the index date
        """,
    )
    definition = {
        "id": "ethnicity",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "first_code", "codeset": "ethnicity", "returns": "first_code"},
            {"name": "last_code", "codeset": "ethnicity", "returns": "last_code"},
            {"name": "first_group", "codeset": "ethnicity", "returns": "first_category"},
            {"name": "last_group", "codeset": "ethnicity", "returns": "last_category"},
        ],
        "columns": ["patient_id", "first_code", "last_code", "first_group", "last_group"],
    }
    expected = [
        {
            "patient_id": 1,
            "first_code": "E1",
            "last_code": "E2",
            "first_group": "White",
            "last_group": "Asian",
        },
        {
            "patient_id": 2,
            "first_code": "E1",
            "last_code": "E2",
            "first_group": "White",
            "last_group": "Asian",
        },
        {
            "patient_id": 3,
            "first_code": None,
            "last_code": None,
            "first_group": None,
            "last_group": None,
        },
    ]
    spec_test.cohort(data, definition, expected)
