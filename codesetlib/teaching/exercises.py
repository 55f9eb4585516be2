"""Spot the codeset error: flawed codesets, and a grader for each that checks a learner's fix.

Each exercise is a codeset folder under `notebooks/teaching/exercises/<id>/` with one classic fault,
and a reference solution under `teaching/solutions/<id>/`, the lecturer's folder that is never handed
to students. A grader takes the learner's
fixed codeset (a `Codeset`, or a folder) and returns a `GradeResult`: whether it passes and, when not,
what is still wrong, code by code, and how to fix it. Graders state the codeset's clinical intent as
a few root concepts and ask the terminology for the rest (descendants, inactive concepts and their
replacements, concepts new in a release, 'history of' and 'declined' situations), so they keep
working when the release changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codesetlib.codesets.concept_lists import NON_MELANOMA_SKIN_CANCER
from codesetlib.codesets.expand import Expansion, expand_rules, open_codeset_release
from codesetlib.codesets.files import load_codeset, read_codes
from codesetlib.codesets.lint import drift, lint_codeset
from codesetlib.codesets.model import CodeRow, Codeset, CodesetRule
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import CodesetError
from codesetlib.core.paths import resolve
from codesetlib.teaching import BuilderError
from codesetlib.teaching.builder import CodesetBuilder
from codesetlib.teaching.counts import PatientCounter
from codesetlib.terminology import Terminology, open_release

EXERCISES_DIR = "notebooks/teaching/exercises"
SOLUTIONS_DIR = "teaching/solutions"
FIRST_RELEASE = "snomedct-teaching-20240401"
SECOND_RELEASE = "snomedct-teaching-20250401"
MAX_MESSAGES = 8

# The clinical intent of each exercise, as the concepts a clinician would name.
LUNG_CANCER = "363358000"
BREAST_CANCER = "254837009"
BLADDER_CANCER = "399326009"
COLORECTAL_CANCER = "363510005"
MALIGNANT_NEOPLASTIC_DISEASE = "363346000"
CARCINOMA_IN_SITU = "109355002"
# Non-melanoma skin cancer as the QOF register excludes it: keratinocyte cancers and the grouper.
NMSC_ROOTS = NON_MELANOMA_SKIN_CANCER
BREAST_SCREENING = "268547008"
BREAST_SCREENING_RESULT = "449999999102"


@dataclass(frozen=True)
class GradeResult:
    """Whether a fix passes, and what is still wrong (or, when it passes, what it got right)."""

    exercise: str
    passed: bool
    feedback: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "NOT YET"
        return "\n".join([f"{self.exercise}: {verdict}", *(f"- {m}" for m in self.feedback)])

    def _repr_markdown_(self) -> str:
        verdict = "**Passed**" if self.passed else "**Not yet**"
        return "\n".join([f"{verdict} ({self.exercise})", "", *(f"- {m}" for m in self.feedback)])


@dataclass(frozen=True)
class Attempt:
    """A learner's codeset expanded in the release it names, with its codes.csv when given a folder."""

    codeset: Codeset
    terminology: Terminology
    expansion: Expansion
    recorded: list[CodeRow] | None

    @property
    def codes(self) -> frozenset[str]:
        return self.expansion.code_set

    def rule_of(self, code: str) -> str:
        return next(r.rule for r in self.expansion.codes if r.code == code)


Fix = Codeset | str | Path


def attempt(fixed: Fix) -> Attempt:
    """Load (a folder) and expand a learner's codeset."""
    recorded = None
    if isinstance(fixed, Codeset):
        codeset = fixed
    else:
        folder = resolve(fixed)
        codeset = load_codeset(folder)
        recorded = read_codes(folder)
    terminology = open_codeset_release(codeset)
    return Attempt(codeset, terminology, expand_rules(codeset, terminology), recorded)


# Terminology queries the graders share.


def label(code: str, terminology: Terminology) -> str:
    """`code |term|`, as a reviewer writes a concept."""
    found = terminology.lookup(code)
    return f"{code} |{found.term}|" if found else code


def subtree(code: str, terminology: Terminology) -> frozenset[str]:
    """A concept and its descendants."""
    return terminology.descendants_of(code) | {code}


def situations_named(word: str, terminology: Terminology) -> frozenset[str]:
    """Concepts whose terms contain `word` (e.g. 'history', 'declined'), with their descendants."""
    found = {c.code for c in terminology.search(word)}
    return frozenset().union(*(subtree(c, terminology) for c in found)) if found else frozenset()


