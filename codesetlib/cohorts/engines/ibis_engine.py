"""What every Ibis-backed engine shares: checks, compiling the plan, running it and showing its SQL.

Compiled plans are kept per definition, codesets and intervals, so running the same definition again
(a benchmark, a notebook re-run, attrition after the cohort) does not rebuild the plan.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohorts.checks import check_definition
from codesetlib.cohorts.model import CodesetCodes, CohortDefinition, Criterion
from codesetlib.cohorts.plan import (
    CohortPlan,
    Relation,
    compile_plan,
    in_memory,
    intervals_relation,
)
from codesetlib.core.errors import CohortError

DATASET_TABLES = ["patients", "registrations", "practices", "clinical_events", "medications"]
# Plans (and, in the DuckDB engine, SQL texts) kept per engine; the oldest are dropped first.
CACHE_SIZE = 32
T = TypeVar("T")


def remembered(cache: OrderedDict, key: Hashable, make: Callable[[], T]) -> T:
    """`cache[key]`, made (and the oldest entry dropped past CACHE_SIZE) when missing."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return value


def plan_key(
    definition: CohortDefinition,
    codesets: Mapping[str, CodesetCodes],
    extra_columns: tuple[str, ...],
    intervals: tuple[tuple[dt.date, ...], tuple[dt.date, ...]] | None,
) -> str:
    """Everything a compiled plan depends on besides the engine's tables, as text."""
    used = sorted(definition.codesets_used() & set(codesets))
    return json.dumps(
        [
            definition.model_dump(mode="json"),
            {k: codesets[k].model_dump(mode="json") for k in used},
            sorted(extra_columns),
            None if intervals is None else [[d.isoformat() for d in ds] for ds in intervals],
        ],
        sort_keys=True,
    )


class IbisEngine:
    """An engine whose tables are Ibis tables on one backend connection."""

    name = "ibis"
    dialect = "duckdb"

    def __init__(self, con: ibis.BaseBackend, tables: dict[str, ir.Table]) -> None:
        self.con = con
        self.tables = tables
        self._plans: OrderedDict[str, CohortPlan] = OrderedDict()

    def table(self, name: str) -> ir.Table:
        return self.tables[name]

    def schemas(self) -> dict[str, set[str]]:
        """The columns of each table the dataset holds, for checking a definition before running."""
        return {name: set(table.columns) for name, table in self.tables.items()}

    def relation(self, frame: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
        """A small frame (codes, intervals) as a table this engine can join against."""
        return in_memory(frame, schema)

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        return self.con.execute(expr)

    def sql(self, expr: ir.Table) -> str:
        """The SQL the engine runs for `expr`, saved for the record."""
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def plan(
        self,
        definition: CohortDefinition,
        codesets: Mapping[str, CodesetCodes],
        extra_columns: tuple[str, ...] = (),
        intervals: tuple[list[dt.date], list[dt.date]] | None = None,
    ) -> CohortPlan:
        """The checked, compiled plan of `definition` over this engine's tables.

        `intervals` (first and last days) replace the index date: one row per patient and interval.
        """
        frozen = None if intervals is None else (tuple(intervals[0]), tuple(intervals[1]))
        key = plan_key(definition, codesets, extra_columns, frozen)

        def compiled() -> CohortPlan:
            check_definition(definition, codesets, self.schemas(), extra_columns)
            relation: Relation = self.relation
            table = None if intervals is None else intervals_relation(*intervals, relation)
            return compile_plan(
                definition, codesets, self.tables, table, extra_columns, relation=relation
            )

        return remembered(self._plans, key, compiled)

    def cohort(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame:
        """One row per patient (and index date) in the cohort, with the output columns."""
        return self.execute(self.plan(definition, codesets).patients())

    def cohort_sql(self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]) -> str:
        """The SQL of the cohort, for the record."""
        return self.sql(self.plan(definition, codesets).patients())

    def patients_per_code(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes], criterion: str
    ) -> pd.DataFrame:
        """For each code of a criterion's codeset: the cohort's patients with an event of it in the
        criterion's window, and those events (code, patients, events; unused codes count zero)."""
        found = per_code_criterion(definition, criterion)
        plan = self.plan(definition, codesets)
        return self.execute(plan.patients_per_code(found))

    def attrition(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame:
        """Patients at the start and after each step, in one query."""
        plan = self.plan(definition, codesets)
        counts = self.execute(plan.attrition()).iloc[0]
        return attrition_table(
            [int(counts[f"step_{i}"]) for i in range(len(plan.steps) + 1)],
            [description for description, _ in plan.steps],
        )

    def measure(
        self,
        definition: CohortDefinition,
        codesets: Mapping[str, CodesetCodes],
        *,
        numerator: str,
        denominator: str | None,
        group_by: list[str],
        interval_starts: list[dt.date],
        interval_ends: list[dt.date],
    ) -> pd.DataFrame:
        """Numerator and denominator per interval and group, for every interval in ONE query.

        The patients are crossed with a table of intervals; each interval's last day is the index
        date.
        """
        extra = tuple(sorted({numerator, *([denominator] if denominator else []), *group_by}))
        plan = self.plan(definition, codesets, extra, (interval_starts, interval_ends))
        return self.execute(measure_expr(plan, numerator, denominator, group_by))


def named_criterion(definition: CohortDefinition, name: str) -> Criterion:
    """The definition's criterion called `name`; a CohortError naming the criteria when none is."""
    found = definition.criterion(name)
    if found is None:
        known = ", ".join(c.name for c in definition.criteria) or "none"
        raise CohortError(f"the cohort {definition.id} has no criterion {name!r} (it has: {known})")
    return found


def per_code_criterion(definition: CohortDefinition, name: str) -> Criterion:
    """The criterion whose codes are counted one by one. A window measured from another criterion's
    date is refused: counts per code are taken in the window from the index date only, and silently
    using that window instead would count the wrong events."""
    found = named_criterion(definition, name)
    if found.window.anchors:
        raise CohortError(
            f"the cohort {definition.id}: counts per code of criterion {name!r} are not available "
            f"for a window measured from {', '.join(found.window.anchors)}"
        )
    return found


def measure_expr(
    plan: CohortPlan, numerator: str, denominator: str | None, group_by: list[str]
) -> ir.Table:
    """Group the plan's rows that pass every step (and the denominator) by interval and group."""
    rows = plan.entered
    if denominator:
        rows = rows.filter(rows[denominator])
    keys = ["interval_start", "index_date", *group_by]
    counts = rows.group_by(keys).agg(
        numerator=rows[numerator].cast("int64").sum(), denominator=rows.count()
    )
    counts = counts.rename(interval_end="index_date")
    return counts.order_by(["interval_start", *group_by])


def attrition_table(counts: list[int], descriptions: list[str]) -> pd.DataFrame:
    """Step, description, patients remaining and patients excluded, from the counts after each step."""
    rows = [{"step": 0, "description": "patients with an index date", "patients": counts[0]}]
    for i, description in enumerate(descriptions, start=1):
        rows.append({"step": i, "description": description, "patients": counts[i]})
    table = pd.DataFrame(rows)
    table["excluded"] = (-table["patients"].diff()).fillna(0).astype("int64")
    return table
