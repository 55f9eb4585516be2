"""The governance corpus: a published version cannot be rewritten, publishing is gated, and cohorts and
studies name codesets only inside the study's codesets folder.

Each case spoils a small project (the `cancer_diagnosis` and `diabetes` codesets, `diabetes` with its
archived 1.0.0) and runs `codeset` on it: the exit code, the message naming the file and field, no
traceback, and nothing changed but what the command may write. `codeset check` reports findings on
standard output (exit 1), so those cases also name the words the findings must show.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset, write_codes
from tests.integrity.harness import Case, check_outcome, make_project, run_case

Setup = Callable[[Path], None]
DIABETES = "codesets/diabetes/codeset.yaml"
DIABETES_CODES = "codesets/diabetes/codes.csv"
ARCHIVED = "codesets/diabetes/history/1.0.0/codeset.yaml"
ARCHIVED_CODES = "codesets/diabetes/history/1.0.0/codes.csv"
CANCER = "codesets/cancer_diagnosis/codeset.yaml"
CANCER_CODES = "codesets/cancer_diagnosis/codes.csv"
SETTINGS = "codesets/codesets.yaml"
GESTATIONAL_RULE = re.compile(r"^- id: R2\n(?:  .*\n)+", re.M)
PUBLISHED_BLOCK = re.compile(r"^published:\n(?:  .*\n)+", re.M)
SIGNED_OFF = re.compile(r"signed_off: true")


@dataclass(frozen=True)
class GovernanceCase(Case):
    # Words the findings on standard output must show (for `check`, which reports rather than fails).
    shown: tuple[str, ...] = ()


def steps(*setups: Setup) -> Setup:
    def run(project: Path) -> None:
        for setup in setups:
            setup(project)

    return run


def edit(relative: str, old: str | re.Pattern, new: str) -> Setup:
    """Replace `old` (text or a pattern) in a file, failing if it is not there."""

    def run(project: Path) -> None:
        path = project / relative
        text = path.read_text(encoding="utf-8")
        changed = old.sub(new, text) if isinstance(old, re.Pattern) else text.replace(old, new)
        assert changed != text, (relative, old)
        path.write_text(changed, encoding="utf-8")

    return run


def write(relative: str, text: str) -> Setup:
    def run(project: Path) -> None:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return run


def expand(codeset_id: str) -> Setup:
    """What `codeset expand --write` does, done before the command under test."""

    def run(project: Path) -> None:
        folder = project / "codesets" / codeset_id
        write_codes(folder, expand_rules(load_codeset(folder)).codes)

    return run


def copy(source: str, target: str) -> Setup:
    def run(project: Path) -> None:
        shutil.copytree(project / source, project / target)

    return run


def as_draft(relative: str, version: str) -> Setup:
    """The next version begun by hand: a draft without the publication record."""
    return steps(
        edit(relative, "status: published", "status: draft"),
        edit(relative, re.compile(r"^version: .*$", re.M), f"version: {version}"),
        edit(relative, PUBLISHED_BLOCK, ""),
    )


# cancer_diagnosis 1.1.0 as a draft that meets every condition of publishing, spoiled one way per case.
CANCER_DRAFT = as_draft(CANCER, "1.1.0")
NO_SIGN_OFF = edit(CANCER, SIGNED_OFF, "signed_off: false")
NO_REVIEWERS = edit(CANCER, re.compile(r"^reviewers:\n(?:  .*\n)+", re.M), "")
OPEN_DECISION = edit(
    CANCER,
    "decisions:\n",
    "decisions:\n  - about: R1\n    decision: review\n"
    "    rationale: Imported from a spreadsheet; needs clinical review.\n"
    "    by: Codeset author\n    date: 2026-11-25\n",
)
DRIFT = edit(CANCER_CODES, re.compile(r"^363346000,.*\n", re.M), "")
NOT_A_CODE = edit(
    CANCER_CODES, "code,term,rule,active\n", "code,term,rule,active\n1234,Not a code,R1,true\n"
)
# diabetes as the issue found it rewritten: back to draft, gestational diabetes no longer excluded.
DIABETES_REWRITTEN = steps(
    edit(DIABETES, "status: published", "status: draft"),
    edit(DIABETES, GESTATIONAL_RULE, ""),
    expand("diabetes"),
)

STUDY = """\
title: Governance study
index_date: 2025-03-31
dataset:
  name: tiny
  synth:
    patients: 100
    practices: 2
    seed: 1