def expanded_in(codeset: Codeset, release: str) -> Expansion:
    """The codeset's rules expanded in another release (to see what they would give there)."""
    moved = codeset.model_copy(update={"terminology_release": release})
    return expand_rules(moved, open_release(release))


# Checks: each gives the messages a reviewer would write, or none.


def capped(messages: list[str], limit: int = MAX_MESSAGES) -> list[str]:
    """At most `limit` messages, then how many more there are."""
    if len(messages) <= limit:
        return messages
    return [*messages[:limit], f"... and {len(messages) - limit} more like these"]


def release_check(work: Attempt, release: str) -> list[str]:
    pinned = work.codeset.terminology_release
    if pinned == release:
        return []
    return [
        f"The codeset is pinned to {pinned}, but it is meant for data coded with {release}: set "
        f"terminology_release to {release} and expand the rules again"
    ]


def drift_check(work: Attempt) -> list[str]:
    if work.recorded is None:
        return []
    messages = [f.message for f in drift(work.codeset, work.recorded, work.expansion)]
    if not messages:
        return []
    return capped(
        [*messages, "codes.csv is out of date: run `codeset expand --write <folder>` and commit it"]
    )


def forbidden_check(work: Attempt, forbidden: dict[str, str]) -> list[str]:
    """Codes the codeset must not hold, each with the reason given in `forbidden`."""
    return capped(
        [
            f"{label(code, work.terminology)} (brought in by rule {work.rule_of(code)}) {forbidden[code]}"
            for code in sorted(work.codes & forbidden.keys())
        ]
    )


def missing_check(
    work: Attempt,
    wanted: Iterable[str],
    hint: Callable[[str], str],
    names: Terminology | None = None,
) -> list[str]:
    """Wanted codes the codeset lacks: names the exclude rule that removed one, else gives `hint`.

    `names` is the release to take terms from when the wanted codes are of another release.
    """
    messages = []
    for code in sorted(set(wanted) - work.codes):
        remover = next(
            (
                e.rule
                for e in work.expansion.effects
                if e.rule.action == "exclude" and code in e.matched
            ),
            None,
        )
        where = label(code, names or work.terminology)
        if remover is not None:
            messages.append(
                f"{where} is removed by rule {remover.id} (exclude {remover.target}), but it belongs "
                "in this codeset: narrow that exclusion"
            )
        else:
            messages.append(f"{where} is still missing: {hint(code)}")
    return capped(messages)


def extra_check(work: Attempt, allowed: frozenset[str]) -> list[str]:
    """Codes outside what the codeset is for (and not already reported as forbidden)."""
    return capped(
        [
            f"{label(code, work.terminology)} (rule {work.rule_of(code)}) is outside what this "
            "codeset is for: remove it"
            for code in sorted(work.codes - allowed)
        ]
    )


def future_check(
    work: Attempt, release: str, wanted: frozenset[str], forbidden: frozenset[str]
) -> list[str]:
    """What the rules would give in a later release: the concepts it adds must follow the rules'
    intent (the concepts of the codeset's own release are checked there, not again here)."""
    if work.codeset.terminology_release == release:
        return []
    later = expanded_in(work.codeset, release)
    terminology = open_release(release)
    new = frozenset(c for c in terminology.codes() if work.terminology.lookup(c) is None)
    wanted, forbidden = wanted & new, forbidden & new
    missed = [
        f"in {release} your rules would miss {label(c, terminology)}: write the rule for the parent "
        "concept with its descendants, not a list of today's codes"
        for c in sorted(wanted - later.code_set)
    ]
    kept = [
        f"in {release} your rules would let in {label(c, terminology)}: write the exclusion for the "
        "parent concept with its descendants, not a list of today's codes"
        for c in sorted(forbidden & later.code_set)
    ]
    return capped(missed + kept)


def result(exercise: str, problems: list[str], praise: str) -> GradeResult:
    """Passed when there are no problems; then the feedback says what the fix got right."""
    return GradeResult(exercise, not problems, problems or [praise])


