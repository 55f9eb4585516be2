"""`exists` and `count`: whether a patient has events of the codeset in the window, and how many."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_every_event_in_the_window_counts_and_no_event_counts_zero(spec_test):
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
        1          | 2023-06-01 | H1   | 48.0
        1          | 2024-01-01 | H1   | 52.0
        1          | 2024-03-31 | H1   | 50.0
        1          | 2020-01-01 | H1   | 61.0   # before the window
        1          | 2024-01-01 | D1   |        # another codeset
        2          | 2024-04-01 | H1   | 45.0   # after the index date
        4          | 2024-02-01 | H1   | 49.0
        4          | 2024-02-01 | H1   | 49.0   # the same again: each record counts
        """,
    )
    definition = {
        "id": "tests",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "tested", "codeset": "hba1c", "window": "12 months before"},
            {
                "name": "tests",
                "codeset": "hba1c",
                "window": "12 months before",
                "returns": "count",
            },
        ],
        "columns": ["patient_id", "tested", "tests"],
    }
    expected = [
        {"patient_id": 1, "tested": True, "tests": 3},
        {"patient_id": 2, "tested": False, "tests": 0},
        {"patient_id": 3, "tested": False, "tests": 0},
        {"patient_id": 4, "tested": True, "tests": 2},
    ]
    spec_test.cohort(data, definition, expected)
