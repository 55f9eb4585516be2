"""A flag is true when another criterion's value is within its bounds, both inclusive; a missing
value is never within them."""

from __future__ import annotations

from tests.spec.dataset import INDEX, tables

VALUES = tables(
    patients="""
    patient_id | sex    | date_of_birth | date_of_death
    1          | female | 1980-01-01    |
    2          | male   | 1980-01-01    |
    3          | female | 1980-01-01    |
    4          | male   | 1980-01-01    |
    5          | female | 1980-01-01    |
    6          | male   | 1980-01-01    |
    """,
    clinical_events="""
    patient_id | date       | code | value
    1          | 2024-01-01 | H1   | 40.0
    2          | 2024-01-01 | H1   | 48.0
    3          | 2024-01-01 | H1   | 58.0
    4          | 2024-01-01 | H1   | 58.5
    6          | 2024-01-01 | H1   |          # a test with no value
    """,
)


def flagged(flag: dict) -> dict:
    """A definition with the latest HbA1c and `flag` on it, for every patient."""
    return {
        "id": "flagged",
        "index_date": INDEX,
        "population": {"registered": False, "alive": False},
        "criteria": [{"name": "hba1c", "codeset": "hba1c", "returns": "last_value"}],
        "flags": [{"name": "flag", "of": "hba1c", **flag}],
        "columns": ["patient_id", "flag"],
    }


def test_at_most_includes_its_bound(spec_test):
    expected = [True, True, True, False, False, False]
    spec_test.cohort(
        VALUES,
        flagged({"at_most": 58}),
        [{"patient_id": p, "flag": f} for p, f in enumerate(expected, 1)],
    )


def test_at_least_includes_its_bound(spec_test):
    expected = [False, True, True, True, False, False]
    spec_test.cohort(
        VALUES,
        flagged({"at_least": 48}),
        [{"patient_id": p, "flag": f} for p, f in enumerate(expected, 1)],
    )


def test_both_bounds_make_a_range(spec_test):
    expected = [False, True, True, False, False, False]
    spec_test.cohort(
        VALUES,
        flagged({"at_least": 48, "at_most": 58}),
        [{"patient_id": p, "flag": f} for p, f in enumerate(expected, 1)],
    )