def graded(
    exercise: str,
) -> Callable[[Callable[[Attempt], GradeResult]], Callable[[Fix], GradeResult]]:
    """Turn a grader of an `Attempt` into one of a codeset or folder; a fix that does not load or
    expand fails with the error's message rather than raising."""

    def wrap(grade: Callable[[Attempt], GradeResult]) -> Callable[[Fix], GradeResult]:
        def grade_fix(fixed: Fix) -> GradeResult:
            try:
                work = attempt(fixed)
            except CodesetError as error:
                return GradeResult(exercise, False, [f"The codeset does not expand: {error}"])
            return grade(work)

        grade_fix.__name__ = grade.__name__
        grade_fix.__doc__ = grade.__doc__
        return grade_fix

    return wrap


# The graders.


@graded("lung_cancer")
def grade_lung_cancer(work: Attempt) -> GradeResult:
    """Descendants left out: every lung cancer subtype must be in, today and in the next release."""
    t = work.terminology
    wanted = subtree(LUNG_CANCER, t)
    hint = f"include {label(LUNG_CANCER, t)} with its descendants (descendants: true)"
    problems = [
        *release_check(work, FIRST_RELEASE),
        *missing_check(work, wanted, lambda _: hint),
        *extra_check(work, wanted),
        *future_check(
            work, SECOND_RELEASE, subtree(LUNG_CANCER, open_release(SECOND_RELEASE)), frozenset()
        ),
        *drift_check(work),
    ]
    praise = (
        f"All {len(wanted)} lung cancer concepts are in, and new subtypes will follow the rule."
    )
    return result("lung_cancer", problems, praise)


@graded("breast_cancer_diagnosis")
def grade_breast_cancer_diagnosis(work: Attempt) -> GradeResult:
    """'History of' in a diagnosis codeset: a past-diagnosis situation is not a diagnosis."""
    t = work.terminology
    wanted = subtree(BREAST_CANCER, t)
    reason = (
        "is a 'history of' situation, not a diagnosis: it is recorded long after the disease, so it "
        "would give wrong diagnosis dates; remove the rule that brings it in"
    )
    history = dict.fromkeys(situations_named("history", t) - wanted, reason)
    hint = f"include {label(BREAST_CANCER, t)} with its descendants"
    problems = [
        *release_check(work, FIRST_RELEASE),
        *forbidden_check(work, history),
        *missing_check(work, wanted, lambda _: hint),
        *extra_check(work, wanted | history.keys()),
        *drift_check(work),
    ]
    praise = (
        "Only breast cancer disorders remain; no 'history of' situation is counted as a diagnosis."
    )
    return result("breast_cancer_diagnosis", problems, praise)


def inactive_reason(code: str, terminology: Terminology) -> str:
    """Why an inactive code must go, naming its replacements from the release's history."""
    targets = terminology.replacements(code)
    if not targets:
        return f"is inactive in {terminology.release.id}: remove it"
    named = "; ".join(
        f"{kind.replace('_', ' ')} {', '.join(label(c, terminology) for c in sorted(codes))}"
        for kind, codes in sorted(targets.items())
    )
    return f"is inactive in {terminology.release.id} ({named}): use its replacement with its descendants"


@graded("bladder_cancer")
def grade_bladder_cancer(work: Attempt) -> GradeResult:
    """An inactive code: replace it by what the release's history says replaces it."""
    t = work.terminology
    wanted = subtree(BLADDER_CANCER, t)
    inactive = {c: inactive_reason(c, t) for c in work.codes if not t.concept(c).active}
    hint = f"include {label(BLADDER_CANCER, t)} with its descendants"
    problems = [
        *release_check(work, SECOND_RELEASE),
        *forbidden_check(work, inactive),
        *missing_check(work, wanted, lambda _: hint),
        *extra_check(work, wanted | inactive.keys()),
        *drift_check(work),
    ]
    praise = f"No inactive code is left, and all {len(wanted)} bladder cancer concepts are in."
    return result("bladder_cancer", problems, praise)


@graded("colorectal_cancer_2025")
def grade_colorectal_cancer_2025(work: Attempt) -> GradeResult:
    """The wrong release: a codeset for 2025 data expanded in 2024 misses what 2025 added."""
    target = open_release(SECOND_RELEASE)
    earlier = open_release(FIRST_RELEASE)
    wanted = subtree(COLORECTAL_CANCER, target)
    inactive = {
        c: inactive_reason(c, target)
        for c in work.codes
        if target.lookup(c) is not None and not target.concept(c).active
    }

    def hint(code: str) -> str:
        if earlier.lookup(code) is None:
            return f"it was added in {SECOND_RELEASE}: pin the codeset to {SECOND_RELEASE} and expand again"
        return f"include {label(COLORECTAL_CANCER, target)} with its descendants"

    problems = [
        *release_check(work, SECOND_RELEASE),
        *forbidden_check(work, inactive),
        *missing_check(work, wanted, hint, names=target),
        *extra_check(work, wanted | inactive.keys()),
        *drift_check(work),
    ]
    praise = (
        f"Expanded in {SECOND_RELEASE}: all {len(wanted)} colorectal cancer concepts, new ones too."
    )
    return result("colorectal_cancer_2025", problems, praise)


