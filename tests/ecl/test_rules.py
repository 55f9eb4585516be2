"""`ecl:` and `refset:` rules: read with the codeset, expanded beside the other rule kinds with what
each rule matched, added and removed, and linted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from codesetlib.codesets.ecl import EclError
from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset, write_codes
from codesetlib.codesets.interchange import export_codeset
from codesetlib.codesets.lint import lint_codeset
from codesetlib.codesets.model import CodesetRule, content_hash
from codesetlib.core.errors import CodesetFormatError, TerminologyError
from tests.conftest import write_codeset
from tests.ecl.conftest import INACTIVE, REFSET

CODESET = """\
id: {id}
title: Cancer by ECL
version: 0.1.0
status: draft
coding_system: snomedct
terminology_release: snomedct-test-20240701
purpose: Cancers found by their site, and the screening cluster.
rules:
{rules}
authors:
  - name: A. Researcher
"""
RULES = f"""\
  - id: R1
    action: include
    ecl: "<< 363346000 |Malignant neoplastic disease| : 116676008 |Associated morphology| = 86049000"
  - id: R2
    action: include
    refset: "{REFSET}"
    term: Breast cancer screening codes simple reference set
  - id: R3
    action: exclude
    ecl: "<< 363346000 : 363698007 = 71854001 |Colon structure|"
"""


def _folder(root: Path, rules: str = RULES, codeset_id: str = "cancer_ecl") -> Path:
    return write_codeset(root, codeset_id, CODESET.format(id=codeset_id, rules=rules))


def test_each_rule_reports_what_it_matched_added_and_removed(tmp_path: Path, attributes) -> None:
    expansion = expand_rules(load_codeset(_folder(tmp_path)), attributes)
    assert [(r.code, r.rule) for r in expansion.codes] == [
        ("44054006", "R2"),
        ("254837009", "R1"),
        ("399068003", "R1"),
    ]
    effects = [(len(e.matched), len(e.added), len(e.removed)) for e in expansion.effects]
    # R1: the three cancers with a primary morphology; R2: the refset's three active members, one of
    # them (colon) already in; R3: colon, removed.
    assert effects == [(3, 3, 0), (3, 1, 0), (1, 0, 1)]
    assert [e.rule.target for e in expansion.effects] == [
        "ECL << 363346000 |Malignant neoplastic disease| : 116676008 |Associated morphology| = 86049000",
        f"members of refset {REFSET} |Breast cancer screening codes simple reference set|",
        "ECL << 363346000 : 363698007 = 71854001 |Colon structure|",
    ]


def test_ecl_that_does_not_parse_is_refused_naming_the_file_rule_and_place(
    tmp_path: Path, attribute_release_id: str
) -> None:
    rules = (
        '  - id: R1\n    action: include\n    ecl: "<< 363346000 OR << 73211009 AND << 44054006"\n'
    )
    folder = _folder(tmp_path, rules)
    with pytest.raises(EclError) as refused:
        lint_codeset(folder)
    assert refused.value.location_message().startswith(
        f"{folder / 'codeset.yaml'}: rules[R1].ecl: line 1, column 29: AND cannot follow here: AND "
        "and OR are not mixed without parentheses"
    )


def test_a_rule_names_one_target_and_a_refset_its_term() -> None:
    with pytest.raises(
        ValidationError, match="exactly one of concept, search, code, ecl or refset"
    ):
        CodesetRule(id="R1", action="include", ecl="<< 73211009", concept="73211009", term="DM")
    with pytest.raises(ValidationError, match="a concept, code or refset rule gives the term"):
        CodesetRule(id="R1", action="include", refset=REFSET)
    rule = CodesetRule(id="R1", action="include", ecl="<<  73211009\n  MINUS << 44054006")
    assert rule.target == "ECL << 73211009 MINUS << 44054006"


def test_a_refset_the_release_lacks_is_an_error_naming_the_file(
    tmp_path: Path, attribute_release_id: str
) -> None:
    rules = "  - id: R1\n    action: include\n    refset: '73211009'\n    term: Diabetes mellitus\n"
    folder = _folder(tmp_path, rules)
    with pytest.raises(TerminologyError) as refused:
        lint_codeset(folder)
    assert refused.value.location_message() == (
        f"{folder / 'codeset.yaml'}: rules[R1].refset: {attribute_release_id} has no reference set "
        "73211009 |Diabetes mellitus|: no refset file of the release holds a member of it"
    )


def test_lint_names_inactive_concepts_terms_that_differ_and_members_left_out(
    tmp_path: Path, attribute_release_id: str
) -> None:
    rules = RULES + (
        f'  - id: R4\n    action: exclude\n    ecl: "{INACTIVE} OR 44054006 |Diabetes|"\n'
    )
    folder = _folder(tmp_path, rules)
    write_codes(folder, expand_rules(load_codeset(folder)).codes)
    findings = lint_codeset(folder)
    mine = {
        (f.check, f.rule, f.code)
        for f in findings
        if f.check in {"ecl-inactive-concept", "ecl-term-differs", "inactive-members-left-out"}
    }
    assert mine == {
        ("inactive-members-left-out", "R2", None),
        ("ecl-inactive-concept", "R4", INACTIVE),
        ("ecl-term-differs", "R4", "44054006"),
    }
    by_check = {f.check: f for f in findings}
    assert by_check["ecl-term-differs"].message == (
        f"44054006 is written |Diabetes| but is |Type 2 diabetes mellitus| in {attribute_release_id}"
    )
    assert by_check["inactive-members-left-out"].message.startswith(
        f"1 refset member(s) inactive in {attribute_release_id} are left out (e.g. {INACTIVE} |"
    )
    assert by_check["ecl-inactive-concept"].fix == "use its replacement (SAME_AS 46635009)"


def test_the_content_hash_covers_a_rules_ecl(tmp_path: Path) -> None:
    """Versions published before `ecl` and `refset` rules existed keep their hash (the example
    codesets' tests check that); a version with such a rule is hashed with what it says."""
    codeset = load_codeset(_folder(tmp_path))
    changed = codeset.model_copy(
        update={
            "rules": [
                codeset.rules[0].model_copy(update={"ecl": "<< 363346000"}),
                *codeset.rules[1:],
            ]
        }
    )
    assert content_hash(codeset, []) != content_hash(changed, [])


def test_an_atlas_concept_set_cannot_hold_an_ecl_rule(tmp_path: Path, attributes) -> None:
    codeset = load_codeset(_folder(tmp_path))
    with pytest.raises(CodesetFormatError, match="rule R1 selects by ecl, which an ATLAS concept"):
        export_codeset(codeset, expand_rules(codeset, attributes), "atlas")
