"""The course's book pages: every session page has its objectives, worked example, exercises and
lecturer's note; each worked example prints what the page shows; the toc lists every page; and the
overview spells out the commands a lecturer runs from a fresh clone."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml

from codesetlib.teaching.course import SESSIONS, session_exercises

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "book" / "course"
EXAMPLE = re.compile(r"```python\n(.*?)\n```\n\n```text\n(.*?)\n```", re.S)


@pytest.mark.parametrize("session", list(SESSIONS))
def test_each_session_page_has_its_parts(session: int) -> None:
    text = (PAGES / f"session_{session}.md").read_text()
    assert text.startswith(f"# Session {session}: {SESSIONS[session]}\n")
    for heading in ("Learning objectives", "Worked example", "Graded exercises", "Lecturer's note"):
        assert f"\n## {heading}\n" in text
    for chosen in session_exercises(session):
        assert f"| {chosen.id} | {chosen.title} |" in text
    for part in ("**Timing**", "**Common mistakes**", "**Discussion prompts**"):
        assert part in text


@pytest.mark.parametrize("session", list(SESSIONS))
def test_each_worked_example_prints_what_the_page_shows(
    session: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if session == 3 and not (ROOT / "data/synthetic/default/patients.parquet").is_file():
        pytest.fail("session 3's example reads the synthetic dataset: run `make data` first")
    monkeypatch.chdir(ROOT)
    examples = EXAMPLE.findall((PAGES / f"session_{session}.md").read_text())
    assert examples
    namespace: dict = {}
    for code, shown in examples:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
        assert printed.getvalue().rstrip("\n") == shown, code


def test_the_toc_lists_the_course_under_teaching() -> None:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    (teaching,) = [p for p in toc["parts"] if p["caption"] == "Teaching"]
    (course,) = [c for c in teaching["chapters"] if c["file"] == "course/overview"]
    assert [s["file"] for s in course["sections"]] == [f"course/session_{n}" for n in SESSIONS]


def test_the_overview_spells_out_the_lecturers_commands() -> None:
    text = (PAGES / "overview.md").read_text()
    for command in (
        "make lab",
        "make builder",
        "make student-release",
        'nbgrader generate_assignment "session_*" --force',
        "nbgrader autograde session_1",
        "nbgrader export --to grades.csv",
    ):
        assert command in text
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab:", "builder:", "student-release:"):
        assert f"\n{target}" in makefile


def test_the_record_names_no_exercise_fault() -> None:
    # The book is public: students read it, so each flawed codeset's fault stays in the
    # lecturer's notes.
    from codesetlib.teaching.exercises import EXERCISES

    pages = {
        p: p.read_text(encoding="utf-8")
        for p in (ROOT / "book").rglob("*.md")
        if not {"_build", "generated"} & set(p.relative_to(ROOT / "book").parts)
    }
    for exercise in EXERCISES.values():
        for page, text in pages.items():
            assert exercise.fault not in text, (exercise.id, page)
