"""Reading the course's nbgrader source notebooks: their solutions, and answers filled in from them."""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
COURSE_DIR = ROOT / "teaching"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR ANSWER HERE"


def source_notebooks() -> list[Path]:
    return sorted((COURSE_DIR / "source").glob("*/*.ipynb"))


def solution_of(source: str) -> str:
    """The lines between the solution markers of a cell."""
    lines = source.splitlines()
    return "\n".join(lines[lines.index(BEGIN) + 1 : lines.index(END)])


def solutions(path: Path) -> dict[str, str]:
    """Each answer cell's solution, by its nbgrader grade id."""
    cells = nbformat.read(path, as_version=4).cells
    return {
        c.metadata["nbgrader"]["grade_id"]: solution_of(c.source)
        for c in cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def solution_strings(path: Path, shortest: int = 12) -> set[str]:
    """Lines of the notebook's solutions that appear nowhere else in it (a solution line that the
    handed-out cell also holds, such as `rules = [`, gives nothing away)."""
    cells = nbformat.read(path, as_version=4).cells
    outside: set[str] = set()
    inside: set[str] = set()
    for cell in cells:
        solving = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped in (BEGIN, END):
                solving = stripped == BEGIN
                continue
            (inside if solving else outside).add(stripped)
    return {line for line in inside - outside if len(line) >= shortest}


def filled_in(released: Path, answers: dict[str, str], to: Path) -> Path:
    """A released notebook with the answers (by grade id) written in place of the stub, as a
    student would write them; answer cells not named are left untouched."""
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert STUB in cell.source, cell.source
            cell.source = cell.source.replace(STUB, answers[grade_id])
    to.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, to)
    return to
