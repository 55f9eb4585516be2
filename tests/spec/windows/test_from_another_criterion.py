"""A window bound measured from the date another criterion returns (`start_from`, `end_from`)
instead of the index date: a review within 12 months of the first diagnosis. A patient without
that date has no event in the window.

On the standard dataset (index date 2024-03-31) patients 1, 2, 5 and 6 are registered and alive:
1's first diabetes code is 2010-01-01 (HbA1c 2023-01-01 and 2024-03-31); 2 has a diabetes code only
after the index date, so no first date; 5's is 2022-06-01 (HbA1c 2023-02-27 and 2023-02-28); 6's
is 2024-01-01 (HbA1c twice on 2024-03-01).
"""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, STANDARD, tables

D = dt.date

FIRST_DIABETES = {"name": "first_diabetes", "codeset": "diabetes", "returns": "first_date"}
# Within a year of the first diabetes code, however long after the index date.
FIRST_YEAR = {
    "name": "hba1c_first_year",
    "codeset": "hba1c",
    "returns": "count",
    "window": {
        "start": "0 days",
        "start_from": "first_diabetes",
        "end": "12 months",
        "end_from": "first_diabetes",
    },
}
# From 30 days before the first diabetes code to 12 months before the index date.
EARLY = {
    "name": "hba1c_early",
    "codeset": "hba1c",
    "window": {"start": "-30 days", "start_from": "first_diabetes", "end": "-12 months"},
}
ANCHORED = {
    "id": "anchored",
    "index_date": INDEX,
    "criteria": [FIRST_DIABETES, FIRST_YEAR, EARLY],
    "columns": ["patient_id", "first_diabetes", "hba1c_first_year", "hba1c_early"],
}


def test_both_bounds_from_one_criterion_and_one_bound_from_each_date(spec_test):
    expected = [
        # [2010-01-01, 2011-01-01] holds no HbA1c; [2009-12-02, 2023-03-31] holds 2023-01-01.
        {
            "patient_id": 1,
            "first_diabetes": D(2010, 1, 1),
            "hba1c_first_year": 0,
            "hba1c_early": True,
        },
        # No first date: nothing is in a window from it.
        {"patient_id": 2, "first_diabetes": None, "hba1c_first_year": 0, "hba1c_early": False},
        # [2022-06-01, 2023-06-01] and [2022-05-02, 2023-03-31] both hold the two of February 2023.
        {
            "patient_id": 5,
            "first_diabetes": D(2022, 6, 1),
            "hba1c_first_year": 2,
            "hba1c_early": True,
        },
        # [2024-01-01, 2025-01-01] holds both of 2024-03-01; [2023-12-02, 2023-03-31] is empty.
        {
            "patient_id": 6,
            "first_diabetes": D(2024, 1, 1),
            "hba1c_first_year": 2,
            "hba1c_early": False,
        },
    ]
    spec_test.cohort(STANDARD, ANCHORED, expected)


def test_a_rule_on_a_criterion_measured_from_another(spec_test):
    definition = ANCHORED | {"rules": [{"action": "include", "criterion": "hba1c_early"}]}
    expected = [
        {
            "patient_id": 1,
            "first_diabetes": D(2010, 1, 1),
            "hba1c_first_year": 0,
            "hba1c_early": True,
        },
        {
            "patient_id": 5,
            "first_diabetes": D(2022, 6, 1),
            "hba1c_first_year": 2,
            "hba1c_early": True,
        },
    ]
    spec_test.cohort(STANDARD, definition, expected)
    spec_test.attrition(
        STANDARD,
        definition,
        [
            (0, "patients with an index date", 6, 0),
            (1, "registered on the index date", 4, 2),
            (2, "alive on the index date", 4, 0),
            (3, "include hba1c_early", 2, 2),
        ],
    )


def test_a_practice_measure_whose_numerator_is_measured_from_another_criterion(spec_test):
    # Practice 1: patient 1 (counts). Practice 2: patients 2, 5 (moved there in 2023) and 6.
    spec_test.measure(
        STANDARD,
        ANCHORED | {"columns": None},
        numerator="hba1c_early",
        group_by=("practice_id",),
        intervals=[(D(2024, 3, 1), INDEX)],
        expected=[
            {
                "interval_start": D(2024, 3, 1),
                "interval_end": INDEX,
                "practice_id": 1,
                "numerator": 1,
                "denominator": 1,
            },
            {
                "interval_start": D(2024, 3, 1),
                "interval_end": INDEX,
                "practice_id": 2,
                "numerator": 1,
                "denominator": 3,
            },
        ],
    )


def test_a_month_from_the_last_day_of_january_ends_on_the_last_day_of_february(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2024-01-31 | D1   |
        1          | 2024-02-29 | H1   |       # a month after 31 Jan 2024: inside
        2          | 2024-01-31 | D1   |
        2          | 2024-03-01 | H1   |       # a day too late
        3          | 2024-02-15 | H1   |       # no diabetes code to measure from
        """,
    )
    definition = {
        "id": "follow_up",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            FIRST_DIABETES,
            {
                "name": "followed_up",
                "codeset": "hba1c",
                "window": {
                    "start": "0 days",
                    "start_from": "first_diabetes",
                    "end": "1 month",
                    "end_from": "first_diabetes",
                },
            },
        ],
        "columns": ["patient_id", "followed_up"],
    }
    expected = [
        {"patient_id": 1, "followed_up": True},
        {"patient_id": 2, "followed_up": False},
        {"patient_id": 3, "followed_up": False},
    ]
    spec_test.cohort(data, definition, expected)


def test_a_per_patient_index_date_and_a_bound_from_another_criterion(spec_test):
    # Index: each patient's first diabetes code in 2024. Patient 6: 2024-01-01 (and 2024-03-31);
    # patient 2: 2024-04-01. From 60 days before the last diabetes code up to the index date + 3 months.
    definition = {
        "id": "own_index",
        "index_date": {"first_event_of": "diabetes", "on_or_after": D(2024, 1, 1)},
        "population": {"registered": False, "alive": False},
        "criteria": [
            {
                "name": "last_diabetes",
                "codeset": "diabetes",
                "returns": "last_date",
                "window": "any time",
            },
            {
                "name": "hba1c_near",
                "codeset": "hba1c",
                "returns": "count",
                "window": {"start": "-60 days", "start_from": "last_diabetes", "end": "3 months"},
            },
        ],
        "columns": ["patient_id", "index_date", "last_diabetes", "hba1c_near"],
    }
    expected = [
        # [2024-02-01, 2024-07-01]: no HbA1c.
        {
            "patient_id": 2,
            "index_date": D(2024, 4, 1),
            "last_diabetes": D(2024, 4, 1),
            "hba1c_near": 0,
        },
        # [2024-01-31, 2024-04-01]: both of 2024-03-01.
        {
            "patient_id": 6,
            "index_date": D(2024, 1, 1),
            "last_diabetes": D(2024, 3, 31),
            "hba1c_near": 2,
        },
    ]
    spec_test.cohort(STANDARD, definition, expected)
