"""A measure counts a numerator and a denominator per interval and group; each interval's last day
is the index date of its patients."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, STANDARD, tables

D = dt.date
FIRST_QUARTER_2024 = [
    (D(2024, 1, 1), D(2024, 1, 31)),
    (D(2024, 2, 1), D(2024, 2, 29)),
    (D(2024, 3, 1), D(2024, 3, 31)),
]

CONTROL_MEASURE = {
    "id": "control",
    "index_date": INDEX,
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes"},
        {
            "name": "hba1c_value",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_value",
        },
    ],
    "flags": [{"name": "hba1c_controlled", "of": "hba1c_value", "at_most": 58}],
    "rules": [{"action": "include", "criterion": "diabetes"}],
}
# Interval ends 31 Jan, 29 Feb, 31 Mar 2024; practice 1 holds patient 1, practice 2 patients 5 and 6.
CONTROL_MEASURE_EXPECTED = [
    {
        "interval_start": D(2024, 1, 1),
        "interval_end": D(2024, 1, 31),
        "practice_id": 1,
        "numerator": 0,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 1, 1),
        "interval_end": D(2024, 1, 31),
        "practice_id": 2,
        "numerator": 0,
        "denominator": 2,
    },
    {
        "interval_start": D(2024, 2, 1),
        "interval_end": D(2024, 2, 29),
        "practice_id": 1,
        "numerator": 0,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 2, 1),
        "interval_end": D(2024, 2, 29),
        "practice_id": 2,
        "numerator": 0,
        "denominator": 2,
    },
    {
        "interval_start": D(2024, 3, 1),
        "interval_end": D(2024, 3, 31),
        "practice_id": 1,
        "numerator": 1,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 3, 1),
        "interval_end": D(2024, 3, 31),
        "practice_id": 2,
        "numerator": 1,
        "denominator": 2,
    },
]


def test_monthly_hba1c_control_by_practice(spec_test):
    spec_test.measure(
        STANDARD,
        CONTROL_MEASURE,
        numerator="hba1c_controlled",
        group_by=("practice_id",),
        intervals=FIRST_QUARTER_2024,
        expected=CONTROL_MEASURE_EXPECTED,
    )


def test_who_counts_and_their_windows_move_with_each_intervals_last_day(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    | 2024-03-10
        """,
        registrations="""
        patient_id | practice_id | start_date | end_date
        1          | 1           | 2000-01-01 |
        2          | 1           | 2024-02-15 |               # joins in February
        3          | 1           | 2000-01-01 |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2024-01-15 | H1   | 50.0
        2          | 2024-02-29 | H1   | 50.0                # a month before 31 March too
        """,
    )
    definition = {
        "id": "tested_this_month",
        "index_date": INDEX,
        "criteria": [{"name": "tested", "codeset": "hba1c", "window": "1 month before"}],
    }
    expected = [
        {
            "interval_start": D(2024, 1, 1),
            "interval_end": D(2024, 1, 31),
            "numerator": 1,
            "denominator": 2,
        },
        {
            "interval_start": D(2024, 2, 1),
            "interval_end": D(2024, 2, 29),
            "numerator": 1,
            "denominator": 3,
        },
        {
            "interval_start": D(2024, 3, 1),
            "interval_end": D(2024, 3, 31),
            "numerator": 1,
            "denominator": 2,
        },
    ]
    spec_test.measure(
        data,
        definition,
        numerator="tested",
        intervals=FIRST_QUARTER_2024,
        expected=expected,
    )
