"""The course's exercises: at least twelve over five sessions, each grader accepting the answer it
expects (or the lecturer's solution) and refusing wrong ones, feedback that reveals a hint, a second
hint, then the explanation, an untouched answer that never gets more than the first hint, and no
glyph that needs an emoji font."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from codesetlib.core.errors import DatasetError
from codesetlib.teaching import BuilderError
from codesetlib.teaching.course import (
    COURSE,
    SESSIONS,
    Coach,
    course_data_dir,
    fix,
    grade_exercise,
    read_practice_extract,
    session_exercises,
)
from codesetlib.teaching.exercises import (
    EXERCISES,
    SOLUTIONS_DIR,
    GradeResult,
    grade,
    load_exercise,
    rules_as_dicts,
)
from codesetlib.teaching.widgets import CodesetBuilderApp

DECISION = {
    "about": "R4",
    "decision": "exclude",
    "rationale": "A woman who declined screening was not screened, so counting it overstates coverage.",
    "by": "Reviewing clinician",
    "date": "2025-04-01",
}
# One wrong answer per exercise with a value answer, wrong in a way a learner might be.
WRONG = {
    "E1": {"363358000", "93880001"},
    "E2": {"325278007", "325279004"},
    "E3": "C43",
    "E4": {
        "gp_diagnosis": "snomedct",
        "gp_prescription": "dmd",
        "hospital_diagnosis": "opcs4",
        "hospital_procedure": "icd10",
    },
    "E9": {
        "before birth": 1,
        "after death": 1,
        "in the future": 2,
        "placeholder date": 1,
        "repeated": 1,
    },
    "E10": {"B22z.", "EMISNQCA1"},
    "E11": {"363358000"},
    "E12": {**DECISION, "about": "R2"},
    "E13": {"a": "1.3.0", "b": "1.3.0", "c": "1.2.1"},
    "E14": {"A": "3", "B": "10", "C": "10", "D": "0", "E": "55"},
    "E17": {"new": {"59999999104"}, "inactivated": set()},
}


def right_answer(exercise_id: str) -> object:
    """The expected answer, or for a spot-the-error exercise the lecturer's solution."""
    chosen = COURSE[exercise_id]
    if chosen.expected is not None:
        return chosen.expected()
    if chosen.flawed is not None:
        solution = load_exercise(chosen.flawed, SOLUTIONS_DIR)
        return fix(chosen.flawed, rules_as_dicts(solution), solution.terminology_release)
    return DECISION


def wrong_answer(exercise_id: str) -> object:
    chosen = COURSE[exercise_id]
    if chosen.flawed is None:
        return WRONG[exercise_id]
    flawed = load_exercise(chosen.flawed)
    # Changed, but wrong: every cancer added to the flawed rules.
    every_cancer = {
        "id": "X1",
        "action": "include",
        "concept": "363346000",
        "term": "Malignant neoplastic disease",
    }
    return fix(chosen.flawed, [*rules_as_dicts(flawed), every_cancer], flawed.terminology_release)


def untouched_answer(exercise_id: str) -> object:
    chosen = COURSE[exercise_id]
    if chosen.flawed is None:
        return None
    flawed = load_exercise(chosen.flawed)
    return fix(chosen.flawed, rules_as_dicts(flawed), flawed.terminology_release)


def test_five_sessions_and_at_least_twelve_exercises_each_graded_in_the_kit() -> None:
    assert len(COURSE) >= 12
    assert sorted(SESSIONS) == [1, 2, 3, 4, 5]
    for session in SESSIONS:
        assert len(session_exercises(session)) >= 2
    assert {e.flawed for e in COURSE.values() if e.flawed} == set(EXERCISES)
    with pytest.raises(BuilderError, match="no course exercise 'E99'"):
        grade_exercise("E99", None)
    with pytest.raises(BuilderError, match="no session 6"):
        session_exercises(6)


@pytest.mark.parametrize("exercise_id", list(COURSE))
def test_the_right_answer_is_correct(exercise_id: str) -> None:
    feedback = grade_exercise(exercise_id, right_answer(exercise_id))
    assert feedback.correct, str(feedback)
    assert str(feedback).splitlines()[0].endswith("CORRECT")
    assert any(line.startswith("Why: ") for line in feedback.lines)


