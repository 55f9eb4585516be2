"""Refinements and refset members, on a release with attribute relationships (see `conftest`):

    254837009 Malignant neoplasm of breast   finding site 76752008 Breast,   morphology 86049000 Primary
    363406005 Malignant neoplasm of colon    finding site 71854001 Colon,    morphology 86049000 Primary
    399068003 Malignant tumor of prostate    finding site 41216001 Prostate, morphology 86049000 Primary
    128462008 Secondary malignant neoplastic disease                         morphology 14799000 Metastatic

Finding site and morphology are below 410662002 Concept model attribute; the body structures below
123037004 Body structure. Refset 999016171000230107 holds 254837009, 363406005, 44054006 and
190372001, which is inactive.
"""

from __future__ import annotations

import pytest

from codesetlib.codesets.ecl import EclError, EclEvaluator, evaluate_ecl
from codesetlib.core.errors import TerminologyError
from tests.ecl.conftest import BREAST, COLON, INACTIVE, PROSTATE, REFSET

BREAST_CA, COLON_CA, PROSTATE_CA, SECONDARY = "254837009", "363406005", "399068003", "128462008"
PRIMARY_SITE = {BREAST_CA, COLON_CA, PROSTATE_CA}

HAND_WORKED = {
    "<< 363346000 : 363698007 = 76752008": {BREAST_CA},
    "<< 363346000 : 363698007 |Finding site| = << 123037004 |Body structure|": PRIMARY_SITE,
    "<< 363346000 : 116676008 = 14799000": {SECONDARY},
    "<< 404684003 : 116676008 = 86049000, 363698007 = 71854001": {COLON_CA},
    "<< 404684003 : 116676008 = 86049000 AND 363698007 = (71854001 OR 41216001)": {
        COLON_CA,
        PROSTATE_CA,
    },
    "<< 404684003 : 363698007 = 76752008 OR 363698007 = 41216001": {BREAST_CA, PROSTATE_CA},
    "<< 404684003 : (363698007 = 76752008 OR 116676008 = 14799000), 116676008 = *": {
        BREAST_CA,
        SECONDARY,
    },
    # At least one finding site that is not breast.
    "<< 363346000 : 363698007 != 76752008": {COLON_CA, PROSTATE_CA},
    "<< 363346000 : << 410662002 |Concept model attribute| = 86049000": PRIMARY_SITE,
    "<< 363346000 : < 410662002 = 14799000": {SECONDARY},
    "<< 363346000 : * = 14799000": {SECONDARY},
    "* : 116676008 = *": PRIMARY_SITE | {SECONDARY},
    "(<< 64572001 : 363698007 = *) MINUS << 363406005": {BREAST_CA, PROSTATE_CA},
    # The reverse flag: the finding sites of the cancers.
    "* : R 363698007 = << 363346000": {BREAST, COLON, PROSTATE},
    "< 123037004 : R 363698007 = 254837009": {BREAST},
    "<< 123037004 : R 363698007 != 254837009": {COLON, PROSTATE},
    # A group of one attribute, or of attributes joined by OR, holds when its attributes do.
    "<< 363346000 : { 363698007 = 76752008 }": {BREAST_CA},
    "<< 363346000 : { 363698007 = 76752008 OR 116676008 = 14799000 }": {BREAST_CA, SECONDARY},
    "(<< 363346000 : 116676008 = 86049000) MINUS 363406005": {BREAST_CA, PROSTATE_CA},
    # Members of the refset: its inactive member is left out.
    f"^ {REFSET}": {BREAST_CA, COLON_CA, "44054006"},
    f"^ {REFSET} AND << 363346000": {BREAST_CA, COLON_CA},
    f"<< 363346000 MINUS ^ {REFSET}": {"363346000", "372087000", PROSTATE_CA, SECONDARY},
    f"^ {REFSET} : 363698007 = 71854001": {COLON_CA},
    "^ (<< 138875005 MINUS << 404684003)": {BREAST_CA, COLON_CA, "44054006"},
    f"> ^ {REFSET}": {"138875005", "404684003", "64572001", "363346000", "73211009"},
}


@pytest.mark.parametrize("expression", HAND_WORKED)
def test_hand_worked_refinements_and_members(expression: str, attributes) -> None:
    assert evaluate_ecl(expression, attributes) == HAND_WORKED[expression]


def test_an_inactive_member_is_left_out_and_counted(attributes) -> None:
    evaluator = EclEvaluator(attributes)
    evaluator.evaluate(f"^ {REFSET}")
    assert evaluator.inactive_left_out == {INACTIVE}


def test_a_concept_that_is_no_refset_is_refused_where_it_is_named(attributes) -> None:
    with pytest.raises(
        TerminologyError, match=r"^line 1, column 19: .*has no reference set 73211009"
    ):
        evaluate_ecl("<< 363346000 OR ^ 73211009 |Diabetes mellitus|", attributes)


def test_attributes_that_must_share_a_group_are_not_guessed_at(attributes) -> None:
    with pytest.raises(EclError) as refused:
        evaluate_ecl("<< 363346000 : { 363698007 = 71854001, 116676008 = 86049000 }", attributes)
    assert refused.value.message.startswith(
        "{ 363698007 = 71854001, 116676008 = 86049000 }: attributes that must share one "
        "relationship group are not evaluated"
    )
