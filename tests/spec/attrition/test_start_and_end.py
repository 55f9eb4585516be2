"""Where attrition starts (the patients with an index date) and where it can end (nobody)."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_with_a_per_patient_index_date_the_count_starts_at_those_who_have_one(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        3          | female | 1980-01-01    |
        """,
        registrations="""
        patient_id | practice_id | start_date | end_date
        1          | 1           | 2000-01-01 |
        2          | 1           | 2021-01-01 |               # after the diagnosis
        3          | 1           | 2000-01-01 |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2020-01-01 | D1   |
        2          | 2020-01-01 | D1   |
        """,
    )
    definition = {
        "id": "from_diagnosis",
        "index_date": {"first_event_of": "diabetes"},
        "population": {"registered": True, "alive": False},
    }
    expected = [
        (0, "patients with an index date", 2, 0),
        (1, "registered on the index date", 1, 1),
    ]
    spec_test.attrition(data, definition, expected)


def test_a_step_that_excludes_everyone_leaves_zeros_after_it(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1950-01-01    | 2020-01-01
        2          | male   | 1950-01-01    | 2021-01-01
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2010-01-01 | D1   |
        """,
    )
    definition = {
        "id": "nobody",
        "index_date": INDEX,
        "population": {"registered": False, "alive": True},
        "criteria": [{"name": "diabetes", "codeset": "diabetes"}],
        "rules": [{"action": "include", "criterion": "diabetes"}],
    }
    expected = [
        (0, "patients with an index date", 2, 0),
        (1, "alive on the index date", 0, 2),
        (2, "include diabetes", 0, 0),
    ]
    spec_test.attrition(data, definition, expected)
