"""The spec suite keeps its own promises: gaps name real engines and sections, and every chapter
holds at least three examples, each run through `spec_test` on every engine."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.spec.engines import ENGINE_NAMES
from tests.spec.gaps import GAPS, MODES

SPEC = Path(__file__).parent
CHAPTERS = [
    "windows",
    "returns",
    "population",
    "rules",
    "flags",
    "measures",
    "attrition",
    "per_patient_index_dates",
]


def examples(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def test_every_gap_names_an_engine_and_a_chapter_or_section_that_exist():
    sections = {f"{p.parent.name}/{p.stem.removeprefix('test_')}" for p in SPEC.glob("*/test_*.py")}
    for (engine, where), gap in GAPS.items():
        assert engine in ENGINE_NAMES, engine
        assert where == "*" or where in CHAPTERS or where in sections, where
        assert gap.modes and set(gap.modes) <= set(MODES), gap.modes


def test_every_chapter_has_three_examples_and_each_runs_on_every_engine():
    assert sorted(p.name for p in SPEC.iterdir() if (p / "__init__.py").is_file()) == sorted(
        CHAPTERS
    )
    for chapter in CHAPTERS:
        found = [f for path in (SPEC / chapter).glob("test_*.py") for f in examples(path)]
        assert len(found) >= 3, chapter
        for function in found:
            assert [a.arg for a in function.args.args] == ["spec_test"], function.name
