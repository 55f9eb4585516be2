"""Compile a cohort definition to an Ibis relational plan, the same for every engine that runs it.

The plan works on a *frame* of (patient_id, index_date) rows: one per patient for a fixed index date,
the patient's first event for a per-patient index date, or one per patient and interval for measures
(computed in one pass). Every criterion is an aggregate of events joined to the frame, so a patient
has as many index dates as the frame gives them without changing the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohort.dates import Offset, add_offset
from codesetlib.cohort.model import AGE_BANDS, CodesetCodes, CohortDefinition, Criterion, Window

KEYS = ["patient_id", "index_date"]
CODES_SCHEMA = {"codeset": "string", "code": "string", "category": "string"}
# Stands in for a missing value when ordering events, so nulls sort the same on every engine.
NO_VALUE = -1.0e300


@dataclass(frozen=True)
class CohortPlan:
    """The plan of one cohort: every patient-row with its columns, and the ordered entry steps."""

    rows: ir.Table
    steps: list[tuple[str, ir.BooleanValue]]
    output_columns: list[str]

    def patients(self) -> ir.Table:
        """The rows that pass every step, with the output columns, in patient order."""
        kept = self.rows.filter(*[cond for _, cond in self.steps]) if self.steps else self.rows
        return kept.order_by(KEYS).select(*self.output_columns)

    def attrition(self) -> ir.Table:
        """One row: the rows at the start and after each step, in one aggregate."""
        counts = {"step_0": self.rows.count()}
        passed = ibis.literal(True)
        for i, (_, cond) in enumerate(self.steps, start=1):
            passed = passed & cond
            counts[f"step_{i}"] = passed.cast("int64").sum().fill_null(0)
        return self.rows.aggregate(**counts)


def codes_relation(codesets: Mapping[str, CodesetCodes]) -> ir.Table:
    """Every codeset's codes as one table (codeset, code, category) to join events against."""
    rows = [
        (codeset_id, code, category)
        for codeset_id, codeset in sorted(codesets.items())
        for code, category in sorted(codeset.codes.items())
    ]
    frame = pd.DataFrame(rows, columns=list(CODES_SCHEMA)).astype("object")
    return ibis.memtable(frame, schema=CODES_SCHEMA)


def shifted(date: ir.DateValue, offset: Offset) -> ir.DateValue:
    """`date` moved by `offset` (months and years clamp to the month end, as dates.add_offset)."""
    return date + ibis.interval(**{offset.unit: offset.amount})


def in_window(
    event_date: ir.DateValue, index_date: ir.DateValue, window: Window
) -> ir.BooleanValue:
    """Whether the event falls in the window around the index date, both ends inclusive."""
    cond = ibis.literal(True)
    if window.start is not None:
        cond &= event_date >= shifted(index_date, window.start)
    if window.end is not None:
        cond &= event_date <= shifted(index_date, window.end)
    return cond


def coded_events(events: ir.Table, codes: ir.Table, codeset: str) -> ir.Table:
    """Events whose code is in `codeset`, with the code's category."""
    wanted = codes.filter(codes.codeset == codeset).select("code", "category")
    return events.join(wanted, "code")


def index_frame(
    definition: CohortDefinition, tables: Mapping[str, ir.Table], codes: ir.Table
) -> ir.Table:
    """(patient_id, index_date): the fixed date for every patient, or each one's first event."""
    index = definition.index_date
    if not index.per_patient:
        patients = tables["patients"]
        return patients.select("patient_id", index_date=ibis.literal(index.date, type="date"))
    events = coded_events(tables[index.table], codes, index.first_event_of)
    if index.on_or_after:
        events = events.filter(events.date >= ibis.literal(index.on_or_after, type="date"))
    if index.on_or_before:
        events = events.filter(events.date <= ibis.literal(index.on_or_before, type="date"))
    return events.group_by("patient_id").agg(index_date=events.date.min())


