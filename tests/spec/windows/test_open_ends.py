"""Windows open at one end or both: `ever before` (the default), `on or after`, `any time`."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_an_open_end_reaches_any_date_and_a_closed_one_stops_at_the_index_date(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1950-01-01    |
        2          | male   | 1950-01-01    |
        3          | female | 1950-01-01    |
        4          | male   | 1950-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 1960-01-01 | D1   |
        2          | 2024-03-31 | D2   |
        3          | 2030-01-01 | D1   |
        4          | 2024-03-31 | H1   |       # not a diabetes code
        """,
    )
    definition = {
        "id": "open_windows",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "by_default", "codeset": "diabetes"},
            {"name": "ever_before", "codeset": "diabetes", "window": "ever before"},
            {"name": "from_index", "codeset": "diabetes", "window": "on or after"},
            {"name": "any_time", "codeset": "diabetes", "window": "any time"},
        ],
        "columns": ["patient_id", "by_default", "ever_before", "from_index", "any_time"],
    }
    yes, no = True, False
    expected = [
        {"patient_id": 1, "by_default": yes, "ever_before": yes, "from_index": no, "any_time": yes},
        {
            "patient_id": 2,
            "by_default": yes,
            "ever_before": yes,
            "from_index": yes,
            "any_time": yes,
        },
        {"patient_id": 3, "by_default": no, "ever_before": no, "from_index": yes, "any_time": yes},
        {"patient_id": 4, "by_default": no, "ever_before": no, "from_index": no, "any_time": no},
    ]
    spec_test.cohort(data, definition, expected)
