"""What every Ibis-backed engine shares: checks, compiling the plan, running it and showing its SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohort.checks import check_definition
from codesetlib.cohort.model import CodesetCodes, CohortDefinition
from codesetlib.cohort.plan import CohortPlan, compile_plan, interval_frame

DATASET_TABLES = ["patients", "registrations", "practices", "clinical_events", "medications"]


class IbisEngine:
    """An engine whose tables are Ibis tables on one backend connection."""

    name = "ibis"
    dialect = "duckdb"

    def __init__(self, con: ibis.BaseBackend, tables: dict[str, ir.Table]) -> None:
        self.con = con
        self.tables = tables

    def table(self, name: str) -> ir.Table:
        return self.tables[name]

    def schemas(self) -> dict[str, set[str]]:
        """The columns of each table the dataset holds, for checking a definition before running."""
        return {name: set(table.columns) for name, table in self.tables.items()}

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        return self.con.execute(expr)

    def sql(self, expr: ir.Table) -> str:
        """The SQL the engine runs for `expr`, saved for the record."""
        return str(ibis.to_sql(expr, dialect=self.dialect))

    def plan(
        self,
        definition: CohortDefinition,
        codesets: Mapping[str, CodesetCodes],
        frame: ir.Table | None = None,
        extra_columns: tuple[str, ...] = (),
    ) -> CohortPlan:
        """The checked, compiled plan of `definition` over this engine's tables."""
        check_definition(definition, codesets, self.schemas(), extra_columns)
        return compile_plan(definition, codesets, self.tables, frame, extra_columns)

    def cohort(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame:
        """One row per patient (and index date) in the cohort, with the output columns."""
        return self.execute(self.plan(definition, codesets).patients())

    def cohort_sql(self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]) -> str:
        """The SQL of the cohort, for the record."""
        return self.sql(self.plan(definition, codesets).patients())

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

        The patients are joined to a table of intervals; each interval's last day is the index date.
        """
        frame = interval_frame(self.tables["patients"], interval_starts, interval_ends)
        extra = tuple({numerator, *([denominator] if denominator else []), *group_by})
        check_definition(definition, codesets, self.schemas(), extra)
        plan = compile_plan(definition, codesets, self.tables, frame, extra)
        return self.execute(measure_expr(plan, numerator, denominator, group_by))


def measure_expr(
    plan: CohortPlan, numerator: str, denominator: str | None, group_by: list[str]
) -> ir.Table:
    """Group the plan's rows that pass every step (and the denominator) by interval and group."""
    rows = plan.rows.filter(*[cond for _, cond in plan.steps]) if plan.steps else plan.rows
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
