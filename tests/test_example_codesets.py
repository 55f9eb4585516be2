"""The example codesets under codesets/: each loads, matches its rules, lints clean and is immutable.

These run against the shipped teaching terminology, so they check the committed files as a reviewer
would: a change to a rule without `codeset expand --write`, or an edit to a published version, fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codesetlib.codesets.diff import diff_versions
from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import HISTORY_DIR, available_codesets, load_codeset, read_codes
from codesetlib.codesets.lint import codes_by_codeset, lint_codeset
from codesetlib.codesets.model import Codeset, content_hash
from codesetlib.terminology import open_release

CODESETS = Path(__file__).resolve().parent.parent / "codesets"
EXAMPLES = available_codesets(CODESETS)
# Every version folder: the current one of each codeset and any archived under history/.
VERSION_FOLDERS = [
    folder
    for codeset_id in EXAMPLES
    for folder in [
        CODESETS / codeset_id,
        *sorted((CODESETS / codeset_id / HISTORY_DIR).glob("*/")),
    ]
]

MALIGNANT = "363346000"
NMSC_ROOTS = ["254701007", "254651007", "254702000", "269582000"]
CARCINOMA_IN_SITU = "109355002"
SKIN_CANCER_UNSPECIFIED = "372130007"  # excluded alone (rule R6), not with its descendants


def test_the_examples_are_there() -> None:
    assert "cancer_diagnosis" in EXAMPLES
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("folder", VERSION_FOLDERS, ids=lambda p: str(p.relative_to(CODESETS)))
def test_codes_csv_is_the_expansion_of_the_rules(folder: Path) -> None:
    codeset = load_codeset(folder)
    assert read_codes(folder) == expand_rules(codeset).codes


@pytest.mark.parametrize("folder", VERSION_FOLDERS, ids=lambda p: str(p.relative_to(CODESETS)))
def test_published_versions_hash_to_their_recorded_content_hash(folder: Path) -> None:
    codeset = load_codeset(folder)
    assert codeset.status == "published"
    assert codeset.published is not None
    assert content_hash(codeset, read_codes(folder)) == codeset.published.content_hash


@pytest.mark.parametrize("codeset_id", EXAMPLES)
def test_lint_reports_no_warnings_or_errors(codeset_id: str) -> None:
    findings = lint_codeset(CODESETS / codeset_id, codes_by_codeset(CODESETS))
    assert [f.line() for f in findings if f.severity != "info"] == []


@pytest.mark.parametrize("codeset_id", EXAMPLES)
def test_metadata_is_complete(codeset_id: str) -> None:
    codeset = load_codeset(CODESETS / codeset_id)
    for field in (
        "clinical_intent",
        "context_of_use",
        "population",
        "inclusion_criteria",
        "exclusion_criteria",
        "methodology",
        "known_limitations",
    ):
        assert getattr(codeset, field), field
    assert codeset.references and codeset.changelog
    assert all(rule.note for rule in codeset.rules)
    decided = {d.about for d in codeset.decisions}
    assert {rule.id for rule in codeset.rules} <= decided
    assert any(r.signed_off for r in codeset.reviewers)


def test_schema_file_is_the_model_schema() -> None:
    written = json.loads((CODESETS / "codeset.schema.json").read_text(encoding="utf-8"))
    assert written == Codeset.model_json_schema()


def _with_descendants(terminology, codes: list[str]) -> set[str]:
    return set().union(*({code} | terminology.descendants_of(code) for code in codes))


@pytest.mark.parametrize("release", ["snomedct-teaching-20240401", "snomedct-teaching-20250401"])
def test_cancer_diagnosis_is_malignancy_without_nmsc(release: str) -> None:
    """Computed from the terminology: no NMSC, and every other invasive malignancy, in both releases
    (the second adds NMSC descendants, which the rules must exclude without a new rule)."""
    terminology = open_release(release)
    codeset = load_codeset(CODESETS / "cancer_diagnosis")
    codes = expand_rules(codeset, terminology).code_set
    nmsc = _with_descendants(terminology, NMSC_ROOTS)
    in_situ = _with_descendants(terminology, [CARCINOMA_IN_SITU])
    malignant = _with_descendants(terminology, [MALIGNANT])
    assert not codes & nmsc
    assert codes == malignant - nmsc - in_situ - {SKIN_CANCER_UNSPECIFIED}


def test_cancer_diagnosis_keeps_melanoma_and_secondary_cancer() -> None:
    codes = {r.code for r in read_codes(CODESETS / "cancer_diagnosis")}
    assert {"93655004", "372244006", "128462008", "94381002"} <= codes


def test_diabetes_minor_version_records_the_rule_change() -> None:
    folder = CODESETS / "diabetes"
    old = load_codeset(folder / HISTORY_DIR / "1.0.0")
    new = load_codeset(folder)
    assert (old.version, new.version) == ("1.0.0", "1.1.0")
    diff = diff_versions(old, new)
    assert [r for r in diff.rules_removed if "315051004" in r] != []
    assert [(c.code, c.change, c.cause) for c in diff.changes] == [
        ("315051004", "removed", "rule change")
    ]


def test_readme_table_gives_each_codeset_and_its_count() -> None:
    readme = (CODESETS / "README.md").read_text(encoding="utf-8")
    for codeset_id in EXAMPLES:
        count = len(read_codes(CODESETS / codeset_id))
        row = re.search(rf"^\| `{codeset_id}` \|.*\| {count} \|$", readme, re.M)
        assert row, f"README.md has no table row for {codeset_id} with {count} codes"
