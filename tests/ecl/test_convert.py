"""A codeset as one ECL expression and back: every codeset in codesets/ written as ECL selects exactly
its codes in its release, and an expression read as rules writes back as itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesetlib.codesets.ecl import (
    EclError,
    codeset_ecl,
    codeset_from_ecl,
    evaluate_ecl,
    export_ecl,
    import_ecl,
    rules_from_ecl,
)
from codesetlib.codesets.expand import expand_rules, open_codeset_release
from codesetlib.codesets.files import available_codesets, load_codeset
from codesetlib.codesets.model import Codeset, CodesetRule
from codesetlib.core.errors import CodesetError, CodesetFormatError, UnknownCode

CODESETS = Path(__file__).resolve().parents[2] / "codesets"


@pytest.mark.parametrize("codeset_id", available_codesets(CODESETS))
def test_every_codeset_as_ecl_selects_its_codes(codeset_id: str) -> None:
    codeset = load_codeset(CODESETS / codeset_id)
    terminology = open_codeset_release(codeset)
    expansion = expand_rules(codeset, terminology)
    # Every code of the example codesets is active, so ECL (active concepts only) gives them all.
    assert all(row.active for row in expansion.codes)
    expression = codeset_ecl(codeset, terminology)
    assert evaluate_ecl(expression, terminology) == expansion.code_set
    # Read back as rules, the expression expands to the same codes and writes back as itself.
    rules = rules_from_ecl(expression, terminology)
    again = codeset.model_copy(update={"rules": rules, "decisions": []})
    assert expand_rules(again, terminology).code_set == expansion.code_set
    assert codeset_ecl(again, terminology) == expression


def _codeset(rules: list[dict], system: str = "snomedct") -> Codeset:
    return Codeset.model_validate(
        {
            "id": "example",
            "title": "Example",
            "version": "0.1.0",
            "status": "draft",
            "coding_system": system,
            "terminology_release": "snomedct-teaching-20250401",
            "purpose": "A test.",
            "rules": [{"id": f"R{n}", **rule} for n, rule in enumerate(rules, start=1)],
            "authors": [{"name": "A. Researcher"}],
        }
    )


DIABETES = {"action": "include", "concept": "73211009", "term": "Diabetes mellitus"}
TYPE_2 = {"action": "exclude", "concept": "44054006", "term": "Diabetes mellitus type 2"}
RETINOPATHY = {"action": "include", "code": "422034002", "term": "Retinopathy"}


def test_includes_are_ored_and_excludes_taken_away_in_order() -> None:
    assert codeset_ecl(_codeset([DIABETES])) == "<< 73211009 |Diabetes mellitus|"
    assert codeset_ecl(_codeset([DIABETES, TYPE_2])) == (
        "<< 73211009 |Diabetes mellitus| MINUS << 44054006 |Diabetes mellitus type 2|"
    )
    skin = {"action": "include", "concept": "372130007", "term": "Skin"}
    bcc = {"action": "exclude", "concept": "254701007", "term": "BCC"}
    assert codeset_ecl(_codeset([DIABETES, skin, TYPE_2, bcc])) == (
        "(<< 73211009 |Diabetes mellitus| OR << 372130007 |Skin|) MINUS "
        "(<< 44054006 |Diabetes mellitus type 2| OR << 254701007 |BCC|)"
    )
    # An include after an exclude brings codes back, so it cannot join the first includes.
    assert codeset_ecl(_codeset([DIABETES, TYPE_2, RETINOPATHY])) == (
        "(<< 73211009 |Diabetes mellitus| MINUS << 44054006 |Diabetes mellitus type 2|) OR "
        "422034002 |Retinopathy|"
    )
    # An exclude before any include takes nothing away.
    assert codeset_ecl(_codeset([TYPE_2, RETINOPATHY])) == "422034002 |Retinopathy|"


def test_ecl_and_refset_rules_are_written_as_they_select(teaching) -> None:
    rules = [
        {"action": "include", "ecl": "<< 4855003 OR << 46635009"},
        {"action": "include", "refset": "900000000000526001", "term": "REPLACED BY"},
        {"action": "exclude", "ecl": "<< 73211009 AND << 44054006"},
    ]
    assert codeset_ecl(_codeset(rules)) == (
        "(<< 4855003 OR << 46635009 OR ^ 900000000000526001 |REPLACED BY|) MINUS "
        "(<< 73211009 AND << 44054006)"
    )


def test_a_search_is_written_as_what_it_matches_in_a_release(teaching) -> None:
    search = {"action": "include", "search": "retinopathy", "within": "73211009"}
    codeset = _codeset([search])
    with pytest.raises(CodesetFormatError, match="rule R1 selects by search"):
        codeset_ecl(codeset)
    assert codeset_ecl(codeset, teaching) == (
        "4855003 |Diabetic retinopathy| OR 422034002 |Retinopathy due to type 2 diabetes mellitus|"
    )


def test_a_codeset_that_cannot_be_ecl_is_refused() -> None:
    with pytest.raises(CodesetFormatError, match="a icd10 codeset cannot be written as ECL"):
        codeset_ecl(_codeset([{"action": "include", "code": "C50.9", "term": "Breast"}], "icd10"))
    with pytest.raises(CodesetFormatError, match="includes nothing"):
        codeset_ecl(_codeset([TYPE_2]))


ROUND_TRIPS = {
    "<< 73211009": [("include", "concept", "73211009")],
    "73211009 |Diabetes mellitus|": [("include", "code", "73211009")],
    "<< 73211009 MINUS (<< 44054006 OR 4855003)": [
        ("include", "concept", "73211009"),
        ("exclude", "concept", "44054006"),
        ("exclude", "code", "4855003"),
    ],
    "(<< 73211009 MINUS << 44054006) OR 422034002 OR << 372130007": [
        ("include", "concept", "73211009"),
        ("exclude", "concept", "44054006"),
        ("include", "code", "422034002"),
        ("include", "concept", "372130007"),
    ],
    "^ 900000000000526001 MINUS 190372001": [
        ("include", "refset", "900000000000526001"),
        ("exclude", "code", "190372001"),
    ],
    # What is not one of those becomes one ECL rule, so that nothing changes meaning.
    "<< 73211009 AND << 4855003": [("include", "ecl", "<< 73211009 |Diabetes mellitus| AND ...")],
    "<< 73211009 OR (<< 4855003 MINUS 422034002)": [
        ("include", "concept", "73211009"),
        ("include", "ecl", "<< 4855003 |Diabetic retinopathy| MINUS ..."),
    ],
    "<< 73211009 MINUS (<< 44054006 MINUS 422034002)": [
        ("include", "concept", "73211009"),
        ("exclude", "ecl", "<< 44054006 |Diabetes mellitus type 2| MINUS ..."),
    ],
    "<! 73211009 MINUS >> 44054006": [
        ("include", "ecl", "<! 73211009"),
        ("exclude", "ecl", ">> 44054006"),
    ],
}


@pytest.mark.parametrize("expression", ROUND_TRIPS)
def test_ecl_to_rules_to_ecl_is_stable(expression: str, teaching) -> None:
    rules = rules_from_ecl(expression, teaching)
    kinds = [
        (r.action, kind, getattr(r, kind))
        for r in rules
        for kind in ("concept", "code", "refset", "ecl")
        if getattr(r, kind) is not None
    ]
    expected = ROUND_TRIPS[expression]
    assert [k[:2] for k in kinds] == [e[:2] for e in expected]
    for (_, kind, value), (_, _, wanted) in zip(kinds, expected, strict=True):
        if kind != "ecl":
            assert value == wanted
    codeset = _codeset([r.model_dump(exclude={"id"}, exclude_none=True) for r in rules])
    written = codeset_ecl(codeset)
    assert evaluate_ecl(written, teaching) == evaluate_ecl(expression, teaching)
    assert expand_rules(codeset, teaching).code_set == evaluate_ecl(expression, teaching)
    assert codeset_ecl(codeset.model_copy(update={"rules": rules_from_ecl(written)})) == written


def test_terms_come_from_the_release_or_the_expression(teaching) -> None:
    (rule,) = rules_from_ecl("<< 73211009 |Sugar|", teaching)
    assert rule.term == "Diabetes mellitus"
    (rule,) = rules_from_ecl("<< 73211009 |Sugar|")
    assert rule.term == "Sugar"
    with pytest.raises(EclError, match=r"^line 1, column 20: 73211009 has no \|term\|"):
        rules_from_ecl("<< 4855003 |DR| OR 73211009")
    with pytest.raises(UnknownCode, match=r"^line 1, column 4: code 123456001 is not in"):
        rules_from_ecl("<< 123456001", teaching)


def test_a_new_codeset_from_ecl_is_a_draft_with_its_rules_to_review(teaching) -> None:
    codeset = codeset_from_ecl(
        "<< 73211009 MINUS << 44054006",
        teaching,
        codeset_id="not_type_2",
        title="Diabetes other than type 2",
        author="A. Researcher",
    )
    assert (codeset.status, codeset.terminology_release) == ("draft", "snomedct-teaching-20250401")
    assert [r.model_dump(exclude_none=True) for r in codeset.rules] == [
        CodesetRule(
            id="R1", action="include", concept="73211009", term="Diabetes mellitus"
        ).model_dump(exclude_none=True),
        CodesetRule(
            id="R2", action="exclude", concept="44054006", term="Diabetes mellitus type 2"
        ).model_dump(exclude_none=True),
    ]
    assert codeset.open_decisions()


def test_export_and_import_through_a_file(tmp_path: Path, teaching) -> None:
    codeset = _codeset([DIABETES, TYPE_2, RETINOPATHY])
    text = export_ecl(codeset, expand_rules(codeset, teaching))
    assert text.endswith(") OR 422034002 |Retinopathy|\n")
    path = tmp_path / "diabetes.ecl"
    path.write_text(text, encoding="utf-8")
    rules = import_ecl(path, teaching)
    assert [(r.action, r.concept or r.code) for r in rules] == [
        ("include", "73211009"),
        ("exclude", "44054006"),
        ("include", "422034002"),
    ]
    path.write_text("<< 73211009\nOR << 4855003 AND 8801005\n", encoding="utf-8")
    with pytest.raises(EclError) as caught:
        import_ecl(path, teaching)
    assert caught.value.location_message().startswith(
        f"{path}: line 2, column 15: AND cannot follow here"
    )
    with pytest.raises(CodesetError, match="file not found"):
        import_ecl(tmp_path / "missing.ecl", teaching)
