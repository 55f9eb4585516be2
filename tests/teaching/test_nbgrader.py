"""The course runs through nbgrader as a lecturer runs it: generate the assignment from the source
notebooks, collect three students' notebooks (one right, one handed in untouched, one half right),
autograde them, and read the scores back from the gradebook."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from codesetlib.teaching.course import copy_course, generate_assignments, nbgrader
from tests.teaching.course_notebooks import COURSE_DIR, STUB, filled_in, solutions

ASSIGNMENT = "session_1"
SOURCE = COURSE_DIR / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated, submitted and autograded course for every test here (nbgrader executes each
    submitted notebook, so it is done once)."""
    course = copy_course(COURSE_DIR, tmp_path_factory.mktemp("course"))
    assert generate_assignments(course, ASSIGNMENT) == [ASSIGNMENT]
    released = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    right = solutions(SOURCE)
    half = {
        **right,
        # E2: only the products of the first release; E4: hospital systems swapped.
        "E2_answer": right["E2_answer"].replace(', "10089999999105"', ""),
        "E4_answer": right["E4_answer"]
        .replace('"icd10"', '"swap"')
        .replace('"opcs4"', '"icd10"')
        .replace('"swap"', '"opcs4"'),
    }
    assert half["E2_answer"] != right["E2_answer"] and half["E4_answer"] != right["E4_answer"]
    for student, answers in {"alice": right, "bob": {}, "carol": half}.items():
        filled_in(released, answers, course / "submitted" / student / ASSIGNMENT / released.name)
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "export", "--to", "grades.csv")
    return course


def scores(course: Path) -> dict[str, tuple[float, float]]:
    with (course / "grades.csv").open(newline="") as handle:
        return {
            row["student_id"]: (float(row["score"]), float(row["max_score"]))
            for row in csv.DictReader(handle)
            if row["assignment"] == ASSIGNMENT
        }


def test_the_released_notebook_holds_stubs_not_solutions(graded_course: Path) -> None:
    released = nbformat.read(
        graded_course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )
    answer_cells = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answer_cells) == 4
    for cell in answer_cells:
        assert STUB in cell.source and "BEGIN SOLUTION" not in cell.source
        assert cell.source.startswith("answer = None")


def test_scores_from_the_gradebook(graded_course: Path) -> None:
    assert scores(graded_course) == {
        "alice": (4.0, 4.0),
        "bob": (0.0, 4.0),
        "carol": (2.0, 4.0),
    }


def test_each_test_cell_calls_the_kits_grader(graded_course: Path) -> None:
    graded = nbformat.read(
        graded_course / "autograded" / "carol" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in graded.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert sorted(tests) == ["E1_test", "E2_test", "E3_test", "E4_test"]
    for grade_id, cell in tests.items():
        assert f'grade_exercise("{grade_id[:2]}", answer).correct' in cell.source
    failed = {g for g, c in tests.items() if any(o.output_type == "error" for o in c.outputs)}
    assert failed == {"E2_test", "E4_test"}
    # The feedback cell before a failed test shows the first hint (this is carol's first try).
    feedback = [
        c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "E2_feedback"
    ]
    shown = feedback[0].outputs[0]["data"]["text/plain"]
    assert "NOT YET (hint 1)" in shown and "Hint 1: dm+d is a hierarchy" in shown
