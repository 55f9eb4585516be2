"""`make student-release` writes the students' folder: every session's notebook without its
solutions, the data the notebooks read, and nothing of the lecturer's; it refuses to replace a
folder the kit did not write."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from codesetlib.core.errors import CodesetError
from codesetlib.teaching.course import (
    COURSE,
    RELEASE_MANIFEST,
    SESSIONS,
    course_data_dir,
    write_student_release,
)
from tests.teaching.course_notebooks import BEGIN, COURSE_DIR, solution_strings, source_notebooks


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_student_release(tmp_path_factory.mktemp("out") / "student-release")


def texts(folder: Path) -> dict[str, str]:
    """What a student can read in each file: each notebook cell (sources and outputs), every other
    file whole."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix == ".ipynb":
            for n, cell in enumerate(nbformat.read(path, as_version=4).cells):
                found[f"{name} cell {n}"] = cell.source + json.dumps(cell.get("outputs", []))
        else:
            found[name] = path.read_text(encoding="utf-8")
    return found


def normalised(text: str) -> str:
    return "".join(text.split()).replace("'", '"').replace("<=", "≤")


def answer_atoms(value: object) -> list[str]:
    """An expected answer as the pieces its literal is written with ('"C44"', '"a":"1.3.0"')."""
    if isinstance(value, dict):
        atoms = []
        for key, item in value.items():
            inner = answer_atoms(item)
            atoms += inner if isinstance(item, set | frozenset | list) else [f'"{key}":{inner[0]}']
        return atoms
    if isinstance(value, set | frozenset | list | tuple):
        return [f'"{v}"' for v in value]
    return [json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)]


def leaks(found: dict[str, str]) -> list[str]:
    """Every solution line of the source notebooks, and every expected answer whole, that a text
    holds."""
    flat = {name: normalised(text) for name, text in found.items()}
    lines = {name: {normalised(line) for line in text.splitlines()} for name, text in found.items()}
    problems = []
    for source in source_notebooks():
        for line in solution_strings(source):
            problems += [
                f"{name}: {line}" for name, held in lines.items() if normalised(line) in held
            ]
    for chosen in COURSE.values():
        if chosen.expected is None:
            continue
        atoms = [normalised(a) for a in answer_atoms(chosen.expected())]
        problems += [
            f"{name}: {chosen.id}" for name, t in flat.items() if all(a in t for a in atoms)
        ]
    return problems


def test_the_release_holds_each_session_and_the_data(release: Path) -> None:
    for session in SESSIONS:
        assert (release / f"session_{session}" / f"session_{session}.ipynb").is_file()
    data = course_data_dir()
    for path in data.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert (release / "data" / path.relative_to(data)).read_bytes() == path.read_bytes()
    assert (release / "README.md").is_file() and (release / RELEASE_MANIFEST).is_file()


def test_no_solution_is_in_the_release(release: Path) -> None:
    found = texts(release)
    assert leaks(found) == []
    assert not any(BEGIN in text for text in found.values())
    for solution in (COURSE_DIR / "solutions").rglob("codeset.yaml"):
        assert not any(solution.read_text() in text for text in found.values())


def test_the_search_finds_solutions_where_they_are() -> None:
    """The same search over the lecturer's source notebooks finds every exercise's answer."""
    found = {}
    for source in source_notebooks():
        found |= texts(source.parent)
    flagged = leaks(found)
    for chosen in COURSE.values():
        if chosen.expected is not None:
            assert any(line.endswith(f": {chosen.id}") for line in flagged), chosen.id
    assert len(flagged) > len(COURSE)


def test_released_notebooks_read_their_data_beside_them(release: Path, monkeypatch) -> None:
    monkeypatch.chdir(release / "session_3")
    assert course_data_dir() == release / "data"


def test_a_folder_the_kit_did_not_write_is_refused(release: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "student-release"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(CodesetError, match="did not write"):
        write_student_release(theirs)
    assert (theirs / "notes.txt").read_text() == "mine"
    # The kit's own release is the kit's; one with a file changed or added is not.
    (release / "session_1" / "extra.txt").write_text("added")
    try:
        with pytest.raises(CodesetError, match=r"holds session_1/extra\.txt"):
            write_student_release(release)
    finally:
        (release / "session_1" / "extra.txt").unlink()
