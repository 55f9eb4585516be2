"""Evaluating ECL against the teaching releases, each result worked out by hand from the reviewed
source of the teaching edition (codesetlib/terminology/teaching_edition/source/snomedct_concepts.csv).

The diabetes part of the 2025 release, as its source gives it (one concept has two parents, one was
inactivated in 2025):

    73211009 Diabetes mellitus
      11687002 Gestational diabetes mellitus
      44054006 Diabetes mellitus type 2
        237599002, 313436004, 420279001, 422099009 (four kinds of type 2)
          422034002 Retinopathy due to type 2 diabetes mellitus (below 422099009 and 4855003)
      46635009 Diabetes mellitus type 1
        190372001 Type I diabetes mellitus maturity onset (inactive from 20250401)
        313435000 Type I diabetes mellitus without complication
      4855003 Diabetic retinopathy
        422034002 (again)
      609561005 Maturity-onset diabetes of the young
      8801005 Secondary diabetes mellitus
    73211009 is below 64572001 Disease, below 404684003 Clinical finding, below 138875005 (the root).
"""

from __future__ import annotations

import pytest

from codesetlib.codesets.ecl import EclError, EclEvaluator, evaluate_ecl
from codesetlib.core.errors import TerminologyError, UnknownCode
from codesetlib.terminology.base import InvalidIdentifier

TYPE_2 = {"44054006", "237599002", "313436004", "420279001", "422099009", "422034002"}
TYPE_1 = {"46635009", "313435000"}
DIABETES = {"73211009", "11687002", "4855003", "609561005", "8801005"} | TYPE_1 | TYPE_2
CHILDREN = {"11687002", "44054006", "46635009", "4855003", "609561005", "8801005"}
MELANOMA = {"93655004", "169999999108", "254730000", "93214005", "93225001"}

HAND_WORKED = {
    "73211009": {"73211009"},
    "<< 73211009 |Diabetes mellitus|": DIABETES,
    "< 73211009": DIABETES - {"73211009"},
    "<! 73211009": CHILDREN,
    "<<! 73211009": CHILDREN | {"73211009"},
    "> 44054006": {"73211009", "64572001", "404684003", "138875005"},
    ">> 44054006": {"44054006", "73211009", "64572001", "404684003", "138875005"},
    ">! 422034002": {"422099009", "4855003"},
    ">>! 422034002": {"422034002", "422099009", "4855003"},
    "<< 73211009 MINUS << 44054006": DIABETES - TYPE_2,
    "<< 73211009 AND << 4855003": {"4855003", "422034002"},
    "<< 4855003 AND << 44054006": {"422034002"},
    "<< 4855003 OR << 46635009": {"4855003", "422034002"} | TYPE_1,
    "(<< 73211009 MINUS << 44054006) OR 422034002": (DIABETES - TYPE_2) | {"422034002"},
    "<< 73211009 MINUS (<< 44054006 OR << 46635009 OR 4855003)": (
        {"73211009", "11687002", "609561005", "8801005"}
    ),
    # Non-melanoma skin cancer: the skin root less basal and squamous cell carcinoma and melanoma.
    "<< 372130007 MINUS (<< 254701007 OR << 254651007 OR << 93655004)": {
        "372130007",
        "253001006",
        "254702000",
        "269582000",
    },
    "<< 372130007 AND << 93655004": MELANOMA,
    "<< (44054006 OR 46635009)": TYPE_1 | TYPE_2,
    "<! (<! 73211009)": {"237599002", "313436004", "420279001", "422099009", "422034002"}
    | {"313435000"},
}


@pytest.mark.parametrize("expression", HAND_WORKED)
def test_hand_worked_expansions(expression: str, teaching) -> None:
    assert evaluate_ecl(expression, teaching) == HAND_WORKED[expression]


def test_long_syntax_selects_what_the_brief_syntax_does(teaching) -> None:
    long = "descendantOrSelfOf 73211009 MINUS descendantOrSelfOf 44054006"
    assert evaluate_ecl(long, teaching) == evaluate_ecl("<< 73211009 MINUS << 44054006", teaching)


def test_inactive_concepts_are_left_out_and_counted(teaching, teaching_2024) -> None:
    """190372001 was active in 2024 and inactive in 2025: the same expression selects it in the
    first and leaves it out of the second, saying so."""
    assert "190372001" in evaluate_ecl("<< 46635009", teaching_2024)
    evaluator = EclEvaluator(teaching)
    assert evaluator.evaluate("<< 46635009") == TYPE_1
    assert evaluator.evaluate("190372001 OR 313435000") == {"313435000"}
    assert evaluator.inactive_left_out == {"190372001"}
    # Inactive, it has no active is-a relationships: nothing above or below it either.
    assert evaluate_ecl("<< 190372001 OR >> 190372001", teaching) == frozenset()


def test_refset_members_are_the_active_ones(teaching) -> None:
    """The historical association refsets hold inactive concepts only, so every member is left out
    and counted; the refset itself must be one the release holds."""
    members = teaching.refset_members("900000000000526001")
    assert members
    evaluator = EclEvaluator(teaching)
    assert evaluator.evaluate("^ 900000000000526001 |REPLACED BY association reference set|") == (
        frozenset()
    )
    assert evaluator.inactive_left_out == members
    with pytest.raises(
        TerminologyError, match=r"^line 1, column 3: .* has no reference set 73211009"
    ):
        evaluate_ecl("^ 73211009", teaching)


def test_the_wildcard_is_every_active_concept(teaching) -> None:
    active = {c for c in teaching.codes() if teaching.concept(c).active}
    assert evaluate_ecl("*", teaching) == active
    assert evaluate_ecl("<< 138875005", teaching) == active  # every concept is below the root
    assert evaluate_ecl("* MINUS < 138875005", teaching) == {"138875005"}
    assert evaluate_ecl("< *", teaching) == active - {"138875005"}
    assert evaluate_ecl("<< 73211009 AND *", teaching) == DIABETES
    assert evaluate_ecl("<< 73211009 MINUS *", teaching) == frozenset()
    leaves = {c for c in active if not teaching.children(c)}
    assert evaluate_ecl("* MINUS > *", teaching) == leaves


def test_a_concept_the_release_lacks_is_named_where_it_is_written(teaching) -> None:
    with pytest.raises(UnknownCode) as unknown:
        evaluate_ecl("<< 73211009 OR\n  << 123456001 |Made up|", teaching, field="rules[R1].ecl")
    assert unknown.value.message == (
        "line 2, column 6: 123456001 |Made up| is not in snomedct-teaching-20250401"
    )
    assert unknown.value.field == "rules[R1].ecl"
    with pytest.raises(InvalidIdentifier, match=r"^line 1, column 4: 73211008 is not a valid"):
        evaluate_ecl("<< 73211008", teaching)


def test_attributes_that_must_share_a_group_are_refused(teaching) -> None:
    with pytest.raises(EclError, match="must share one relationship group"):
        evaluate_ecl("<< 404684003 : { 116680003 = 73211009, 116680003 = 4855003 }", teaching)
