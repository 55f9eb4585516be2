"""The spec's runner: every example on every engine, both executed and compiled to SQL.

An example is a test in `tests/spec/<chapter>/test_<section>.py` that hands `spec_test` its tables,
a cohort definition (and, for a measure, its numerator, denominator, groups and intervals) and the
output a reader would see. `spec_test` runs once per engine and mode:

- `execute`: the engine's result must equal the expected rows;
- `sql`: the engine's plan must compile to SQL text: a query over the patients table that takes the
  codes as data, never as literals in the text. The pandas reference has no SQL; its gap says so.

A table of the dataset an example does not give is written with no rows, as a real dataset has
every table; giving a table as None leaves it out.

Gaps (`tests/spec/gaps.py`) are marked strict expected failures here, at collection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from codesetlib.cohorts import CodesetCodes, CohortDefinition
from codesetlib.cohorts.engines.ibis_engine import measure_expr
from tests.spec.dataset import CODESETS, records
from tests.spec.engines import ENGINES, Tables, engine_maker, spark_engines, spark_session
from tests.spec.gaps import MODES, gap_for

__all__ = ["spark_engines", "spark_session"]

SPEC = Path(__file__).parent
Codesets = Mapping[str, CodesetCodes]


def section_of(path: Path) -> str:
    """`chapter/section` for the file `tests/spec/<chapter>/test_<section>.py`."""
    relative = path.relative_to(SPEC)
    return f"{relative.parent.as_posix()}/{relative.stem.removeprefix('test_')}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each example an engine cannot run or compile as the strict expected failure its gap
    names, before anything runs, so the report lists every gap with its reason."""
    for item in items:
        if SPEC not in item.path.parents or not hasattr(item, "callspec"):
            continue
        params = item.callspec.params
        if "engine_name" not in params:
            continue
        gap = gap_for(params["engine_name"], params["mode"], section_of(item.path))
        if gap is not None:
            item.add_marker(gap.mark())


def assert_compiles(sql: str, codesets: Codesets) -> None:
    """The SQL text is a query over the patients table, with no code spliced in as a literal."""
    assert sql.lstrip().upper().startswith(("SELECT", "WITH")), sql[:200]
    assert "patients" in sql
    spliced = sorted(c for codeset in codesets.values() for c in codeset.codes if f"'{c}'" in sql)
    assert not spliced, f"codes written into the SQL text: {spliced}"


def sort_key(row: dict, columns: list[str]) -> tuple:
    """Rows in order of `columns`, with nulls first."""
    return tuple((row[c] is not None, row[c]) for c in columns)


@dataclass(frozen=True)
class SpecTest:
    """Runs an example on one engine in one mode."""

    mode: str
    engine_for: Callable[[Tables], object]

    def cohort(
        self,
        tables: Tables,
        definition: dict,
        expected: list[dict],
        codesets: Codesets = CODESETS,
    ) -> None:
        """The cohort's rows, in patient and index date order."""
        engine = self.engine_for(tables)
        cohort = CohortDefinition.model_validate(definition)
        if self.mode == "sql":
            assert_compiles(engine.cohort_sql(cohort, codesets), codesets)
            return
        assert records(engine.cohort(cohort, codesets)) == expected

    def attrition(
        self,
        tables: Tables,
        definition: dict,
        expected: list[tuple[int, str, int, int]],
        codesets: Codesets = CODESETS,
    ) -> None:
        """The attrition table as (step, description, patients, excluded) rows."""
        engine = self.engine_for(tables)
        cohort = CohortDefinition.model_validate(definition)
        if self.mode == "sql":
            assert_compiles(engine.sql(engine.plan(cohort, codesets).attrition()), codesets)
            return
        table = engine.attrition(cohort, codesets)
        columns = ["step", "description", "patients", "excluded"]
        assert [tuple(row[c] for c in columns) for row in records(table)] == expected

    def measure(
        self,
        tables: Tables,
        definition: dict,
        *,
        numerator: str,
        denominator: str | None = None,
        group_by: tuple[str, ...] = (),
        intervals: list[tuple[dt.date, dt.date]],
        expected: list[dict],
        codesets: Codesets = CODESETS,
    ) -> None:
        """Numerator and denominator per interval (first and last day) and group, in that order."""
        engine = self.engine_for(tables)
        cohort = CohortDefinition.model_validate(definition)
        starts, ends = [start for start, _ in intervals], [end for _, end in intervals]
        if self.mode == "sql":
            # The columns and intervals the engine's `measure` plans with, to compile that plan.
            extra = tuple(sorted({numerator, *([denominator] if denominator else []), *group_by}))
            plan = engine.plan(cohort, codesets, extra, (starts, ends))
            sql = engine.sql(measure_expr(plan, numerator, denominator, list(group_by)))
            assert_compiles(sql, codesets)
            return
        found = engine.measure(
            cohort,
            codesets,
            numerator=numerator,
            denominator=denominator,
            group_by=list(group_by),
            interval_starts=starts,
            interval_ends=ends,
        )
        order = ["interval_start", *group_by]
        assert sorted(records(found), key=lambda row: sort_key(row, order)) == expected


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def spec_test(request: pytest.FixtureRequest, engine_name: str, mode: str) -> SpecTest:
    """The example's runner on each engine, in each mode."""
    return SpecTest(mode=mode, engine_for=engine_maker(request, engine_name))
