"""The five-session course: its graded exercises, feedback that reveals itself step by step, and the
folder handed to students.

Every exercise has an id (`E1` to `E17`), a session, and a grader that checks a learner's answer against
the teaching terminology, the flawed codesets and the practice extract, computing what is right from
them (so no answer is written down here). `grade_exercise(id, answer, attempt)` says whether an answer
is correct and gives feedback in three steps: the first hint, then the second, then the explanation
with every specific problem. An answer left as it was handed out (`None`, or a flawed codeset
unchanged) only ever gets the first hint, so running an untouched cell never gives the answer away.
`Coach` counts a learner's distinct answers per exercise so that a notebook can reveal more with each
new try; nbgrader's test cells ask only `grade_exercise(id, answer).correct`.

`write_student_release` writes what students receive: the session notebooks with nbgrader's solutions
removed, and the data they use, never the lecturer's solutions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from codesetlib.codesets.diff import diff_releases
from codesetlib.codesets.model import Codeset, CodesetRule, Decision
from codesetlib.codesets.versions import Part, next_version
from codesetlib.core import atomic
from codesetlib.core.csvfiles import read_csv, require_columns
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.errors import CodesetError, DatasetError
from codesetlib.core.paths import resolve
from codesetlib.record.book.tables import html_table
from codesetlib.teaching import BuilderError
from codesetlib.teaching.exercises import (
    EXERCISES_DIR,
    FIRST_RELEASE,
    SECOND_RELEASE,
    exercise,
    exercise_tables,
    grade,
    label,
    load_exercise,
    rules_as_dicts,
    subtree,
    with_rules,
)
from codesetlib.terminology import Terminology, open_release
from codesetlib.validation.metrics import AnomalyRules, anomalies

COURSE_DIR = "teaching"
STUDENT_RELEASE_DIR = "build/student-release"
RELEASE_MANIFEST = "student-release.json"
PRACTICE_EXTRACT = "practice_extract"
EXTRACT_DATE = dt.date(2025, 3, 31)
DMD_RELEASE = "dmd-teaching-20250401"
ICD10_RELEASE = "icd10-who-2019"
METFORMIN = "109081006"
SKIN_CANCER_BLOCK = "C43-C44"
LUNG_CANCER = "363358000"

SESSIONS: dict[int, str] = {
    1: "Foundations of clinical terminology",
    2: "Principles of codeset design",
    3: "Data exploration",
    4: "Clinical oversight and governance",
    5: "Maintenance across releases",
}


# What a grader finds, and what the learner is shown.


@dataclass(frozen=True)
class Check:
    """A grader's finding: whether the answer is correct, a line safe to show at every step (it never
    names the answer), and the specific problems, shown only with the explanation."""

    correct: bool
    summary: str = ""
    details: list[str] = field(default_factory=list)


STEPS = {1: "hint 1", 2: "hint 2", 3: "explanation"}


@dataclass(frozen=True, repr=False)
class Feedback:
    """What a learner is told about one answer: correct or not, at which step, and the lines shown."""

    exercise: str
    title: str
    correct: bool
    step: str
    lines: list[str]

    def __str__(self) -> str:
        verdict = "CORRECT" if self.correct else f"NOT YET ({self.step})"
        return "\n".join(
            [f"{self.exercise} {self.title}: {verdict}", *(f"- {m}" for m in self.lines)]
        )

    __repr__ = __str__  # what a notebook shows where it cannot render markdown

    def _repr_markdown_(self) -> str:
        verdict = "**Correct**" if self.correct else f"**Not yet** ({self.step})"
        return "\n".join(
            [f"{verdict}: {self.exercise} {self.title}", "", *(f"- {m}" for m in self.lines)]
        )


def is_unanswered(answer: object) -> bool:
    """An answer cell as it was handed out: nothing written yet."""
    return answer is None or answer is Ellipsis


@dataclass(frozen=True)
class CourseExercise:
    """One graded exercise of the course: its session, title, two hints, explanation and grader.

    `expected` gives the answer the grader accepts, for the lecturer's key and the test that no
    student file holds it; exercises with many right answers (a fixed codeset, a decision) have none.
    `flawed` names the flawed codeset of a spot-the-error exercise.
    """

    id: str
    session: int
    title: str
    hints: tuple[str, str]
    explanation: str
    check: Callable[[Any], Check]
    untouched: Callable[[Any], bool] = is_unanswered
    expected: Callable[[], object] | None = None
    flawed: str | None = None

    def feedback(self, answer: object, attempt: int = 1) -> Feedback:
        """Feedback on `answer` at the step `attempt` reaches (1: hint 1, 2: hint 2, 3+: the
        explanation); an untouched answer gets the first hint only, whatever the attempt."""
        if self.untouched(answer):
            lines = [
                "You have not changed the answer yet: write yours in the answer cell, then run it "
                "and this cell again.",
                f"Hint 1: {self.hints[0]}",
            ]
            return Feedback(self.id, self.title, False, STEPS[1], lines)
        try:
            found = self.check(answer)
        except CodesetError as error:
            found = Check(False, f"The answer could not be checked: {error}")
        if found.correct:
            lines = [*([found.summary] if found.summary else []), f"Why: {self.explanation}"]
            return Feedback(self.id, self.title, True, "correct", lines)
        step = min(max(attempt, 1), 3)
        lines = [found.summary] if found.summary else []
        if step == 1:
            lines.append(f"Hint 1: {self.hints[0]}")
        elif step == 2:
            lines.append(f"Hint 2: {self.hints[1]}")
        else:
            lines += [f"Explanation: {self.explanation}", *found.details]
        return Feedback(self.id, self.title, False, STEPS[step], lines)


# Reading answers of the usual shapes.


def as_codes(answer: object) -> frozenset[str] | None:
    """A set, list or tuple of codes (text or whole numbers) as a set of code strings; None if the
    answer has another shape."""
    if isinstance(answer, str | bytes | Mapping) or not isinstance(answer, Iterable):
        return None
    codes = set()
    for item in answer:
        if isinstance(item, bool) or not isinstance(item, str | int):
            return None
        codes.add(str(item).strip())
    return frozenset(codes)


def shape_problem(expected_shape: str) -> Check:
    return Check(False, f"The answer should be {expected_shape}.")


def compare_codes(
    answer: object, wanted: frozenset[str], terminology: Terminology | None, noun: str = "code"
) -> Check:
    """Compare a set of codes with the set wanted: how many are missing and extra (always shown),
    and which (only with the explanation)."""
    given = as_codes(answer)
    if given is None:
        return shape_problem(f"a set of {noun}s, e.g. {{'123456', '654321'}}")
    missing, extra = sorted(wanted - given), sorted(given - wanted)
    if not missing and not extra:
        return Check(True, f"All {len(wanted)} {noun}s, and nothing else.")

    def named(code: str) -> str:
        return label(code, terminology) if terminology is not None else code

    summary = (
        f"{len(given & wanted)} of your {len(given)} {noun}(s) are right; {len(missing)} "
        f"{noun}(s) are missing and {len(extra)} should not be there."
    )
    details = [f"Missing: {named(c)}" for c in missing] + [f"Not wanted: {named(c)}" for c in extra]
    return Check(False, summary, details)


def compare_mapping(
    answer: object, wanted: Mapping[str, str], normalise: Callable[[str], str], shape: str
) -> Check:
    """Compare a dictionary of answers with the one wanted, key by key."""
    if not isinstance(answer, Mapping):
        return shape_problem(shape)
    missing_keys = sorted(set(wanted) - set(answer))
    if missing_keys:
        return Check(False, f"The answer lacks the key(s) {', '.join(missing_keys)}; {shape}.")
    wrong = [k for k in wanted if normalise(str(answer[k])) != normalise(wanted[k])]
    if not wrong:
        return Check(True, f"All {len(wanted)} answers are right.")
    summary = f"{len(wanted) - len(wrong)} of {len(wanted)} answers are right."
    return Check(False, summary, [f"{k}: not {answer[k]!r}" for k in wrong])


# Where the course's data are.


def course_data_dir() -> Path:
    """The flawed codesets and the practice extract: `data/` beside the session folders in a
    student release (or in the working folder), else the kit's `notebooks/teaching/exercises`."""
    here = Path.cwd()
    for candidate in (here / "data", here.parent / "data"):
        if (candidate / PRACTICE_EXTRACT).is_dir():
            return candidate
    return resolve(EXERCISES_DIR)