def nmsc(terminology: Terminology) -> frozenset[str]:
    """Non-melanoma skin cancer in a release: the NMSC roots and their descendants."""
    return frozenset().union(*(subtree(r, terminology) for r in NMSC_ROOTS))


def nmsc_parents(terminology: Terminology) -> frozenset[str]:
    """Unspecified skin cancer groupers above NMSC (kept or excluded alone: either is defensible)."""
    parents = set().union(*(terminology.parents(r) for r in NMSC_ROOTS))
    return frozenset(parents - {MALIGNANT_NEOPLASTIC_DISEASE} - nmsc(terminology))


@graded("cancer_register")
def grade_cancer_register(work: Attempt) -> GradeResult:
    """Non-melanoma skin cancer not excluded from a cancer register; melanoma must stay in."""
    t = work.terminology
    skin, in_situ, either = nmsc(t), subtree(CARCINOMA_IN_SITU, t), nmsc_parents(t)
    wanted = subtree(MALIGNANT_NEOPLASTIC_DISEASE, t) - skin - in_situ - either

    def nmsc_reason(code: str) -> str:
        root = next(r for r in NMSC_ROOTS if code in subtree(r, t))
        return (
            "is non-melanoma skin cancer, which the QOF register leaves out: exclude "
            f"{label(root, t)} with its descendants"
        )

    forbidden = {c: nmsc_reason(c) for c in skin} | dict.fromkeys(
        in_situ, "is carcinoma in situ, not invasive cancer: keep the in situ exclusion"
    )
    later = open_release(SECOND_RELEASE)
    problems = [
        *release_check(work, FIRST_RELEASE),
        *forbidden_check(work, forbidden),
        *missing_check(work, wanted, lambda _: "it is a cancer the register keeps: include it"),
        *extra_check(work, wanted | forbidden.keys() | either),
        *future_check(work, SECOND_RELEASE, frozenset(), nmsc(later)),
        *drift_check(work),
    ]
    praise = (
        "Non-melanoma skin cancer is excluded by rules with descendants (so new subtypes are excluded "
        "too), while melanoma and the other cancers stay in."
    )
    return result("cancer_register", problems, praise)


@graded("breast_screening_uptake")
def grade_breast_screening_uptake(work: Attempt) -> GradeResult:
    """'Declined' counted as screened: coverage counts a completed test, not a refusal."""
    t = work.terminology
    wanted = (subtree(BREAST_SCREENING, t) | subtree(BREAST_SCREENING_RESULT, t)) - {
        BREAST_SCREENING_RESULT
    }
    reason = (
        "records that screening was declined, so the woman was not screened: counting it would "
        "overstate coverage; remove the rule that brings it in"
    )
    declined = dict.fromkeys(situations_named("declined", t), reason)
    hint = "a screening procedure or result shows a completed test: include it"
    problems = [
        *release_check(work, FIRST_RELEASE),
        *forbidden_check(work, declined),
        *missing_check(work, wanted, lambda _: hint),
        *extra_check(work, wanted | declined.keys()),
        *drift_check(work),
    ]
    praise = "Only completed screening tests and their results count; declines do not."
    return result("breast_screening_uptake", problems, praise)


@dataclass(frozen=True)
class Exercise:
    """One flawed codeset: what it is for, the fault it hides (for the lecturer) and its grader."""

    id: str
    fault: str
    lesson: str
    grade: Callable[[Fix], GradeResult]