def interval_frame(
    patients: ir.Table, interval_starts: list[dt.date], interval_ends: list[dt.date]
) -> ir.Table:
    """Every patient once per interval; the index date is the interval's last day."""
    intervals = ibis.memtable(
        pd.DataFrame({"interval_start": interval_starts, "index_date": interval_ends}),
        schema={"interval_start": "date", "index_date": "date"},
    )
    return patients.select("patient_id").cross_join(intervals)


def age_in_years(date_of_birth: ir.DateValue, on: ir.DateValue) -> ir.IntegerValue:
    """Whole years from birth to `on` (a 29 Feb birthday falls on 1 Mar in other years)."""
    before_birthday = (on.month() * 100 + on.day()) < (
        date_of_birth.month() * 100 + date_of_birth.day()
    )
    return on.year() - date_of_birth.year() - before_birthday.cast("int64")


def age_band(age: ir.IntegerValue) -> ir.StringValue:
    """The age band label, e.g. `18-39`, `80+`."""
    branches = [
        (age <= high if high is not None else age >= low, f"{low}-{high}" if high else f"{low}+")
        for low, high in AGE_BANDS
    ]
    return ibis.cases(*branches)


def with_patient_columns(
    frame: ir.Table, tables: Mapping[str, ir.Table], needs: set[str]
) -> ir.Table:
    """The frame with sex, age, deprivation, and (when needed) the practice registered at."""
    patients = tables["patients"]
    wanted = ["sex", "date_of_birth", "date_of_death"]
    if "imd_quintile" in needs:
        wanted.append("imd_quintile")
    rows = frame.join(patients.select("patient_id", *wanted), "patient_id")
    age = age_in_years(rows.date_of_birth, rows.index_date)
    rows = rows.mutate(
        age=age, alive=rows.date_of_death.isnull() | (rows.date_of_death > rows.index_date)
    )
    rows = rows.mutate(age_band=age_band(rows.age))
    if needs & {"practice_id", "borough", "registered"}:
        rows = _with_registration(rows, tables, "borough" in needs)
    return rows


def _with_registration(rows: ir.Table, tables: Mapping[str, ir.Table], borough: bool) -> ir.Table:
    """The practice each row is registered at on its index date (latest start, then lowest id)."""
    reg = tables["registrations"]
    frame = rows.select(*KEYS)
    covering = frame.join(
        reg,
        [
            frame.patient_id == reg.patient_id,
            reg.start_date <= frame.index_date,
            reg.end_date.isnull() | (reg.end_date >= frame.index_date),
        ],
    ).select(*KEYS, "practice_id", "start_date")
    order = ibis.window(group_by=KEYS, order_by=[ibis.desc("start_date"), ibis.asc("practice_id")])
    chosen = (
        covering.mutate(rank=ibis.row_number().over(order))
        .filter(lambda t: t["rank"] == 0)
        .select(*KEYS, "practice_id")
    )
    if borough:
        practices = tables["practices"].select("practice_id", "borough")
        chosen = chosen.left_join(practices, "practice_id").select(*KEYS, "practice_id", "borough")
    joined = rows.left_join(chosen, KEYS)
    joined = joined.drop(*[c for c in joined.columns if c.endswith("_right")])
    return joined.mutate(registered=joined.practice_id.notnull())


def criterion_relation(
    frame: ir.Table,
    criterion: Criterion,
    tables: Mapping[str, ir.Table],
    codes: ir.Table,
    fixed_index: dt.date | None = None,
) -> ir.Table:
    """(patient_id, index_date, <criterion>) for the frame rows with an event in the window.

    With one index date for everyone the window's bounds are computed once (by `dates.add_offset`,
    the same arithmetic) and the events filtered before grouping, without joining the frame.
    """
    events = coded_events(tables[criterion.table], codes, criterion.codeset)
    columns = ["patient_id", "date", "code", "category"]
    if "value" in events.columns:
        columns.append("value")
    events = events.select(*columns).rename(event_date="date")
    if fixed_index is not None:
        index = ibis.literal(fixed_index, type="date")
        joined = events.filter(_fixed_window(events.event_date, fixed_index, criterion.window))
        joined = joined.mutate(index_date=index)
    else:
        keys = frame.select(*KEYS)
        joined = keys.join(events, "patient_id")
        joined = joined.filter(in_window(joined.event_date, joined.index_date, criterion.window))
    if criterion.returns in ("exists", "count"):
        return joined.group_by(KEYS).agg(**{criterion.name: joined.count()})
    return _picked_event(joined, criterion)


