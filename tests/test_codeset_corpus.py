"""A corpus of malformed codeset files, each refused with the exact message a user sees.

Each case edits the valid file in tests/conftest.py (CODESET_YAML) one way; the expected text is what
`codeset` prints after `codeset: error: <file>`.
"""

from pathlib import Path

import pytest

from codesetlib.codesets.files import load_codeset
from codesetlib.core.errors import CodesetFormatError
from tests.conftest import CODESET_YAML

GOOD = CODESET_YAML.format(id="cancer")
RULE_2 = '  - id: R2\n    action: exclude\n    concept: "128462008"\n'


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, count)


CORPUS = [
    # (case, file text, expected ":line: field: message" after the path)
    (
        "unclosed bracket",
        edit("  - id: R2", "  - id: [R2"),
        ":14: not valid YAML: expected ',' or ']', but got ':'",
    ),
    (
        "tab indentation",
        edit("    action: include", "\taction: include"),
        ":10: not valid YAML: found character '\\t' that cannot start any token",
    ),
    ("top level is a list", "- id: cancer\n", ":1: expected a mapping of fields at the top level"),
    ("empty file", "", ":1: expected a mapping of fields at the top level"),
    (
        "duplicate key",
        edit("purpose:", "title: Again\npurpose:"),
        ":7: title: this key is given twice",
    ),
    (
        "misspelt field",
        edit("purpose:", "purpse:"),
        ":7: purpse: unknown field (did you mean 'purpose'?)",
    ),
    (
        "unknown rule field",
        edit("    action: include\n", "    action: include\n    concpet: x\n"),
        ":11: rules[0].concpet: unknown field (did you mean 'concept'?)",
    ),
    ("missing id", edit("id: cancer\n", ""), ":1: id: required field is missing"),
    (
        "missing title",
        edit("title: Cancer diagnosis\n", ""),
        ":1: title: required field is missing",
    ),
    (
        "missing purpose",
        edit("purpose: Patients with a recorded diagnosis of cancer.\n", ""),
        ":1: purpose: required field is missing",
    ),
    (
        "missing authors",
        edit("authors:\n  - name: A. Researcher\n    role: analyst\n", ""),
        ":1: authors: required field is missing",
    ),
    (
        "no rules",
        GOOD[: GOOD.index("  - id: R1")]
        + GOOD[GOOD.index("authors:") :].replace("authors:", "authors:", 1),
        ":8: rules: Input should be a valid list",
    ),
    (
        "empty rules",
        GOOD[: GOOD.index("rules:")] + "rules: []\n" + GOOD[GOOD.index("authors:") :],
        ":8: rules: List should have at least 1 item after validation, not 0",
    ),
    (
        "title is a list",
        edit("title: Cancer diagnosis", "title: [Cancer, diagnosis]"),
        ":2: title: Input should be a valid string",
    ),
    (
        "blank purpose",
        edit("purpose: Patients with a recorded diagnosis of cancer.", "purpose: '  '"),
        ":7: purpose: must not be blank",
    ),
    (
        "version not semantic",
        edit("version: 1.0.0", "version: '1.0'"),
        ":3: version: expected a semantic version such as 1.2.0 (found '1.0')",
    ),
    (
        "version with a v",
        edit("version: 1.0.0", "version: v1.0.0"),
        ":3: version: expected a semantic version such as 1.2.0 (found 'v1.0.0')",
    ),
    (
        "unknown status",
        edit("status: draft", "status: final"),
        ":4: status: Input should be 'draft', 'review', 'published' or 'retired' (found 'final')",
    ),
    (
        "unknown coding system",
        edit("coding_system: snomedct", "coding_system: read2"),
        ":5: coding_system: Input should be 'snomedct', 'dmd' or 'icd10' (found 'read2')",
    ),
    (
        "id with capitals",
        edit("id: cancer", "id: Cancer"),
        ":1: id: expected lower-case letters, digits and underscores (the folder name) (found 'Cancer')",
    ),
    (
        "id not the folder",
        edit("id: cancer", "id: cancers"),
        ": id: id 'cancers' does not match the folder name 'cancer'",
    ),
    (
        "bad code",
        edit('concept: "363346000"', 'concept: "36334-6000"'),
        ":11: rules[0].concept: expected a code: digits for SNOMED CT and dm+d, or an ICD-10 code such as "
        "C50.9 (found '36334-6000')",
    ),
    (
        "bad rule id",
        edit("  - id: R1", "  - id: R 1"),
        ":9: rules[0].id: expected letters, digits, '-' or '_' (e.g. R1) (found 'R 1')",
    ),
    ("duplicate rule id", edit("  - id: R2", "  - id: R1"), ":9: rules: rule id R1 is used twice"),
    (
        "unknown action",
        edit("action: exclude", "action: drop"),
        ":14: rules[1].action: Input should be 'include' or 'exclude' (found 'drop')",
    ),
    (
        "descendants not a boolean",
        edit("descendants: true", "descendants: maybe"),
        ":17: rules[1].descendants: Input should be a valid boolean, unable to interpret input "
        "(found 'maybe')",
    ),
    (
        "rule with no target",
        edit('    concept: "363346000"\n', ""),
        ":9: rules[0]: a rule names exactly one of concept, search, code, ecl or refset",
    ),
    (
        "rule with two targets",
        edit('    concept: "363346000"\n', '    concept: "363346000"\n    code: "1"\n'),
        ":9: rules[0]: a rule names exactly one of concept, search, code, ecl or refset (found concept, code)",
    ),
    (
        "within without search",
        edit('    concept: "363346000"\n', '    concept: "363346000"\n    within: "1"\n'),
        ":9: rules[0]: within goes with search",
    ),
    (
        "concept rule without a term",
        edit("    term: Malignant neoplastic disease\n", ""),
        ":9: rules[0]: a concept, code or refset rule gives the term it names, for review",
    ),
    (
        "search too short",
        edit(
            '    concept: "363346000"\n    term: Malignant neoplastic disease\n', "    search: x\n"
        ),
        ":11: rules[0].search: String should have at least 2 characters (found 'x')",
    ),
    (
        "bad decision date",
        edit("date: 2024-05-01", "date: May 2024"),
        ":26: decisions[0].date: Input should be a valid date or datetime, input is too short "
        "(found 'May 2024')",
    ),
    (
        "unknown decision",
        edit("    decision: exclude", "    decision: maybe"),
        ":23: decisions[0].decision: Input should be 'include', 'exclude' or 'review' (found 'maybe')",
    ),
    (
        "decision without rationale",
        edit("    rationale: Secondary cancers do not mark a new primary diagnosis.\n", ""),
        ":22: decisions[0].rationale: required field is missing",
    ),
    (
        "published without a hash",
        edit("status: draft", "status: published"),
        ":1: a published codeset records its content hash (run `codeset publish`)",
    ),
    (
        "malformed hash",
        GOOD + "published:\n  date: 2024-06-01\n  content_hash: md5:abc\n",
        ":29: published.content_hash: expected 'sha256:' and 64 hexadecimal digits (found 'md5:abc')",
    ),
    (
        "reviewer without sign-off",
        GOOD + "reviewers:\n  - name: B. Clinician\n    role: GP\n    date: 2024-06-01\n",
        ":28: reviewers[0].signed_off: required field is missing",
    ),
    ("format from the future", "format: 2\n" + GOOD, ":1: format: Input should be 1 (found 2)"),
]


@pytest.mark.parametrize(("case", "text", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_malformed_codeset_is_refused_with_its_exact_message(
    tmp_path: Path, case, text, expected
):
    folder = tmp_path / "cancer"
    folder.mkdir()
    path = folder / "codeset.yaml"
    path.write_text(text)
    with pytest.raises(CodesetFormatError) as raised:
        load_codeset(folder)
    assert raised.value.location_message() == f"{path}{expected}"


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 30


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path):
    folder = tmp_path / "cancer"
    folder.mkdir()
    (folder / "codeset.yaml").write_bytes(
        GOOD.encode("latin-1") + "title: caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(CodesetFormatError, match="not UTF-8 text"):
        load_codeset(folder)
