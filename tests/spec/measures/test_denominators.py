"""A denominator narrows a measure to the patients for whom a yes/no column is true."""

from __future__ import annotations

import datetime as dt

from tests.spec.dataset import INDEX, tables

D = dt.date


def test_controlled_diabetes_by_sex_among_patients_with_diabetes(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        4          | female | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2010-01-01 | D1   |
        1          | 2024-02-10 | H1   | 50.0
        2          | 2010-01-01 | D1   |
        2          | 2023-06-01 | H1   | 70.0
        3          | 2024-01-05 | H1   | 40.0      # no diabetes
        4          | 2024-02-01 | D2   |           # diabetes from February
        """,
    )
    definition = {
        "id": "control_by_sex",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {"name": "diabetes", "codeset": "diabetes"},
            {
                "name": "hba1c_value",
                "codeset": "hba1c",
                "window": "13 months before",
                "returns": "last_value",
            },
        ],
        "flags": [{"name": "controlled", "of": "hba1c_value", "at_most": 58}],
    }
    january, february = (D(2024, 1, 1), D(2024, 1, 31)), (D(2024, 2, 1), D(2024, 2, 29))
    expected = [
        {"interval_start": january[0], "interval_end": january[1], "sex": "female"}
        | {"numerator": 0, "denominator": 1},
        {"interval_start": january[0], "interval_end": january[1], "sex": "male"}
        | {"numerator": 0, "denominator": 1},
        {"interval_start": february[0], "interval_end": february[1], "sex": "female"}
        | {"numerator": 1, "denominator": 2},
        {"interval_start": february[0], "interval_end": february[1], "sex": "male"}
        | {"numerator": 0, "denominator": 1},
    ]
    spec_test.measure(
        data,
        definition,
        numerator="controlled",
        denominator="diabetes",
        group_by=("sex",),
        intervals=[january, february],
        expected=expected,
    )