def _fixed_window(event_date: ir.DateValue, index: dt.date, window: Window) -> ir.BooleanValue:
    cond = ibis.literal(True)
    if window.start is not None:
        cond &= event_date >= ibis.literal(add_offset(index, window.start), type="date")
    if window.end is not None:
        cond &= event_date <= ibis.literal(add_offset(index, window.end), type="date")
    return cond


def _picked_event(joined: ir.Table, criterion: Criterion) -> ir.Table:
    """The first or last event in the window, ties broken by code and then value, the same way."""
    if criterion.field == "date":
        date = joined.event_date
        picked = date.min() if criterion.which == "first" else date.max()
        return joined.group_by(KEYS).agg(**{criterion.name: picked})
    key = {"date": joined.event_date, "code": joined.code}
    if "value" in joined.columns:
        key["value"] = joined.value.fill_null(NO_VALUE)
    order = ibis.struct(key)
    field = joined[criterion.field]
    picked = field.argmin(order) if criterion.which == "first" else field.argmax(order)
    return joined.group_by(KEYS).agg(**{criterion.name: picked})


def compile_plan(
    definition: CohortDefinition,
    codesets: Mapping[str, CodesetCodes],
    tables: Mapping[str, ir.Table],
    frame: ir.Table | None = None,
    extra_columns: tuple[str, ...] = (),
) -> CohortPlan:
    """The definition's plan over `tables`; `frame` replaces the index dates (for measures)."""
    codes = codes_relation({k: v for k, v in codesets.items() if k in definition.codesets_used()})
    fixed_index = definition.index_date.date if frame is None else None
    frame = frame if frame is not None else index_frame(definition, tables, codes)
    outputs = definition.output_columns()
    needs = set(outputs) | set(extra_columns)
    if definition.population.registered:
        needs.add("registered")
    rows = with_patient_columns(frame, tables, needs)
    for criterion in definition.criteria:
        found = criterion_relation(frame, criterion, tables, codes, fixed_index)
        rows = rows.left_join(found, KEYS)
        rows = rows.drop(*[c for c in rows.columns if c.endswith("_right")])
        if criterion.returns == "exists":
            rows = rows.mutate(**{criterion.name: rows[criterion.name].fill_null(0) > 0})
        elif criterion.returns == "count":
            rows = rows.mutate(**{criterion.name: rows[criterion.name].fill_null(0)})
    for flag in definition.flags:
        value = rows[flag.of]
        cond = value.notnull()
        if flag.at_most is not None:
            cond &= value <= flag.at_most
        if flag.at_least is not None:
            cond &= value >= flag.at_least
        rows = rows.mutate(**{flag.name: cond.fill_null(False)})
    return CohortPlan(rows=rows, steps=entry_steps(definition, rows), output_columns=outputs)


def entry_steps(definition: CohortDefinition, rows: ir.Table) -> list[tuple[str, ir.BooleanValue]]:
    """The population conditions and then the rules, in order, each with its description."""
    pop = definition.population
    steps: list[tuple[str, ir.BooleanValue]] = []
    if pop.registered:
        steps.append(("registered on the index date", rows.registered))
    if pop.alive:
        steps.append(("alive on the index date", rows.alive))
    if pop.age_min is not None or pop.age_max is not None:
        cond = ibis.literal(True)
        if pop.age_min is not None:
            cond &= rows.age >= pop.age_min
        if pop.age_max is not None:
            cond &= rows.age <= pop.age_max
        high = "" if pop.age_max is None else str(pop.age_max)
        steps.append((f"aged {pop.age_min or 0}-{high} on the index date", cond))
    if pop.sex is not None:
        steps.append((f"sex {', '.join(pop.sex)}", rows.sex.isin(pop.sex)))
    for rule in definition.rules:
        flag = rows[rule.criterion]
        steps.append((rule.describe(), flag if rule.action == "include" else ~flag))
    return steps
