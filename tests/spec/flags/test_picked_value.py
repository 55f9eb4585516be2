"""A flag reads the one value its criterion picks: the first or the last in the window."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_flags_on_the_first_and_the_last_value_differ_when_the_values_do(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2020-01-01 | H1   | 70.0
        1          | 2024-01-01 | H1   | 50.0
        2          | 2023-01-01 | H1   | 45.0
        3          | 2024-04-01 | H1   | 40.0     # after the index date
        """,
    )
    definition = {
        "id": "first_and_last",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "first_hba1c", "codeset": "hba1c", "returns": "first_value"},
            {"name": "last_hba1c", "codeset": "hba1c", "returns": "last_value"},
        ],
        "flags": [
            {"name": "first_controlled", "of": "first_hba1c", "at_most": 58},
            {"name": "last_controlled", "of": "last_hba1c", "at_most": 58},
        ],
        "columns": ["patient_id", "first_controlled", "last_controlled"],
    }
    expected = [
        {"patient_id": 1, "first_controlled": False, "last_controlled": True},
        {"patient_id": 2, "first_controlled": True, "last_controlled": True},
        {"patient_id": 3, "first_controlled": False, "last_controlled": False},
    ]
    spec_test.cohort(data, definition, expected)