@pytest.mark.parametrize("exercise_id", list(COURSE))
def test_a_wrong_answer_reveals_hint_one_then_hint_two_then_the_explanation(
    exercise_id: str,
) -> None:
    chosen = COURSE[exercise_id]
    answer = wrong_answer(exercise_id)
    first, second, third = (grade_exercise(exercise_id, answer, n) for n in (1, 2, 3))
    assert not first.correct and not second.correct and not third.correct
    assert [f.step for f in (first, second, third)] == ["hint 1", "hint 2", "explanation"]
    assert f"Hint 1: {chosen.hints[0]}" in first.lines
    assert not any(chosen.hints[1] in line for line in first.lines)
    assert f"Hint 2: {chosen.hints[1]}" in second.lines
    assert not any(chosen.explanation in line for line in first.lines + second.lines)
    assert f"Explanation: {chosen.explanation}" in third.lines
    assert len(third.lines) > len(second.lines)  # the specific problems come with the explanation
    assert grade_exercise(exercise_id, answer, 7).step == "explanation"


def answer_atoms(value: object) -> list[str]:
    """The pieces of an expected answer as they would be written in feedback."""
    if isinstance(value, dict):
        return [a for k, v in value.items() for a in answer_atoms(v) or [f"{k}"]]
    if isinstance(value, set | frozenset | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


@pytest.mark.parametrize("exercise_id", list(COURSE))
def test_an_untouched_answer_gets_only_the_first_hint_and_never_the_answer(
    exercise_id: str,
) -> None:
    chosen = COURSE[exercise_id]
    answer = untouched_answer(exercise_id)
    for attempt in (1, 2, 5):
        feedback = grade_exercise(exercise_id, answer, attempt)
        assert not feedback.correct
        assert feedback.step == "hint 1"
        assert feedback.lines[0].startswith("You have not changed the answer yet")
        assert feedback.lines[1] == f"Hint 1: {chosen.hints[0]}"
    shown = str(grade_exercise(exercise_id, answer))
    if chosen.expected is not None:
        expected = chosen.expected()
        atoms = answer_atoms(expected)
        assert not all(atom in shown for atom in atoms), (atoms, shown)
    else:
        solution_feedback = right_answer(exercise_id)
        assert chosen.explanation not in shown
        assert solution_feedback is not None


def test_the_coach_moves_on_only_with_a_new_answer() -> None:
    coach = Coach()
    assert coach.check("E1", None).step == "hint 1"
    assert coach.check("E1", None).step == "hint 1"
    assert coach.check("E1", ["363358000"]).step == "hint 1"
    assert coach.check("E1", ["363358000"]).step == "hint 1"  # the same answer again
    assert coach.check("E1", {"363358000", "93880001"}).step == "hint 2"
    assert coach.check("E1", {"93880001", "363358000"}).step == "hint 2"  # the same set
    assert coach.check("E1", {"363358000", "254626006"}).step == "explanation"
    assert coach.check("E2", ["325278007"]).step == "hint 1"  # each exercise counts its own
    assert coach.check("E1", right_answer("E1")).correct


def test_answers_of_the_wrong_shape_say_what_shape_is_wanted() -> None:
    assert "should be a set of codes" in str(grade_exercise("E1", "363358000"))
    assert "should be a set of codes" in str(grade_exercise("E1", [363358000.5]))
    assert "should be a three-character category" in str(grade_exercise("E3", 44))
    assert "lacks the key(s) hospital_procedure" in str(
        grade_exercise("E4", {k: v for k, v in WRONG["E4"].items() if k != "hospital_procedure"})
    )
    assert "should be a codeset" in str(grade_exercise("E5", {"rules": []}))
    assert "not valid: check the field(s) date" in str(
        grade_exercise("E12", {**DECISION, "date": "someday"})
    )
    assert "should be a dictionary with two sets" in str(grade_exercise("E17", {"new": set()}))


def test_accepted_spellings() -> None:
    assert grade_exercise("E1", [int(c) for c in right_answer("E1")]).correct  # type: ignore[attr-defined]
    assert grade_exercise("E3", " c44. ").correct
    spelled = {"gp_diagnosis": "SNOMED CT", "gp_prescription": "dm+d"}
    assert grade_exercise(
        "E4", {**spelled, "hospital_diagnosis": "ICD-10", "hospital_procedure": "OPCS-4"}
    ).correct
    assert grade_exercise("E14", {"A": "≤ 7", "B": "10", "C": "10", "D": "0", "E": "55"}).correct


def test_decision_feedback_names_each_part_to_look_at_again() -> None:
    weak = {**DECISION, "about": "R9", "decision": "include", "rationale": "Because.", "by": " "}
    feedback = grade_exercise("E12", weak, 3)
    text = str(feedback)
    assert "names no rule of the codeset (its rules: R1, R2, R3, R4)" in text
    assert "did not decide 'include'" in text
    assert "rationale is too short" in text
    assert "'by' is blank" in text
    assert "the date is in the future" in str(
        grade_exercise("E12", {**DECISION, "date": "2999-01-01"}, 3)
    )


def test_the_practice_extract_reads_and_bad_files_are_refused(tmp_path: Path) -> None:
    patients, events = read_practice_extract()
    assert len(patients) == 8 and len(events) == 20
    assert course_data_dir() == Path(__file__).resolve().parents[2] / "notebooks/teaching/exercises"
    bad = tmp_path / "extract"
    bad.mkdir()
    (bad / "patients.csv").write_text("patient_id,sex,date_of_birth\n1,F,1950-01-01\n")
    with pytest.raises(DatasetError, match=r"missing column.*date_of_death") as caught:
        read_practice_extract(bad)
    assert "patients.csv" in str(caught.value)
    (bad / "patients.csv").write_text(
        "patient_id,sex,date_of_birth,date_of_death\n1,F,1950-13-01,\n"
    )
    (bad / "clinical_events.csv").write_text("event_id,patient_id,date,code\n1,1,2020-01-01,123\n")
    with pytest.raises(DatasetError, match="not a date") as caught:
        read_practice_extract(bad)
    assert "patients.csv:2: date_of_birth: is not a date" in str(caught.value)


# Glyphs: feedback is read in any terminal and any browser, so it holds no emoji or pictograph.


def pictographs(text: str) -> list[str]:
    return [
        ch
        for ch in text
        if unicodedata.category(ch) == "So"
        or 0x1F000 <= ord(ch) <= 0x1FAFF
        or 0x2600 <= ord(ch) <= 0x27BF
        or ord(ch) == 0xFE0F
    ]


def test_no_emoji_in_any_feedback() -> None:
    assert pictographs("PASSED ✅") == ["✅"]  # the check itself can fail
    for exercise_id in COURSE:
        for answer in (
            untouched_answer(exercise_id),
            wrong_answer(exercise_id),
            right_answer(exercise_id),
        ):
            for attempt in (1, 2, 3):
                feedback = grade_exercise(exercise_id, answer, attempt)
                shown = str(feedback) + feedback._repr_markdown_()
                assert pictographs(shown) == [], (exercise_id, shown)
    for exercise_id in EXERCISES:
        for result in (
            grade(exercise_id, load_exercise(exercise_id)),
            GradeResult(exercise_id, True, ["ok"]),
        ):
            assert pictographs(str(result) + result._repr_markdown_()) == []


def test_no_emoji_in_the_builder_widgets(builder, tmp_path: Path) -> None:
    app = CodesetBuilderApp(builder, drafts_dir=tmp_path / "drafts")
    app.query.value = "lung"
    app.include_button.click()  # nothing selected: an error in the message line
    texts = [app.message.value, app.concept.value, app.rules_html.value, app.codes_html.value]
    for part in (app.include_button, app.exclude_button, app.save_button, app.remove_button):
        texts.append(part.description)
    texts += [label for label, _ in app.results.options]
    assert pictographs(" ".join(texts)) == []
