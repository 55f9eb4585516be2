"""A dataset need hold only the tables a definition reads: patients and clinical events always,
registrations only to ask who is registered or at which practice."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables


def test_a_dataset_without_registrations_runs_a_definition_that_does_not_ask_for_them(spec_test):
    data = tables(
        patients="""
        patient_id | sex    | date_of_birth | date_of_death
        1          | female | 1980-01-01    |
        2          | male   | 1980-01-01    |
        """,
        clinical_events="""
        patient_id | date       | code | value
        1          | 2020-01-01 | D1   |
        """,
    )
    definition = {
        "id": "no_registrations",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [{"name": "diabetes", "codeset": "diabetes"}],
        "rules": [{"action": "include", "criterion": "diabetes"}],
        "columns": ["patient_id"],
    }
    spec_test.cohort({**data, "registrations": None}, definition, [{"patient_id": 1}])