codesets:
{pins}
notebooks:
  - path: notebooks/02_cohort.ipynb
    parameters:
      cohort_file: {cohort}
"""
PINS = "  - id: cancer_diagnosis\n    version: 1.0.0\n  - id: diabetes\n    version: 1.1.0"
COHORT = """\
id: escape
index_date: 2025-03-31
criteria:
  - name: cancer
    codeset: cancer_diagnosis
  - name: other
    codeset: {codeset}
"""
FIRST_EVENT_COHORT = """\
id: escape
index_date:
  first_event_of: {codeset}
criteria:
  - name: cancer
    codeset: cancer_diagnosis
"""


def study(pins: str = PINS, cohort: str = "cohorts/cancer_register.yaml") -> Setup:
    return write("study.yaml", STUDY.format(pins=pins, cohort=cohort))


def outside_codeset(project: Path) -> None:
    """A codeset outside the project, where `../../outside/x` from its codesets folder leads."""
    shutil.copytree(project / "codesets" / "diabetes", project.parent / "outside" / "x")
    path = project.parent / "outside" / "x" / "codeset.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("id: diabetes", "id: x"))


RUN = ["run", "study.yaml"]

CASES: list[Case] = [
    # 4. Published is immutable: no change of status lets a published version be rewritten.
    GovernanceCase(
        "publish-rewrites-published-version-after-draft",
        ["publish", "diabetes"],
        2,
        (DIABETES, "1.1.0", "content has changed", "codeset bump"),
        DIABETES_REWRITTEN,
    ),
    GovernanceCase(
        "publish-rewrites-published-version-set-to-review",
        ["publish", "diabetes"],
        2,
        (DIABETES, "1.1.0", "content has changed"),
        steps(DIABETES_REWRITTEN, edit(DIABETES, "status: draft", "status: review")),
    ),
    GovernanceCase(
        "publish-rewrites-archived-version-number",
        ["publish", "diabetes"],
        2,
        (DIABETES, "version", "1.0.0", "history/1.0.0"),
        steps(
            as_draft(DIABETES, "1.0.0"), edit(DIABETES, GESTATIONAL_RULE, ""), expand("diabetes")
        ),
    ),
    GovernanceCase(
        "publish-version-earlier-than-archived",
        ["publish", "diabetes"],
        2,
        (DIABETES, "version", "0.9.0", "not later than", "1.0.0"),
        as_draft(DIABETES, "0.9.0"),
    ),
    GovernanceCase(
        "publish-already-published",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "status", "already published"),
    ),
    GovernanceCase(
        "check-draft-with-published-block-edited",
        ["check", "diabetes"],
        1,
        shown=("published-edited", "1.1.0"),
        setup=DIABETES_REWRITTEN,
    ),
    GovernanceCase(
        "check-retired-without-published-block",
        ["check", "diabetes"],
        2,
        (DIABETES, "retired", "published"),
        steps(
            edit(DIABETES, "status: published", "status: retired"),
            edit(DIABETES, PUBLISHED_BLOCK, ""),
        ),
    ),
    GovernanceCase(
        "check-retired-and-edited",
        ["check", "diabetes"],
        1,
        shown=("published-edited", "1.1.0"),
        setup=steps(
            edit(DIABETES, "status: published", "status: retired"),
            edit(DIABETES, "aged 17 and over", "aged 18 and over"),
        ),
    ),
    GovernanceCase(
        "check-published-reviewer-added-after",
        ["check", "cancer_diagnosis"],
        1,
        shown=("published-edited", "1.0.0"),
        setup=edit(
            CANCER,
            "references:\n",
            "  - name: Late reviewer\n    role: GP\n    date: 2027-01-01\n    signed_off: true\n"
            "references:\n",
        ),
    ),
    GovernanceCase(
        "check-published-sign-off-withdrawn",
        ["check", "cancer_diagnosis"],
        1,
        shown=("published-edited",),
        setup=edit(CANCER, "signed_off: true\n    comment", "signed_off: false\n    comment"),
    ),
    GovernanceCase(
        "check-published-changelog-rewritten",
        ["check", "cancer_diagnosis"],
        1,
        shown=("published-edited",),
        setup=edit(CANCER, "First published version", "Second thoughts"),
    ),
    GovernanceCase(
        "check-published-exclusion-text-edited",
        ["check", "diabetes"],
        1,
        shown=("published-edited",),
        setup=edit(DIABETES, "Diabetes resolved (from 1.1.0).", "Nothing else."),
    ),
    GovernanceCase(
        "check-published-release-changed",
        ["check", "cancer_diagnosis"],
        1,
        shown=("published-edited",),
        setup=steps(
            edit(CANCER, "snomedct-teaching-20240401", "snomedct-teaching-20250401"),
            expand("cancer_diagnosis"),
        ),
    ),
    GovernanceCase(
        "check-published-codes-csv-edited",
        ["check", "cancer_diagnosis"],
        1,
        shown=("codes-drift", "published-edited"),
        setup=DRIFT,
    ),
    # check verifies every archived version.
    GovernanceCase(
        "check-archived-codeset-yaml-edited",
        ["check", "diabetes"],
        1,
        shown=("history-edited", "history/1.0.0"),
        setup=edit(ARCHIVED, "aged 17 and over", "aged 18 and over"),
    ),
    GovernanceCase(
        "check-archived-codes-csv-edited",
        ["check", "diabetes"],
        1,
        shown=("history-edited", "history/1.0.0"),
        setup=edit(ARCHIVED_CODES, re.compile(r"^315051004,.*\n", re.M), ""),
    ),
    GovernanceCase(
        "check-archived-set-back-to-draft",
        ["check", "diabetes"],
        1,
        shown=("history-unpublished", "history/1.0.0"),
        setup=steps(
            edit(ARCHIVED, "status: published", "status: draft"),
            edit(ARCHIVED, PUBLISHED_BLOCK, ""),
        ),
    ),
    GovernanceCase(
        "check-archived-under-another-version",
        ["check", "diabetes"],
        1,
        shown=("history-misplaced", "history/1.0.0", "1.0.1"),
        setup=edit(ARCHIVED, "version: 1.0.0", "version: 1.0.1"),
    ),
    GovernanceCase(
        "check-current-version-not-later-than-archived",
        ["check", "diabetes"],
        1,
        shown=("version-not-later", "0.9.0", "1.0.0"),
        setup=as_draft(DIABETES, "0.9.0"),
    ),
    GovernanceCase(
        "check-history-folder-not-a-version",
        ["check", "diabetes"],
        2,
        ("codesets/diabetes/history/old", "not a version"),
        copy("codesets/diabetes/history/1.0.0", "codesets/diabetes/history/old"),
    ),
    GovernanceCase(
        "diff-history-folder-not-a-version",
        ["diff", "diabetes", "--from", "1.0.0"],
        2,
        ("codesets/diabetes/history/old", "not a version"),
        copy("codesets/diabetes/history/1.0.0", "codesets/diabetes/history/old"),
    ),
    GovernanceCase(
        "diff-unknown-version-with-history-folder-not-a-version",
        ["diff", "diabetes", "--from", "0.5.0"],
        2,
        ("codesets/diabetes/history/old", "not a version"),
        copy("codesets/diabetes/history/1.0.0", "codesets/diabetes/history/old"),
    ),
    GovernanceCase(
        "check-every-codeset-sees-an-archived-edit",
        ["check"],
        1,
        shown=("history-edited", "history/1.0.0", "2 codeset(s): 1 finding(s)"),
        setup=edit(ARCHIVED, "aged 17 and over", "aged 18 and over"),
    ),
    GovernanceCase(
        "check-archived-version-without-codeset-yaml",
        ["check", "diabetes"],
        2,
        ("codesets/diabetes/history/1.2.0", "codeset.yaml"),
        write("codesets/diabetes/history/1.2.0/notes.txt", "to do\n"),
    ),
    # 5. Publishing is gated, and the refusal lists every unmet condition.
    GovernanceCase(
        "publish-without-reviewers",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "reviewers", "0 of 1 sign-off"),
        steps(CANCER_DRAFT, NO_REVIEWERS),
    ),
    GovernanceCase(
        "publish-reviewers-not-signed-off",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "reviewers", "0 of 1 sign-off"),
        steps(CANCER_DRAFT, NO_SIGN_OFF),
    ),
    GovernanceCase(
        "publish-with-open-review-decision",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "decisions[0]", "R1", "marked review"),
        steps(CANCER_DRAFT, OPEN_DECISION),
    ),
    GovernanceCase(
        "publish-with-codes-drifted-from-rules",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "codes.csv", "363346000", "codeset expand --write cancer_diagnosis"),
        steps(CANCER_DRAFT, DRIFT),
    ),
    GovernanceCase(
        "publish-with-lint-error",
        ["publish", "diabetes"],
        2,
        (DIABETES, "inactive-code", "190372001"),
        steps(
            as_draft(DIABETES, "1.2.0"),
            edit(DIABETES, "snomedct-teaching-20240401", "snomedct-teaching-20250401"),
            edit(
                DIABETES,
                "authors:\n",
                "- id: R3\n  action: include\n  code: '190372001'\n  term: Type I diabetes"
                " mellitus maturity onset\n  note: A legacy subtype.\nauthors:\n",
            ),
            expand("diabetes"),
        ),
    ),
    GovernanceCase(
        "publish-lists-every-unmet-condition",
        ["publish", "cancer_diagnosis"],
        2,
        (
            "4 condition(s)",
            "\n  - reviewers:",
            "\n  - decisions[0]:",
            "\n  - codes.csv",
            "\n  - lint bad-code [1234]:",
        ),
        steps(CANCER_DRAFT, NO_REVIEWERS, OPEN_DECISION, NOT_A_CODE),
    ),
    GovernanceCase(
        "publish-needs-the-folder's-number-of-sign-offs",
        ["publish", "cancer_diagnosis"],
        2,
        (CANCER, "reviewers", "1 of 2 sign-off", SETTINGS),
        steps(
            CANCER_DRAFT,
            write(SETTINGS, "sign_offs_required: 2\n"),
            edit(CANCER, "signed_off: true\nreferences", "signed_off: false\nreferences"),
        ),
    ),
    GovernanceCase(
        "publish-settings-zero-sign-offs",
        ["publish", "cancer_diagnosis"],
        2,
        (SETTINGS, ":1:", "sign_offs_required", "greater than or equal to 1"),
        steps(CANCER_DRAFT, write(SETTINGS, "sign_offs_required: 0\n")),
    ),
    GovernanceCase(
        "publish-settings-misspelt-field",
        ["publish", "cancer_diagnosis"],
        2,
        (SETTINGS, "reviewers_required", "unknown field", "sign_offs_required"),
        steps(CANCER_DRAFT, write(SETTINGS, "reviewers_required: 2\n")),
    ),
    GovernanceCase(
        "publish-settings-number-as-text",
        ["publish", "cancer_diagnosis"],
        2,
        (SETTINGS, "sign_offs_required", "'two'"),
        steps(CANCER_DRAFT, write(SETTINGS, "sign_offs_required: two\n")),
    ),
    GovernanceCase(
        "check-settings-not-a-mapping",
        ["check", "cancer_diagnosis"],
        2,
        (SETTINGS, "mapping"),
        write(SETTINGS, "- 2\n"),
    ),
    GovernanceCase(
        "publish-a-draft-that-meets-every-condition",
        ["publish", "cancer_diagnosis"],
        0,
        setup=CANCER_DRAFT,
        may_change=(CANCER,),
    ),
    GovernanceCase(
        "publish-review-decision-resolved-by-a-later-one",
        ["publish", "cancer_diagnosis"],
        0,
        setup=steps(
            CANCER_DRAFT,
            OPEN_DECISION,
            edit(
                CANCER,
                "changelog:\n",
                "  - about: R1\n    decision: include\n    rationale: Reviewed.\n"
                "    by: Clinical reviewer (GP)\n    date: 2026-11-26\nchangelog:\n",
            ),
        ),
        may_change=(CANCER,),
    ),
    GovernanceCase(
        "publish-again-unchanged-after-draft",
        ["publish", "diabetes"],
        0,
        setup=edit(DIABETES, "status: published", "status: draft"),
        may_change=(DIABETES,),
    ),
    GovernanceCase(
        "bump-a-draft",
        ["bump", "cancer_diagnosis"],
        2,
        (CANCER, "status", "draft", "codeset publish"),
        CANCER_DRAFT,
    ),
    GovernanceCase(
        "bump-a-version-under-review",
        ["bump", "cancer_diagnosis"],
        2,
        (CANCER, "status", "review"),
        steps(CANCER_DRAFT, edit(CANCER, "status: draft", "status: review")),
    ),
    GovernanceCase(
        "bump-an-edited-published-version",
        ["bump", "diabetes"],
        2,
        (DIABETES, "1.1.0", "content has changed"),
        edit(DIABETES, "aged 17 and over", "aged 18 and over"),
    ),
    GovernanceCase(
        "bump-onto-an-archived-version",
        ["bump", "diabetes"],
        2,
        ("codesets/diabetes/history/1.1.0", "already archived"),
        write("codesets/diabetes/history/1.1.0/notes.txt", "kept\n"),
    ),
    # `codeset run` refuses a pinned version whose content is not what was published.
    GovernanceCase(
        "run-pinned-version-edited",
        RUN,
        2,
        (DIABETES, "diabetes", "1.1.0", "published.content_hash"),
        steps(study(), edit(DIABETES, "aged 17 and over", "aged 18 and over")),
    ),
    GovernanceCase(
        "run-pinned-archived-version-edited",
        RUN,
        2,
        (ARCHIVED, "diabetes", "1.0.0", "published.content_hash"),
        steps(
            study(PINS.replace("1.1.0", "1.0.0")),
            edit(ARCHIVED_CODES, re.compile(r"^315051004,.*\n", re.M), ""),
        ),
    ),
    GovernanceCase(
        "run-current-version-edited",
        RUN,
        2,
        (CANCER, "cancer_diagnosis", "1.0.0", "published.content_hash"),
        steps(
            study("  - id: cancer_diagnosis\n  - id: diabetes"),
            edit(CANCER, "Merkel cell carcinoma.", "Merkel cell carcinoma too."),
        ),
    ),
    GovernanceCase(
        "run-pinned-version-unpublished",
        RUN,
        2,
        (DIABETES, "diabetes", "1.1.0", "not published"),
        steps(
            study(),
            edit(DIABETES, "status: published", "status: draft"),
            edit(DIABETES, PUBLISHED_BLOCK, ""),
        ),
    ),
    GovernanceCase(
        "run-retired-without-published-block",
        RUN,
        2,
        (DIABETES, "retired", "published"),
        steps(
            study(),
            edit(DIABETES, "status: published", "status: retired"),
            edit(DIABETES, PUBLISHED_BLOCK, ""),
        ),
    ),
    # 7. Codesets named by studies and cohorts lie in the study's codesets folder.
    GovernanceCase(
        "run-study-pins-a-path-outside",
        RUN,
        2,
        ("study.yaml", "codesets[0].id", "'../../outside/x'"),
        steps(outside_codeset, study("  - id: ../../outside/x")),
    ),
    GovernanceCase(
        "run-cohort-names-a-path-outside",
        RUN,
        2,
        ("cohorts/escape.yaml", ":7:", "criteria[1].codeset", "'../../outside/x'"),
        steps(
            outside_codeset,
            study(cohort="cohorts/escape.yaml"),
            write("cohorts/escape.yaml", COHORT.format(codeset="../../outside/x")),
        ),
    ),
    GovernanceCase(
        "run-cohort-first-event-of-a-path-outside",
        RUN,
        2,
        ("cohorts/escape.yaml", "index_date.first_event_of", "'../diabetes'"),
        steps(
            study(cohort="cohorts/escape.yaml"),
            write("cohorts/escape.yaml", FIRST_EVENT_COHORT.format(codeset="../diabetes")),
        ),
    ),
    GovernanceCase(
        "run-cohort-names-a-codeset-the-study-does-not",
        RUN,
        2,
        ("cohorts/escape.yaml", ":7:", "criteria[1].codeset", "'hba1c'", "not one the study names"),
        steps(
            study(cohort="cohorts/escape.yaml"),
            write("cohorts/escape.yaml", COHORT.format(codeset="hba1c")),
        ),
    ),
    GovernanceCase(
        "show-an-id-that-is-a-path",
        ["show", "../../outside/x"],
        2,
        ("'../../outside/x'", "not a codeset id"),
        outside_codeset,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_governance_case(case: GovernanceCase, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    outcome = run_case(case, project)
    check_outcome(case, outcome)
    for words in case.shown:
        assert words in outcome.stdout, (words, outcome.stdout)
