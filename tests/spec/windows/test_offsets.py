"""Windows between two offsets from the index date: a month or a year later is the same day of the
month, or the month's last day when that month is shorter."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, STANDARD, tables

D = dt.date

BETWEEN = {
    "id": "between",
    "index_date": INDEX,
    "population": {"registered": False, "alive": False},
    "criteria": [
        {
            "name": "old_hba1c",
            "codeset": "hba1c",
            "window": {"start": "-14 months", "end": "-13 months"},
        }
    ],
    "columns": ["patient_id", "old_hba1c"],
}
# From 31 Jan 2023 to 28 Feb 2023 inclusive: only patient 5 (27 and 28 Feb 2023).
BETWEEN_EXPECTED = [{"patient_id": p, "old_hba1c": p == 5} for p in range(1, 7)]


def test_a_window_between_two_offsets_before_the_index_date(spec_test):
    spec_test.cohort(STANDARD, BETWEEN, BETWEEN_EXPECTED)


def test_a_window_after_the_index_date_starts_on_the_last_day_of_a_short_month(spec_test):
    # From 31 Jan 2024 + 1 month = 29 Feb 2024 to 31 Jan 2024 + 3 months = 30 Apr 2024.
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
        1          | 2024-02-29 | H1   |
        2          | 2024-02-28 | H1   |
        3          | 2024-04-30 | H1   |
        4          | 2024-05-01 | H1   |
        """,
    )
    definition = {
        "id": "follow_up",
        "index_date": D(2024, 1, 31),
        "population": {"registered": False, "alive": False},
        "criteria": [
            {
                "name": "followed_up",
                "codeset": "hba1c",
                "window": {"start": "1 month", "end": "3 months"},
            }
        ],
        "columns": ["patient_id", "followed_up"],
    }
    expected = [
        {"patient_id": 1, "followed_up": True},
        {"patient_id": 2, "followed_up": False},
        {"patient_id": 3, "followed_up": True},
        {"patient_id": 4, "followed_up": False},
    ]
    spec_test.cohort(data, definition, expected)


def test_years_from_a_leap_day_land_on_28_february_or_29_february(spec_test):
    # From 29 Feb 2024, one year before is 28 Feb 2023 and four years before is 29 Feb 2020.
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
        1          | 2023-02-28 | H1   |
        2          | 2023-02-27 | H1   |
        3          | 2020-02-29 | H1   |
        4          | 2020-02-28 | H1   |
        """,
    )
    definition = {
        "id": "leap_years",
        "index_date": D(2024, 2, 29),
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "last_year", "codeset": "hba1c", "window": "1 year before"},
            {"name": "last_4_years", "codeset": "hba1c", "window": "4 years before"},
        ],
        "columns": ["patient_id", "last_year", "last_4_years"],
    }
    expected = [
        {"patient_id": 1, "last_year": True, "last_4_years": True},
        {"patient_id": 2, "last_year": False, "last_4_years": True},
        {"patient_id": 3, "last_year": False, "last_4_years": True},
        {"patient_id": 4, "last_year": False, "last_4_years": False},
    ]
    spec_test.cohort(data, definition, expected)
