"""The teaching notebooks are stored stripped and parameterised, and the exercise notebook holds no
solution: each fix cell asks the course's feedback, which reveals hints before the explanation.

(That they run top to bottom is checked by `pytest --nbval-lax notebooks/teaching`.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from codesetlib.teaching.course import COURSE
from codesetlib.teaching.exercises import EXERCISES

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "teaching"
BUILDER = NOTEBOOKS / "01_codeset_builder.ipynb"
EXERCISE_BOOK = NOTEBOOKS / "02_spot_the_codeset_error.ipynb"


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", [BUILDER, EXERCISE_BOOK], ids=lambda p: p.name)
def test_stored_without_outputs_with_a_parameters_cell_first(path: Path) -> None:
    cells = code_cells(path)
    assert all(c.outputs == [] and c.execution_count is None for c in cells)
    first = cells[0]
    assert first.metadata.get("tags") == ["parameters"]
    for name in ("dataset_dir", "codesets_dir", "release"):
        assert f"{name} = " in first.source


def test_every_exercise_has_a_fix_cell_and_no_solution() -> None:
    cells = nbformat.read(EXERCISE_BOOK, as_version=4).cells
    text = [c.source for c in cells]
    for exercise_id in EXERCISES:
        (course_id,) = [e.id for e in COURSE.values() if e.flawed == exercise_id]
        fix = [s for s in text if s.startswith("# Your fix") and f'"{exercise_id}"' in s]
        assert len(fix) == 1
        assert f'coach.check("{course_id}", fixed)' in fix[0]
    assert not any("solution" in c.source.lower() for c in cells if c.cell_type == "code")
    assert not any(c.metadata.get("tags") == ["hide-cell"] for c in cells)
    assert not any("{dropdown}" in s for s in text)
