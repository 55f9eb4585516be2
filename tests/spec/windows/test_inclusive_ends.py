"""Both ends of a window are inside it: its first day, its last day and so the index date itself."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_the_first_and_last_days_of_a_window_are_inside_it(spec_test):
    # 12 months before 31 Mar 2024 runs from 31 Mar 2023 to 31 Mar 2024.
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
        1          | 2023-03-31 | H1   |        # the first day
        2          | 2023-03-30 | H1   |        # a day early
        3          | 2024-03-31 | H1   |        # the index date, the last day
        4          | 2024-04-01 | H1   |        # a day late
        """,
    )
    definition = {
        "id": "tested",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [{"name": "tested", "codeset": "hba1c", "window": "12 months before"}],
        "columns": ["patient_id", "tested"],
    }
    expected = [
        {"patient_id": 1, "tested": True},
        {"patient_id": 2, "tested": False},
        {"patient_id": 3, "tested": True},
        {"patient_id": 4, "tested": False},
    ]
    spec_test.cohort(data, definition, expected)


def test_an_event_on_the_index_date_is_both_before_and_after_it(spec_test):
    # 30 days either side of 31 Mar 2024: from 1 Mar 2024 and up to 30 Apr 2024.
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
        1          | 2024-03-31 | H1   |
        2          | 2024-03-01 | H1   |
        3          | 2024-02-29 | H1   |
        4          | 2024-04-30 | H1   |
        5          | 2024-05-01 | H1   |
        """,
    )
    definition = {
        "id": "either_side",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "before", "codeset": "hba1c", "window": "30 days before"},
            {"name": "after", "codeset": "hba1c", "window": "30 days after"},
        ],
        "columns": ["patient_id", "before", "after"],
    }
    expected = [
        {"patient_id": 1, "before": True, "after": True},
        {"patient_id": 2, "before": True, "after": False},
        {"patient_id": 3, "before": False, "after": False},
        {"patient_id": 4, "before": False, "after": True},
        {"patient_id": 5, "before": False, "after": False},
    ]
    spec_test.cohort(data, definition, expected)
