"""Registration on the index date: a registration covers its first and last days, and a patient
with more than one is at the practice they joined last (then the lowest practice id)."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables

REGISTERED = tables(
    patients="""
    patient_id | sex    | date_of_birth | date_of_death
    1          | female | 1980-01-01    |
    2          | male   | 1980-01-01    |
    3          | female | 1980-01-01    |
    4          | male   | 1980-01-01    |
    5          | female | 1980-01-01    |
    6          | male   | 1980-01-01    |
    7          | female | 1980-01-01    |
    """,
    registrations="""
    patient_id | practice_id | start_date | end_date
    1          | 1           | 2000-01-01 | 2024-03-31     # ends on the index date
    2          | 1           | 2000-01-01 | 2024-03-30     # ended the day before
    3          | 2           | 2024-04-01 |                # starts the day after
    4          | 1           | 2000-01-01 |
    4          | 2           | 2020-01-01 |                # joined last
    5          | 3           | 2010-01-01 |
    5          | 2           | 2010-01-01 |                # joined the same day, lower id
    7          | 3           | 2000-01-01 |                # a practice with no borough
    """,
    practices="""
    practice_id | borough
    1           | Camden
    2           | Islington
    """,
)


def test_the_registered_population_and_the_practice_of_each_patient(spec_test):
    definition = {
        "id": "registered",
        "index_date": INDEX,
        "population": {"registered": True, "alive": False},
        "columns": ["patient_id", "practice_id"],
    }
    expected = [
        {"patient_id": 1, "practice_id": 1},
        {"patient_id": 4, "practice_id": 2},
        {"patient_id": 5, "practice_id": 2},
        {"patient_id": 7, "practice_id": 3},
    ]
    spec_test.cohort(REGISTERED, definition, expected)


def test_everyone_with_their_practice_and_its_borough_or_none(spec_test):
    definition = {
        "id": "boroughs",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "columns": ["patient_id", "practice_id", "borough"],
    }
    expected = [
        {"patient_id": 1, "practice_id": 1, "borough": "Camden"},
        {"patient_id": 2, "practice_id": None, "borough": None},
        {"patient_id": 3, "practice_id": None, "borough": None},
        {"patient_id": 4, "practice_id": 2, "borough": "Islington"},
        {"patient_id": 5, "practice_id": 2, "borough": "Islington"},
        {"patient_id": 6, "practice_id": None, "borough": None},
        {"patient_id": 7, "practice_id": 3, "borough": None},
    ]
    spec_test.cohort(REGISTERED, definition, expected)


UNKNOWN_PRACTICE = tables(
    patients="""
    patient_id | sex    | date_of_birth | date_of_death
    1          | female | 1980-01-01    |
    2          | male   | 1980-01-01    |
    3          | female | 1980-01-01    |
    """,
    registrations="""
    patient_id | practice_id | start_date | end_date
    1          |             | 2000-01-01 |                # registered, the practice not known
    2          | 4           | 2000-01-01 |
    2          |             | 1990-01-01 |                # an older spell with no practice
    3          |             | 2000-01-01 | 2020-01-01     # ended before
    """,
)
REGISTERED_ANYWHERE = {
    "id": "registered_anywhere",
    "index_date": INDEX,
    "population": {"registered": True, "alive": False},
    "columns": ["patient_id", "practice_id"],
}


def test_a_registration_whose_practice_is_not_known_still_counts(spec_test):
    # Data that do not say the practice (an OMOP CDM without care sites) still say who is
    # registered: being registered is not having a known practice.
    expected = [{"patient_id": 1, "practice_id": None}, {"patient_id": 2, "practice_id": 4}]
    spec_test.cohort(UNKNOWN_PRACTICE, REGISTERED_ANYWHERE, expected)
    spec_test.attrition(
        UNKNOWN_PRACTICE,
        REGISTERED_ANYWHERE,
        [(0, "patients with an index date", 3, 0), (1, "registered on the index date", 2, 1)],
    )
