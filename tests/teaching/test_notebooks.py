"""The teaching notebooks are stored stripped, parameterised, and hide every solution until opened.

(That they run top to bottom is checked by `pytest --nbval-lax notebooks/teaching`.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

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


def test_every_exercise_has_a_fix_cell_and_a_hidden_solution() -> None:
    cells = nbformat.read(EXERCISE_BOOK, as_version=4).cells
    text = [c.source for c in cells]
    for exercise_id in EXERCISES:
        fix = [s for s in text if s.startswith("# Your fix") and f'grade("{exercise_id}"' in s]
        assert len(fix) == 1
        solutions = [
            c
            for c in cells
            if "solutions_dir" in c.source and f'present("{exercise_id}"' in c.source
        ]
        assert [c.metadata.get("tags") for c in solutions] == [["hide-cell"]]
    assert sum("{dropdown}" in s for s in text) == len(EXERCISES)