EXERCISES: dict[str, Exercise] = {
    e.id: e
    for e in [
        Exercise(
            "lung_cancer",
            "Descendants left out",
            "A concept included without its descendants misses every subtype, and every subtype a "
            "later release adds.",
            grade_lung_cancer,
        ),
        Exercise(
            "breast_cancer_diagnosis",
            "'History of' in a diagnosis codeset",
            "'History of' concepts are situations recorded long after diagnosis: they belong in a "
            "past-history codeset, never in one that dates a diagnosis.",
            grade_breast_cancer_diagnosis,
        ),
        Exercise(
            "bladder_cancer",
            "An inactive code",
            "A code inactive in the release the codeset is pinned to is no longer used for new "
            "records; the release's history (REPLACED BY, SAME AS, POSSIBLY EQUIVALENT TO) names "
            "what to use instead.",
            grade_bladder_cancer,
        ),
        Exercise(
            "colorectal_cancer_2025",
            "Built against the wrong release",
            "A codeset is expanded in the release it names: pinned to an older release, it lacks the "
            "concepts a newer one added, however good its rules are.",
            grade_colorectal_cancer_2025,
        ),
        Exercise(
            "cancer_register",
            "Non-melanoma skin cancer not excluded",
            "The QOF cancer register excludes non-melanoma skin cancer, which is common and rarely "
            "fatal; exclude it by rules with descendants, and keep melanoma.",
            grade_cancer_register,
        ),
        Exercise(
            "breast_screening_uptake",
            "'Declined' counted as screened",
            "Coverage counts completed tests; 'declined', 'offered' and 'not due' records are "
            "situations, not tests.",
            grade_breast_screening_uptake,
        ),
    ]
}


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; refuses an unknown one, naming those there are."""
    if exercise_id not in EXERCISES:
        raise BuilderError(f"no exercise '{exercise_id}' (exercises: {', '.join(EXERCISES)})")
    return EXERCISES[exercise_id]


def grade(exercise_id: str, fixed: Fix) -> GradeResult:
    """Grade a learner's fix of exercise `exercise_id`."""
    return exercise(exercise_id).grade(fixed)


def exercise_folder(exercise_id: str, root: str | Path = EXERCISES_DIR) -> Path:
    """The folder of the flawed codeset (or, with `root=SOLUTIONS_DIR`, of its solution)."""
    exercise(exercise_id)
    return resolve(root) / exercise_id


def load_exercise(exercise_id: str, root: str | Path = EXERCISES_DIR) -> Codeset:
    """The flawed codeset of an exercise (or its solution, with `root=SOLUTIONS_DIR`)."""
    return load_codeset(exercise_folder(exercise_id, root))


def with_rules(
    codeset: Codeset, rules: list[dict | CodesetRule], release: str | None = None
) -> Codeset:
    """The codeset with its rules replaced (and its release, if given): a learner's fix.

    Rules may be written as dictionaries with the fields of `codeset.yaml`; they are validated as
    that file's rules are.
    """
    try:
        return Codeset.model_validate(
            {
                **codeset.model_dump(),
                "rules": [
                    r if isinstance(r, CodesetRule) else CodesetRule.model_validate(r)
                    for r in rules
                ],
                "terminology_release": release or codeset.terminology_release,
            }
        )
    except ValueError as error:
        raise BuilderError(f"the fixed rules are not valid: {error}") from None


def rules_as_dicts(codeset: Codeset) -> list[dict]:
    """A codeset's rules as dictionaries, as a learner edits them in a notebook cell."""
    return [r.model_dump(exclude_defaults=True, exclude_none=True) for r in codeset.rules]


def exercise_tables(
    exercise_id: str,
    root: str | Path = EXERCISES_DIR,
    counter: PatientCounter | None = None,
    disclosure: DisclosureSettings | None = None,
) -> dict[str, pd.DataFrame]:
    """What a learner sees of an exercise (or of its solution): what the codeset is for, its rules,
    its codes with the patients each finds (under disclosure control), and what lint says."""
    folder = exercise_folder(exercise_id, root)
    codeset = load_codeset(folder)
    builder = CodesetBuilder.from_codeset(codeset, counter)
    builder.disclosure = disclosure or DisclosureSettings()
    about = {
        "Title": codeset.title,
        "Purpose": codeset.purpose,
        "Category": codeset.category,
        "Terminology release": codeset.terminology_release,
        "Codes": str(len(builder.codes())),
        "Patients found": str(builder.summary().get("Patients found", pd.Series(["-"]))[0]),
    }
    findings = [
        {"Severity": f.severity, "Check": f.check, "Message": f.message}
        for f in lint_codeset(folder)
    ]
    return {
        "About": pd.DataFrame({"Field": list(about), "Value": list(about.values())}),
        "Rules": builder.rules_table(),
        "Codes and patients": builder.patients_per_code(),
        "What codeset lint says": pd.DataFrame(findings, columns=["Severity", "Check", "Message"]),
    }
