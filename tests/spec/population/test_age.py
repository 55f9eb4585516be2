"""Age on the index date in whole years, its band, and the population's age bounds (inclusive)."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import STANDARD, tables

D = dt.date

AGES_ON_28_FEB_2023 = {
    "id": "ages",
    "index_date": D(2023, 2, 28),
    "population": {"registered": False, "alive": False},
    "columns": ["patient_id", "age", "age_band"],
}
# Patient 1, born 29 Feb 1960, is still 62 on 28 Feb 2023.
AGES_EXPECTED = [
    {"patient_id": 1, "age": 62, "age_band": "60-79"},
    {"patient_id": 2, "age": 12, "age_band": "0-17"},
    {"patient_id": 3, "age": 73, "age_band": "60-79"},
    {"patient_id": 4, "age": 52, "age_band": "40-59"},
    {"patient_id": 5, "age": 42, "age_band": "40-59"},
    {"patient_id": 6, "age": 67, "age_band": "60-79"},
]


def test_a_leap_day_birthday_comes_on_1_march_in_other_years(spec_test):
    spec_test.cohort(STANDARD, AGES_ON_28_FEB_2023, AGES_EXPECTED)


def test_the_youngest_and_oldest_ages_allowed_are_inside_the_population(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 2006-01-01    |                # 18 today
        2          | male   | 2006-01-02    |                # 18 tomorrow
        3          | female | 1959-01-01    |                # 65 today
        4          | male   | 1958-01-01    |                # 66
        5          | female | 1959-01-02    |                # 65 tomorrow
        """,
    )
    definition = {
        "id": "working_age",
        "index_date": D(2024, 1, 1),
        "population": {"registered": False, "alive": False, "age_min": 18, "age_max": 65},
        "columns": ["patient_id", "age", "age_band"],
    }
    expected = [
        {"patient_id": 1, "age": 18, "age_band": "18-39"},
        {"patient_id": 3, "age": 65, "age_band": "60-79"},
        {"patient_id": 5, "age": 64, "age_band": "60-79"},
    ]
    spec_test.cohort(data, definition, expected)
