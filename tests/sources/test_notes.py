"""A source's notes read as sentences, with the counted noun agreeing with the count."""

from __future__ import annotations

import pytest

from codesetlib.data.sources import SourceNote


@pytest.mark.parametrize(
    ("table", "what", "rows", "sentence"),
    [
        (
            "clinical_events",
            "measurement rows of a person_id not in person: kept, but in no cohort",
            1,
            "clinical_events: 1 measurement row of a person_id not in person: kept, but in no cohort",
        ),
        (
            "clinical_events",
            "measurement rows of a person_id not in person: kept, but in no cohort",
            2,
            "clinical_events: 2 measurement rows of a person_id not in person: kept, but in no cohort",
        ),
        (
            "patients",
            "persons with no day_of_birth: born on the 1st",
            1,
            "patients: 1 person with no day_of_birth: born on the 1st",
        ),
        (
            "patients",
            "death records of a person_id not in person: not read",
            1,
            "patients: 1 death record of a person_id not in person: not read",
        ),
        (
            "registrations",
            "observation periods of a person with no care_site_id: practice unknown",
            1_234,
            "registrations: 1,234 observation periods of a person with no care_site_id: "
            "practice unknown",
        ),
        (
            "medications",
            "rows coded in ICD-10, which no codeset for medications can match",
            1,
            "medications: 1 row coded in ICD-10, which no codeset for medications can match",
        ),
    ],
)
def test_a_note_counts_one_row_in_the_singular_and_more_in_the_plural(table, what, rows, sentence):
    assert SourceNote(table, what, rows).sentence() == sentence


def test_only_the_counted_noun_changes():
    """A later plural (`rows` after the counted noun) is the reader's words, kept as written."""
    note = SourceNote("patients", "patients with no rows in registrations", 1)
    assert note.sentence() == "patients: 1 patient with no rows in registrations"
