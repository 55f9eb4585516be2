"""A rule may name a flag as well as a yes/no criterion."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_a_rule_on_a_flag_keeps_the_patients_whose_value_is_within_bounds(spec_test):
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
        1          | 2024-01-01 | H1   | 50.0
        2          | 2024-01-01 | H1   | 70.0
        4          | 2023-01-01 | H1   | 70.0
        4          | 2024-01-01 | H1   | 58.0
        """,
    )
    definition = {
        "id": "controlled",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [
            {
                "name": "hba1c_value",
                "codeset": "hba1c",
                "window": "13 months before",
                "returns": "last_value",
            }
        ],
        "flags": [{"name": "controlled", "of": "hba1c_value", "at_most": 58}],
        "rules": [{"action": "include", "criterion": "controlled"}],
        "columns": ["patient_id", "hba1c_value"],
    }
    expected = [
        {"patient_id": 1, "hba1c_value": 50.0},
        {"patient_id": 4, "hba1c_value": 58.0},
    ]
    spec_test.cohort(data, definition, expected)
