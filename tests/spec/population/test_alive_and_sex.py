"""Alive on the index date (a death on that day is not alive), and the sexes allowed."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables

PEOPLE = tables(
    patients="""
    patient_id | sex    | date_of_birth | date_of_death | imd_quintile
    1          | female | 1940-01-01    | 2024-03-31    | 2       # died on the index date
    2          | male   | 1980-01-01    | 2024-04-01    | 5       # died the day after
    3          | female | 2000-06-01    |               |
    4          | male   | 1950-01-01    | 2020-01-01    | 1
    """,
)


def test_alive_means_not_yet_dead_on_the_index_date(spec_test):
    definition = {
        "id": "alive",
        "index_date": INDEX,
        "population": {"registered": False, "alive": True},
        "columns": ["patient_id"],
    }
    spec_test.cohort(PEOPLE, definition, [{"patient_id": 2}, {"patient_id": 3}])


def test_the_sexes_allowed_with_age_band_and_deprivation(spec_test):
    definition = {
        "id": "women",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False, "sex": ["female"]},
        "columns": ["patient_id", "sex", "age_band", "imd_quintile"],
    }
    expected = [
        {"patient_id": 1, "sex": "female", "age_band": "80+", "imd_quintile": 2},
        {"patient_id": 3, "sex": "female", "age_band": "18-39", "imd_quintile": None},
    ]
    spec_test.cohort(PEOPLE, definition, expected)
