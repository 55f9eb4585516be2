"""The shared concept lists agree with the codesets whose rules they name."""

from pathlib import Path

from codesetlib.codesets.concept_lists import NON_MELANOMA_SKIN_CANCER
from codesetlib.codesets.files import load_codeset

CODESETS = Path(__file__).resolve().parent.parent / "codesets"


def test_cancer_diagnosis_excludes_each_nmsc_concept_with_its_descendants():
    rules = load_codeset(CODESETS / "cancer_diagnosis").rules
    excluded = {r.concept for r in rules if r.action == "exclude" and r.concept and r.descendants}
    assert set(NON_MELANOMA_SKIN_CANCER) <= excluded
    assert len(set(NON_MELANOMA_SKIN_CANCER)) == len(NON_MELANOMA_SKIN_CANCER)