EXTRACT_COLUMNS = {
    "patients.csv": ["patient_id", "sex", "date_of_birth", "date_of_death"],
    "clinical_events.csv": ["event_id", "patient_id", "date", "code"],
}


def read_extract_table(path: Path) -> pd.DataFrame:
    """One table of the practice extract, as text; dates are parsed by whoever uses them."""
    rows = read_csv(path, DatasetError)
    header = rows[0][1] if rows else None
    require_columns(header, EXTRACT_COLUMNS[path.name], path, DatasetError)
    assert header is not None
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise DatasetError(
                f"has {len(cells)} cells where the header has {len(header)}: {','.join(cells)}",
                path=path,
                line=line,
            )
    return pd.DataFrame([cells for _, cells in rows[1:]], columns=header, dtype="string")


def read_practice_extract(folder: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The practice extract's patients and clinical events (dates as dates, blank deaths missing)."""
    folder = resolve(folder) if folder is not None else course_data_dir() / PRACTICE_EXTRACT
    patients = read_extract_table(folder / "patients.csv")
    events = read_extract_table(folder / "clinical_events.csv")
    for table, name, columns in (
        (patients, "patients.csv", ["date_of_birth", "date_of_death"]),
        (events, "clinical_events.csv", ["date"]),
    ):
        for column in columns:
            parsed = pd.to_datetime(table[column].replace("", None), errors="coerce")
            bad = table[column].notna() & (table[column] != "") & parsed.isna()
            if bad.any():
                raise DatasetError(
                    f"is not a date (YYYY-MM-DD): {table.loc[bad, column].iloc[0]!r}",
                    path=folder / name,
                    line=int(bad.to_numpy().nonzero()[0][0]) + 2,
                    field=column,
                )
            table[column] = parsed
    return patients, events


# Session 1: foundations of clinical terminology.


def lung_cancer_subtree() -> frozenset[str]:
    return subtree(LUNG_CANCER, open_release(FIRST_RELEASE))


def metformin_vmps() -> frozenset[str]:
    return open_release(DMD_RELEASE).children(METFORMIN)


def nmsc_icd10_category() -> str:
    icd10 = open_release(ICD10_RELEASE)
    (category,) = (
        c for c in icd10.children(SKIN_CANCER_BLOCK) if "melanoma" not in icd10.concept(c).term
    )
    return category


def check_icd10_category(answer: object) -> Check:
    if not isinstance(answer, str):
        return shape_problem("a three-character category as text, e.g. 'C99'")
    given = answer.strip().upper().rstrip(".")
    if given == nmsc_icd10_category():
        return Check(True, "That is the category.")
    found = open_release(ICD10_RELEASE).lookup(given)
    what = f"{given} is '{found.term}'" if found else f"{given} is not an ICD-10 code"
    return Check(False, "That is not the category.", [what])


CODING_SYSTEMS = {
    "snomed ct": "snomedct",
    "snomed": "snomedct",
    "snomedct": "snomedct",
    "dm+d": "dmd",
    "dmd": "dmd",
    "icd-10": "icd10",
    "icd10": "icd10",
    "opcs-4": "opcs4",
    "opcs4": "opcs4",
}
# Where each kind of record is coded in England's routine data.
CARE_SETTINGS = {
    "gp_diagnosis": "snomedct",
    "gp_prescription": "dmd",
    "hospital_diagnosis": "icd10",
    "hospital_procedure": "opcs4",
}


def coding_system_name(text: str) -> str:
    cleaned = text.strip().lower()
    return CODING_SYSTEMS.get(cleaned, cleaned)


# Session 3: data exploration.


def extract_anomalies() -> dict[str, int]:
    patients, events = read_practice_extract()
    table = anomalies(events, patients, AnomalyRules(extract_date=EXTRACT_DATE))
    return {str(r.anomaly): int(r.events) for r in table.itertuples()}


def codes_not_active() -> frozenset[str]:
    _, events = read_practice_extract()
    terminology = open_release(SECOND_RELEASE)
    return frozenset(
        code
        for code in events["code"].dropna().unique()
        if (found := terminology.lookup(str(code))) is None or not found.active
    )


def unused_lung_codes() -> frozenset[str]:
    _, events = read_practice_extract()
    used = set(events["code"].dropna().astype(str))
    return frozenset(subtree(LUNG_CANCER, open_release(SECOND_RELEASE)) - used)


def check_anomalies(answer: object) -> Check:
    wanted = {k: str(v) for k, v in extract_anomalies().items()}
    shape = "a dictionary of each kind of anomaly to its number of events, e.g. {'before birth': 0, ...}"
    if isinstance(answer, Mapping):
        answer = {str(k): v for k, v in answer.items()}
    return compare_mapping(answer, wanted, lambda s: s.strip(), shape)


# Session 4: clinical oversight and governance.

DECISION_RULE = "R4"


def check_decision(answer: object) -> Check:
    """A decision about rule R4 of the breast screening codeset, as the kit records decisions."""
    if not isinstance(answer, Mapping):
        return shape_problem(
            "a dictionary with the fields of a decision: about, decision, rationale, by, date"
        )
    try:
        decision = Decision.model_validate(dict(answer))
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        return Check(False, f"The decision is not valid: check the field(s) {', '.join(fields)}.")
    problems = []
    rules = {r.id: r for r in load_exercise("breast_screening_uptake", course_data_dir()).rules}
    if decision.about not in rules:
        problems.append(f"'about' names no rule of the codeset (its rules: {', '.join(rules)})")
    elif decision.about != DECISION_RULE:
        problems.append(
            f"'about' names {decision.about}, which is not the rule the panel discussed"
        )
    if decision.decision != "exclude":
        problems.append(f"the panel did not decide '{decision.decision}'")
    if len(decision.rationale.split()) < 8:
        problems.append("the rationale is too short to tell a later reader why")
    elif "declin" not in decision.rationale.lower():
        problems.append("the rationale does not say what about the rule was decided")
    if not decision.by.strip():
        problems.append("'by' is blank: say who decided")
    if decision.date > dt.date.today():
        problems.append("the date is in the future")
    if not problems:
        return Check(True, "A decision a reviewer can read and trust.")
    return Check(False, f"{len(problems)} part(s) of the decision need another look.", problems)


PUBLISHED_VERSION = "1.2.0"
VERSION_CHANGES: dict[str, Part] = {
    "a": "minor",  # a new release adds subtypes that the rules take in: codes are added
    "b": "major",  # a code found to be wrong is removed: earlier results cannot be reproduced
    "c": "patch",  # the purpose's wording is clarified; the codes do not change
}


def next_versions() -> dict[str, str]:
    return {k: next_version(PUBLISHED_VERSION, part) for k, part in VERSION_CHANGES.items()}


COUNTS_TO_SHARE = {"A": 3, "B": 8, "C": 12, "D": 0, "E": 57}


def shared_counts() -> dict[str, str]:
    table = pd.DataFrame({"practice": list(COUNTS_TO_SHARE), "n": list(COUNTS_TO_SHARE.values())})
    shown = protect_counts(table, ["n"], DisclosureSettings())
    return dict(zip(shown["practice"], shown["n"].astype(str), strict=True))


def shown_count(text: str) -> str:
    """A shown count as typed: '<=7' and '≤ 7' are both the suppressed 7."""
    cleaned = text.replace(" ", "").replace("<=", "≤")
    return cleaned


# Session 5: maintenance across releases.


def register_drift() -> dict[str, frozenset[str]]:
    drift = diff_releases(
        load_exercise("cancer_register", course_data_dir()),
        open_release(FIRST_RELEASE),
        open_release(SECOND_RELEASE),
    )
    return {
        "new": frozenset(c for c, _ in drift.new_codes),
        "inactivated": frozenset(c for c, *_ in drift.inactivated),
    }


def check_drift(answer: object) -> Check:
    if not isinstance(answer, Mapping) or set(answer) != {"new", "inactivated"}:
        return shape_problem(
            "a dictionary with two sets of codes: {'new': {...}, 'inactivated': {...}}"
        )
    wanted = register_drift()
    terminology = open_release(SECOND_RELEASE)
    checks = {k: compare_codes(answer[k], wanted[k], terminology) for k in ("new", "inactivated")}
    if all(c.correct for c in checks.values()):
        return Check(True, "Every new and every inactivated code, and nothing else.")
    summary = " ".join(f"{k}: {c.summary}" for k, c in checks.items() if not c.correct)
    details = [f"{k}: {d}" for k, c in checks.items() for d in c.details]
    return Check(False, summary, details)


# The spot-the-error exercises, answered with a fixed codeset.


def fix(exercise_id: str, rules: list[dict | CodesetRule], terminology_release: str) -> Codeset:
    """A learner's fix of a flawed codeset: its rules and release replaced."""
    return with_rules(load_exercise(exercise_id, course_data_dir()), rules, terminology_release)


def codeset_check(exercise_id: str) -> Callable[[Any], Check]:
    def check(answer: object) -> Check:
        if not isinstance(answer, Codeset | str | Path):
            return shape_problem(
                "a codeset: fix(exercise, rules, terminology_release) gives one from your rules"
            )
        found = grade(exercise_id, answer)
        if found.passed:
            return Check(True, found.feedback[0])
        n = len([m for m in found.feedback if not m.startswith("... and ")])
        more = " or more" if any(m.startswith("... and ") for m in found.feedback) else ""
        return Check(False, f"{n}{more} problem(s) remain.", found.feedback)

    return check


@dataclass(frozen=True)
class ExerciseView:
    """What a learner sees of a flawed codeset (what it is for, its rules and codes, what lint says),
    drawn as tables in a notebook."""

    tables: dict[str, pd.DataFrame]

    def _repr_html_(self) -> str:
        return "".join(
            f"<p><strong>{html.escape(heading)}</strong></p>{html_table(table, [])}"
            for heading, table in self.tables.items()
        )


def present(exercise_id: str) -> ExerciseView:
    """The flawed codeset of a spot-the-error exercise, from the course's data."""
    return ExerciseView(exercise_tables(exercise_id, course_data_dir()))


def unchanged(exercise_id: str) -> Callable[[Any], bool]:
    """Whether a fix is the flawed codeset as handed out (its rules and release unchanged)."""

    def same(answer: object) -> bool:
        if is_unanswered(answer):
            return True
        if not isinstance(answer, Codeset):
            return False
        flawed = load_exercise(exercise_id, course_data_dir())
        return (
            rules_as_dicts(answer) == rules_as_dicts(flawed)
            and answer.terminology_release == flawed.terminology_release
        )

    return same


def spot_the_error(
    course_id: str, session: int, exercise_id: str, hints: tuple[str, str]
) -> CourseExercise:
    flawed = exercise(exercise_id)
    return CourseExercise(
        course_id,
        session,
        f"Spot the codeset error: {exercise_id.replace('_', ' ')}",
        hints,
        f"{flawed.fault}. {flawed.lesson}",
        codeset_check(exercise_id),
        unchanged(exercise_id),
        flawed=exercise_id,
    )


COURSE: dict[str, CourseExercise] = {
    e.id: e
    for e in [
        CourseExercise(
            "E1",
            1,
            "A concept and its descendants",
            (
                "A concept's descendants are its children, their children and so on, down to the "
                "bottom of the hierarchy: one level is not enough.",
                "Open the first release and ask it for the descendants of the concept; the concept "
                "itself belongs in the answer too.",
            ),
            "A rule 'with descendants' takes a concept and every concept below it by is-a, in the "
            "release the codeset is expanded in. SNOMED CT is a polyhierarchy: a concept such as "
            "Primary malignant neoplasm of lung has more than one parent, so it is reached from "
            "more than one place.",
            lambda answer: compare_codes(
                answer, lung_cancer_subtree(), open_release(FIRST_RELEASE)
            ),
            expected=lung_cancer_subtree,
        ),
        CourseExercise(
            "E2",
            1,
            "dm+d: the products of a substance",
            (
                "dm+d is a hierarchy of medicines: a virtual therapeutic moiety (VTM, the substance) "
                "has virtual medicinal products (VMPs, generic products), each with actual products "
                "(AMPs, brands) and packs.",
                "Use the 2025 dm+d release: a product added in 2025 counts. The VMPs are one level "
                "below the VTM.",
            ),
            "Primary-care prescriptions are coded at VMP or AMP level, never with the VTM itself, "
            "so a medicines codeset built from a substance must take in every product below it, "
            "and be refreshed when a release adds one (here, a 1g modified-release tablet).",
            lambda answer: compare_codes(answer, metformin_vmps(), open_release(DMD_RELEASE)),
            expected=metformin_vmps,
        ),
        CourseExercise(
            "E3",
            1,
            "ICD-10: where non-melanoma skin cancer sits",
            (
                "ICD-10 is a classification: every condition has one place, in chapters, blocks of "
                "three-character categories, and four-character subcategories.",
                "Malignant neoplasms of skin are one block of chapter II; it holds two categories, "
                "and only one of them is melanoma.",
            ),
            "Hospital diagnoses are coded in ICD-10, where melanoma (C43) and the other skin "
            "cancers (C44) are separate categories. A cancer register built from hospital data "
            "leaves out C44, as one built from primary care leaves out the SNOMED CT concepts of "
            "non-melanoma skin cancer.",
            check_icd10_category,
            expected=nmsc_icd10_category,
        ),
        CourseExercise(
            "E4",
            1,
            "Coding across care settings",
            (
                "Each care setting records with the system its software and its national returns "
                "use; the same condition can be coded differently in each.",
                "General practice records findings and medicines with two systems, hospitals "
                "diagnoses and procedures with two others (for Hospital Episode Statistics).",
            ),
            "In England, GP systems record diagnoses in SNOMED CT and prescriptions in dm+d; "
            "hospital admissions are coded from the notes by clinical coders, in ICD-10 for "
            "diagnoses and OPCS-4 for procedures. A study using both needs a codeset in each "
            "system, and must expect differences in what each setting records and when.",
            lambda answer: compare_mapping(
                answer,
                CARE_SETTINGS,
                coding_system_name,
                "a dictionary from each kind of record to a coding system, e.g. "
                "{'gp_diagnosis': 'snomedct', ...}",
            ),
            expected=lambda: dict(CARE_SETTINGS),
        ),
        spot_the_error(
            "E5",
            2,
            "lung_cancer",
            (
                "Look at how many codes the codeset has, and at the children of its one concept.",
                "A rule can take a concept alone or the concept with every concept below it. "
                "Which does R1 do, and which does a study of lung cancer of any type need?",
            ),
        ),
        spot_the_error(
            "E6",
            2,
            "breast_cancer_diagnosis",
            (
                "The study dates a diagnosis by its first code. Which code could be recorded "
                "years after the diagnosis?",
                "Read each rule's concept and its semantic tag: is every one a disorder, or is one "
                "a situation?",
            ),
        ),
        spot_the_error(
            "E7",
            2,
            "cancer_register",
            (
                "What does the QOF cancer register leave out? Look at the skin concepts among the "
                "codes.",
                "Some cancers of the skin belong on the register and some do not: an exclusion "
                "must be narrow enough to keep one kind, and written so that a later release's "
                "subtypes follow it.",
            ),
        ),
        spot_the_error(
            "E8",
            2,
            "breast_screening_uptake",
            (
                "Coverage counts women who were screened. Does every code show a test?",
                "Read the rules one by one and ask of each: does a record of this concept mean a "
                "test took place?",
            ),
        ),
        CourseExercise(
            "E9",
            3,
            "Events that cannot be right",
            (
                "Compare each event's date with the patient's birth and death, with the date the "
                "extract was taken, and with the dates systems put in when the real one is unknown.",
                "There are five kinds: before birth, after death, in the future, on a placeholder "
                "date, and repeated (the same patient, date and code twice). One event can be of "
                "two kinds; an event on the day of death or of the extract is not an anomaly.",
            ),
            "Anomalies are counted and reported, never silently dropped: each says something "
            "about how the data were recorded (a placeholder 1900-01-01, a record entered twice, "
            "an event dated after a death that was recorded late). "
            "validation.metrics.anomalies counts them in one call.",
            check_anomalies,
            expected=extract_anomalies,
        ),
        CourseExercise(
            "E10",
            3,
            "Codes the release does not know as active",
            (
                "Look every code of the extract up in the release the practices code with.",
                "A code can be unknown to the release (a local code, a code of another system) or "
                "known but inactive; both belong in the answer.",
            ),
            "Data hold codes the codeset's release does not: inactive concepts recorded before "
            "they were retired, codes of older systems (Read codes end with a dot), and local "
            "codes of a practice's software. Find them before any analysis, count them, and "
            "decide what each means.",
            lambda answer: compare_codes(answer, codes_not_active(), None),
            expected=codes_not_active,
        ),
        CourseExercise(
            "E11",
            3,
            "Codes that find nobody",
            (
                "Expand the lung cancer concept with its descendants in the 2025 release, then "
                "look for each code among the extract's events.",
                "Count every event, anomalous or not: the question is whether a code is used at "
                "all.",
            ),
            "A codeset's unused codes are not wrong, but they test an assumption: that the data "
            "are coded the way the codeset expects. Many unused codes (or one code finding almost "
            "everyone) is a reason to look again; validation.metrics.code_usage marks both.",
            lambda answer: compare_codes(answer, unused_lung_codes(), open_release(SECOND_RELEASE)),
            expected=unused_lung_codes,
        ),
        CourseExercise(
            "E12",
            4,
            "Record a decision",
            (
                "A decision in the kit has five fields: what it is about, the decision, why, who "
                "made it and when.",
                "It is about a rule of the breast screening codeset (its id, as in the rules "
                "table); the rationale says, in a sentence a later reader understands, what was "
                "decided about declined screening and why.",
            ),
            "A decision recorded beside the rule it concerns (about, decision, rationale, by, "
            "date) lets a reviewer, a later analyst and the methods record see why the codeset "
            "is as it is; `codeset lint` flags a decision about nothing, and publishing waits "
            "for every decision still under review.",
            check_decision,
        ),
        CourseExercise(
            "E13",
            4,
            "Version a published codeset",
            (
                "A published version never changes: every change makes a new version, which "
                "`codeset bump` starts.",
                "Apply the course's rule to each change in turn: codes removed, the major part; "
                "codes added, the minor part; only words changed, the patch part.",
            ),
            "Semantic versions tell a reader of a study what kind of change separates two "
            "versions: a removed code can change earlier results, an added code extends them, "
            "and a wording change leaves them as they were.",
            lambda answer: compare_mapping(
                answer,
                next_versions(),
                lambda s: s.strip().lstrip("v"),
                "a dictionary from each change ('a', 'b', 'c') to the next version, e.g. "
                "{'a': '9.9.9', ...}",
            ),
            expected=next_versions,
        ),
        CourseExercise(
            "E14",
            4,
            "Counts that may leave the research environment",
            (
                "The study's rule: counts of 7 or fewer are suppressed, every other count is "
                "rounded to the nearest 5.",
                "Write a suppressed count as '<=7'; zero is shown as it is, since it reveals "
                "nobody; round half to even, as the kit does.",
            ),
            "Small counts can identify people, so outputs are protected before they leave the "
            "research environment; codesetlib.core.disclosure.protect_counts applies the rule, "
            "and the record checks that no shown figure gives a suppressed one back.",
            lambda answer: compare_mapping(
                answer,
                shared_counts(),
                shown_count,
                "a dictionary from each practice to the count as shown, e.g. {'A': '15', ...}",
            ),
            expected=shared_counts,
        ),
        spot_the_error(
            "E15",
            5,
            "bladder_cancer",
            (
                "Look at the `active` column of codes.csv and at what lint says.",
                "The release's history says what an inactive concept became: "
                "`terminology.replacements(code)` names it.",
            ),
        ),
        spot_the_error(
            "E16",
            5,
            "colorectal_cancer_2025",
            (
                "The data are coded with the 2025 release. Which release is the codeset expanded "
                "in?",
                "Compare the codes the same rules give in each release: which concepts of the "
                "data's release does the codeset lack?",
            ),
        ),
        CourseExercise(
            "E17",
            5,
            "Release drift of the cancer register",
            (
                "Expand the same rules in both releases and compare; look also at which codes of "
                "the first expansion the second release inactivates.",
                "codesetlib.codesets.diff.diff_releases does both; its new_codes and inactivated "
                "hold the codes with their terms.",
            ),
            "A new release adds concepts below the rules' concepts (they join the codeset only if "
            "it is expanded again) and inactivates others (data keep them, so a codeset for "
            "historic data keeps them too). Review both at every release, and bump the version.",
            check_drift,
            expected=register_drift,
        ),
    ]
}


def course_exercise(exercise_id: str) -> CourseExercise:
    """The course exercise with this id; refuses an unknown one, naming those there are."""
    if exercise_id not in COURSE:
        raise BuilderError(f"no course exercise '{exercise_id}' (exercises: {', '.join(COURSE)})")
    return COURSE[exercise_id]


def session_exercises(session: int) -> list[CourseExercise]:
    """The exercises of one session, in order."""
    if session not in SESSIONS:
        raise BuilderError(f"no session {session} (sessions: {', '.join(map(str, SESSIONS))})")
    return [e for e in COURSE.values() if e.session == session]


def grade_exercise(exercise_id: str, answer: object, attempt: int = 1) -> Feedback:
    """Grade an answer to a course exercise; `attempt` chooses how much the feedback reveals."""
    return course_exercise(exercise_id).feedback(answer, attempt)


def answer_key(answer: object) -> str:
    """A fingerprint of an answer, so that running the same answer again is not a new attempt."""
    if isinstance(answer, Codeset):
        return answer.model_dump_json()
    if isinstance(answer, set | frozenset):
        return repr(sorted(map(repr, answer)))
    return repr(answer)


class Coach:
    """A learner's tries at each exercise: each distinct answer reveals the next step of feedback,
    re-running the same answer does not, and an untouched answer never does."""

    def __init__(self) -> None:
        self.tried: dict[str, list[str]] = {}

    def check(self, exercise_id: str, answer: object) -> Feedback:
        chosen = course_exercise(exercise_id)
        if chosen.untouched(answer):
            return chosen.feedback(answer, 1)
        tried = self.tried.setdefault(exercise_id, [])
        key = answer_key(answer)
        if key not in tried:
            tried.append(key)
        return chosen.feedback(answer, len(tried))


# The students' folder.

NOTEBOOK_SUFFIX = ".ipynb"


def why_not_a_student_release(folder: Path) -> str | None:
    """None when `folder` is empty or a student release the kit wrote (its manifest lists every file
    in it with the hash it was written with); otherwise what is there that the kit did not write."""
    if not folder.is_dir() or folder.is_symlink():
        return "is not a folder the kit wrote"
    files = sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    if not files:
        return None
    manifest_path = folder / RELEASE_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        written = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"holds no {RELEASE_MANIFEST} of the kit's, so the kit did not write it"
    theirs = [
        str(p.relative_to(folder))
        for p in files
        if p != manifest_path
        and (
            p.is_symlink()
            or written.get(str(p.relative_to(folder))) != hashlib.sha256(p.read_bytes()).hexdigest()
        )
    ]
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        return f"holds {shown}, which the kit did not write (or which changed since)"
    return None


def nbgrader(course_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory `course_dir` (with its nbgrader_config.py), as
    a lecturer types it; its output is kept, and a failure is an error that shows it."""
    # nbgrader runs `alembic` by name, so the environment's scripts must be on the PATH.
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments],
        cwd=course_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CodesetError(
            f"nbgrader {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}", path=course_dir
        )
    return done


def copy_course(course_dir: Path, to: Path) -> Path:
    """A copy of the course's sources and nbgrader settings, where nbgrader may write its
    gradebook and release/ without touching the kit's folder."""
    shutil.copytree(course_dir / "source", to / "source")
    shutil.copy2(course_dir / "nbgrader_config.py", to / "nbgrader_config.py")
    return to


def generate_assignments(course_dir: Path, pattern: str = "*") -> list[str]:
    """Run `nbgrader generate_assignment` in `course_dir` for the assignments of its `source/` whose
    names match `pattern` (all, by default, in one run); the assignments released."""
    nbgrader(course_dir, "generate_assignment", pattern, "--force")
    return sorted(p.name for p in (course_dir / "release").glob(pattern) if p.is_dir())


def write_student_release(
    target: str | Path = STUDENT_RELEASE_DIR,
    course_dir: str | Path = COURSE_DIR,
    data_dir: str | Path = EXERCISES_DIR,
    *,
    force: bool = False,
) -> Path:
    """Write the folder students receive: each session's notebook as nbgrader releases it (no
    solutions, no hidden tests) and `data/` (the flawed codesets and the practice extract), with a
    manifest of every file. Refuses to replace a folder the kit did not write unless `force`."""
    target, course, data = resolve(target), resolve(course_dir), resolve(data_dir)
    atomic.refuse_existing(
        target, force=force, not_owned=why_not_a_student_release, replace_with="the release"
    )
    with tempfile.TemporaryDirectory(prefix="codeset-course-") as scratch:
        copy = copy_course(course, Path(scratch) / "course")
        names = generate_assignments(copy)
        with atomic.folder_written_whole(target) as staging:
            for name in names:
                shutil.copytree(copy / "release" / name, staging / name)
            shutil.copytree(data, staging / "data", ignore=shutil.ignore_patterns(".*"))
            shutil.copy2(course / "STUDENTS.md", staging / "README.md")
            files = sorted(p for p in staging.rglob("*") if p.is_file())
            manifest = {
                "written_by": "codesetlib.teaching.course.write_student_release",
                "files": {
                    str(p.relative_to(staging)): hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in files
                },
            }
            atomic.write_text(staging / RELEASE_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return target
