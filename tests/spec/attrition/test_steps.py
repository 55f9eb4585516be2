"""The attrition table: the patients at the start and after each step, in the order the steps apply
(registered, alive, age, sex, then the rules as written), and how many each step excluded."""

from __future__ import annotations

from tests.spec.dataset import INDEX, STANDARD, tables

ATTRITION = {
    "id": "attrition",
    "index_date": INDEX,
    "population": {"age_min": 18},
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes"},
        {
            "name": "metformin",
            "codeset": "metformin",
            "table": "medications",
            "window": "12 months before",
        },
    ],
    "rules": [
        {"action": "include", "criterion": "diabetes"},
        {"action": "exclude", "criterion": "metformin"},
    ],
}
# Start 6; registered: 1, 2, 5, 6; all alive; adults: 1, 5, 6; diabetes: all; no metformin: 5, 6.
ATTRITION_EXPECTED = [
    (0, "patients with an index date", 6, 0),
    (1, "registered on the index date", 4, 2),
    (2, "alive on the index date", 4, 0),
    (3, "aged 18- on the index date", 3, 1),
    (4, "include diabetes", 3, 0),
    (5, "exclude metformin", 2, 1),
]


def test_every_step_of_a_cohort_with_population_and_rules(spec_test):
    spec_test.attrition(STANDARD, ATTRITION, ATTRITION_EXPECTED)


def test_age_comes_before_sex_and_a_rule_is_shown_by_its_description(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1974-01-01    |
        2          | male   | 1974-01-01    |
        3          | female | 1954-01-01    |                # 70
        4          | female | 1984-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2020-01-01 | D1   |
        2          | 2020-01-01 | D1   |
        3          | 2020-01-01 | D1   |
        """,
    )
    definition = {
        "id": "women_with_diabetes",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False, "age_max": 65, "sex": ["female"]},
        "criteria": [{"name": "diabetes", "codeset": "diabetes"}],
        "rules": [{"action": "include", "criterion": "diabetes", "description": "has diabetes"}],
    }
    expected = [
        (0, "patients with an index date", 4, 0),
        (1, "aged 0-65 on the index date", 3, 1),
        (2, "sex female", 2, 1),
        (3, "has diabetes", 1, 1),
    ]
    spec_test.attrition(data, definition, expected)
