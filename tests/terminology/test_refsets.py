"""Reference sets, attribute relationships and preferred terms, as ECL and codesets ask for them."""

import re
from pathlib import Path

import pytest

from codesetlib.core.errors import TerminologyError
from codesetlib.terminology.dmd import DMD
from codesetlib.terminology.snomedct import SnomedCT
from tests.fixtures.rf2 import (
    ASSOCIATED_MORPHOLOGY,
    CONCEPTS,
    DIABETES_REFSET,
    FINDING_SITE,
    write_release,
)
from tests.terminology.test_dmd import write_dmd

REPLACED_BY = "900000000000526001"


def test_a_simple_refset_lists_its_active_members(terminology):
    assert terminology.refsets() == {
        DIABETES_REFSET: ""
    }  # the refset concept is not in the release
    assert terminology.refset_members(DIABETES_REFSET) == {"73211009", "44054006", "46635009"}


def test_a_refset_named_by_a_concept_of_the_release_has_its_term(tmp_path: Path):
    refset = {DIABETES_REFSET: ("Diabetes cluster reference set", ("138875005",))}
    release = SnomedCT(write_release(tmp_path, concepts=CONCEPTS | refset))
    assert release.refsets()[DIABETES_REFSET] == "Diabetes cluster reference set"


def test_an_unknown_refset_is_an_error_naming_it(terminology):
    named = re.escape("has no reference set 73211009 |Diabetes mellitus|")
    with pytest.raises(TerminologyError, match=named):
        terminology.refset_members("73211009")
    with pytest.raises(TerminologyError, match="snomedct-test-20240401 has no reference set 12345"):
        terminology.refset_members("12345")


def test_an_association_refset_is_a_refset_of_its_inactive_members(tmp_path: Path):
    release = SnomedCT(write_release(tmp_path, inactive={"363406005": (REPLACED_BY, "254837009")}))
    assert release.refset_members(REPLACED_BY) == {"363406005"}
    assert set(release.refsets()) == {DIABETES_REFSET, REPLACED_BY}


def test_with_attribute_finds_the_concepts_with_a_finding_site(terminology):
    pancreas, breast, prostate = "15776009", "76752008", "41216001"
    assert terminology.with_attribute([FINDING_SITE], [pancreas]) == {"46635009", "44054006"}
    assert terminology.with_attribute([FINDING_SITE], [breast, prostate]) == {
        "254837009",
        "399068003",
    }
    # The morphology of 363406005 names breast too, but it is another attribute.
    assert terminology.with_attribute([ASSOCIATED_MORPHOLOGY], [breast]) == {"363406005"}
    assert terminology.with_attribute([FINDING_SITE, ASSOCIATED_MORPHOLOGY], [breast]) == {
        "254837009",
        "363406005",
    }
    assert terminology.with_attribute([FINDING_SITE], []) == frozenset()
    assert terminology.with_attribute(["999999999"], [breast]) == frozenset()


def test_is_a_is_an_attribute_too(terminology):
    assert terminology.with_attribute(["116680003"], ["73211009"]) == terminology.children(
        "73211009"
    )


def test_attribute_values_are_the_destinations(terminology):
    diabetes = terminology.descendants_of("73211009")
    assert terminology.attribute_values(diabetes, [FINDING_SITE]) == {"15776009"}
    assert terminology.attribute_values(["254837009", "399068003"], [FINDING_SITE]) == {
        "76752008",
        "41216001",
    }
    assert terminology.attribute_values(["254837009"], [ASSOCIATED_MORPHOLOGY]) == frozenset()


def test_an_inactive_concepts_attributes_are_not_active(tmp_path: Path):
    release = SnomedCT(write_release(tmp_path, inactive={"46635009": (REPLACED_BY, "73211009")}))
    assert release.with_attribute([FINDING_SITE], ["15776009"]) == {"44054006"}


def test_a_relationship_to_a_concept_the_release_lacks_is_refused(tmp_path: Path):
    release = write_release(tmp_path)
    path = next((release / "Snapshot" / "Terminology").glob("sct2_Relationship*"))
    path.write_text(path.read_text().replace("\t254837009\t76752008\t", "\t254837009\t22298006\t"))
    with pytest.raises(TerminologyError, match="relationship row names concept 22298006") as raised:
        SnomedCT(release)
    assert raised.value.path == str(path) and raised.value.field == "destinationId"


def test_the_gb_preferred_synonym_is_the_term(tmp_path: Path):
    release = SnomedCT(
        write_release(tmp_path, gb_terms={"399068003": "Malignant tumour of prostate"})
    )
    assert release.concept("399068003").term == "Malignant tumour of prostate"
    # Both synonyms are searched.
    assert [c.code for c in release.search("tumor prostate")] == ["399068003"]
    assert [c.code for c in release.search("tumour prostate")] == ["399068003"]


def test_the_nhs_realm_language_refset_comes_before_us_english(tmp_path: Path):
    release = SnomedCT(
        write_release(
            tmp_path,
            gb_terms={"399068003": "Malignant tumour of prostate"},
            language_refset="999001261000000100",
        )
    )
    assert release.concept("399068003").term == "Malignant tumour of prostate"


def test_systems_without_refsets_or_attributes_say_so(tmp_path: Path):
    dmd = DMD(write_dmd(tmp_path))
    assert dmd.refsets() == {}
    assert dmd.with_attribute(["1"], ["2"]) == frozenset()
    assert dmd.attribute_values(["109081006"], ["1"]) == frozenset()
    with pytest.raises(TerminologyError, match="dmd-nhsbsa-20240401 has no reference set 42"):
        dmd.refset_members("42")
