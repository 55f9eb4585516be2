"""Lint findings on small codesets over the test release, each worked out by hand."""

from pathlib import Path

import pytest
from stdnum import verhoeff

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset, read_codes, write_codes
from codesetlib.codesets.lint import identifier_problem, lint_codeset
from codesetlib.codesets.versions import publish
from tests.conftest import CODESET_YAML, write_codeset
from tests.fixtures.rf2 import CONCEPTS, write_release


def extension_id(item: int) -> str:
    base = f"{item}999999910"
    return base + verhoeff.calc_check_digit(base)


HISTORY_OF = extension_id(1)


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test concepts plus a 'history of' concept under the cancer root (as careless data has it),
    with 363406005 inactive and replaced by 254837009."""
    concepts = dict(CONCEPTS)
    concepts[HISTORY_OF] = ("History of malignant neoplasm", ("363346000",))
    root = tmp_path / "releases"
    root.mkdir()
    write_release(
        root,
        date="20240501",
        concepts=concepts,
        inactive={"363406005": ("900000000000526001", "254837009")},
    )
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(root))
    return "snomedct-test-20240501"


def codeset_folder(
    tmp_path: Path, release: str, *, rules: str | None = None, extra: str = ""
) -> Path:
    text = CODESET_YAML.format(id="cancer").replace("snomedct-test-20240401", release)
    if rules is not None:
        start, end = text.index("rules:\n"), text.index("authors:")
        text = text[:start] + "rules:\n" + rules + text[end:]
    folder = write_codeset(tmp_path / "codesets", text=text + extra)
    write_codes(folder, expand_rules(load_codeset(folder)).codes)
    return folder


def checks(findings) -> list[tuple[str, str | None]]:
    return sorted((f.check, f.code or f.rule) for f in findings)


def test_a_clean_codeset_has_no_findings(tmp_path, release):
    rules = (
        '  - {id: R1, action: include, concept: "363346000", term: Malignant neoplastic disease}\n'
        f'  - {{id: R2, action: exclude, concept: "{HISTORY_OF}", term: History of}}\n'
        '  - {id: R3, action: exclude, concept: "128462008", term: Secondary}\n'
    )
    assert lint_codeset(codeset_folder(tmp_path, release, rules=rules)) == []


def test_children_no_rule_or_decision_covers_are_unreviewed(tmp_path, release):
    rules = (
        '  - {id: R1, action: include, concept: "363346000", term: Malignant, descendants: false}\n'
    )
    found = lint_codeset(codeset_folder(tmp_path, release, rules=rules))
    assert checks(found) == sorted(
        [
            ("unreviewed-descendant", c)
            for c in ["372087000", "254837009", "399068003", "128462008", HISTORY_OF]
        ]
        + [("decision-about-nothing", None)]
    )
    assert all(f.severity == "warning" for f in found)


def test_an_inactive_code_names_its_replacement(tmp_path, release):
    rules = '  - {id: R1, action: include, code: "363406005", term: Malignant neoplasm of colon}\n'
    found = [
        f
        for f in lint_codeset(codeset_folder(tmp_path, release, rules=rules))
        if f.check == "inactive-code"
    ]
    assert len(found) == 1
    assert found[0].severity == "error"
    assert found[0].fix == "use its replacement (REPLACED_BY 254837009)"


def test_rules_that_match_nothing_change_nothing_or_repeat(tmp_path, release):
    rules = (
        '  - {id: R1, action: include, concept: "363346000", term: Malignant}\n'
        '  - {id: R2, action: include, concept: "254837009", term: Breast}\n'
        "  - {id: R3, action: include, search: xyzzy plugh}\n"
        '  - {id: R4, action: include, concept: "363346000", term: Malignant}\n'
    )
    found = lint_codeset(codeset_folder(tmp_path, release, rules=rules))
    assert ("rule-has-no-effect", "R2") in checks(found)
    assert ("rule-matches-nothing", "R3") in checks(found)
    assert ("duplicate-rule", "R4") in checks(found)


def test_history_of_codes_are_suspicious_in_a_diagnosis_codeset(tmp_path, release):
    folder = codeset_folder(tmp_path, release, extra="category: diagnosis\n")
    found = [f for f in lint_codeset(folder) if f.check == "suspicious-concept"]
    assert [(f.code, f.rule) for f in found] == [(HISTORY_OF, "R1")]
    assert "history of" in found[0].message


def test_a_decision_about_a_code_clears_the_suspicion(tmp_path, release):
    decision = (
        f"  - about: '{HISTORY_OF}'\n    decision: include\n    rationale: Wanted for this study.\n"
        "    by: A. Researcher\n    date: 2024-06-01\n"
    )
    text_extra = "category: diagnosis\n"
    folder = codeset_folder(tmp_path, release, extra=text_extra)
    path = folder / "codeset.yaml"
    path.write_text(path.read_text().replace("decisions:\n", "decisions:\n" + decision))
    assert [f for f in lint_codeset(folder) if f.check == "suspicious-concept"] == []


def test_codes_csv_that_drifts_from_the_rules_is_an_error(tmp_path, release):
    folder = codeset_folder(tmp_path, release)
    rows = read_codes(folder)
    write_codes(folder, rows[1:])
    found = [f for f in lint_codeset(folder) if f.check == "codes-drift"]
    assert [(f.severity, f.code) for f in found] == [("error", rows[0].code)]


def test_an_edited_published_version_is_an_error(tmp_path, release):
    reviewer = (
        "reviewers:\n  - name: B. Clinician\n    role: GP\n    date: 2024-06-01\n"
        "    signed_off: true\n"
    )
    folder = codeset_folder(tmp_path, release, extra=reviewer)
    publish(folder)
    assert lint_codeset(folder) == []
    path = folder / "codeset.yaml"
    path.write_text(path.read_text().replace("Patients with a recorded", "People with a recorded"))
    assert "published-edited" in [f.check for f in lint_codeset(folder)]


def test_overlapping_codesets_are_noted(tmp_path, release):
    folder = codeset_folder(tmp_path, release)
    found = lint_codeset(folder, {"cancer": set(), "breast": {"254837009", "999"}})
    assert [(f.check, f.severity) for f in found] == [("overlapping-codesets", "info")]


@pytest.mark.parametrize(
    ("system", "code", "ok"),
    [
        ("snomedct", "254837009", True),
        ("snomedct", "254837008", False),
        ("dmd", "109081006", True),
        ("dmd", "109081000001109", False),
        ("icd10", "C50.9", True),
        ("icd10", "C509", True),
        ("icd10", "50.9", False),
        ("snomedct", "C50", False),
    ],
)
def test_codes_are_checked_against_their_coding_system(system, code, ok):
    assert (identifier_problem(system, code) is None) == ok
