"""Everything a row holds is taken on that patient's own index date: windows, age, registration."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import tables

D = dt.date


def test_windows_age_and_practice_on_each_patients_own_index_date(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1960-06-15    |
        2          | male   | 1980-01-01    |
        3          | female | 1970-01-01    |
        """,
        registrations="""
        patient_id | practice_id | start_date | end_date
        1          | 1           | 2000-01-01 | 2021-01-01
        1          | 2           | 2021-01-02 |
        2          | 1           | 2000-01-01 | 2021-12-31
        2          | 2           | 2022-01-01 |
        3          | 1           | 2022-06-01 |               # after the diagnosis
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2020-06-15 | D1   |           # the 60th birthday
        1          | 2023-01-01 | D2   |           # a later diagnosis: not an index date
        1          | 2020-01-01 | H1   | 48.0
        1          | 2019-12-14 | H1   | 99.0      # a day before the 6 months
        2          | 2023-03-01 | D1   |
        2          | 2023-03-02 | H1   | 70.0      # after the index date
        3          | 2022-01-01 | D1   |
        """,
    )
    definition = {
        "id": "at_diagnosis",
        "index_date": {"first_event_of": "diabetes"},
        "population": {"registered": True, "alive": True},
        "criteria": [
            {
                "name": "hba1c",
                "codeset": "hba1c",
                "window": "6 months before",
                "returns": "last_value",
            }
        ],
        "columns": ["patient_id", "index_date", "age", "practice_id", "hba1c"],
    }
    expected = [
        {
            "patient_id": 1,
            "index_date": D(2020, 6, 15),
            "age": 60,
            "practice_id": 1,
            "hba1c": 48.0,
        },
        {
            "patient_id": 2,
            "index_date": D(2023, 3, 1),
            "age": 43,
            "practice_id": 2,
            "hba1c": None,
        },
    ]
    spec_test.cohort(data, definition, expected)
