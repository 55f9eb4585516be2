"""Compile a cohort definition to an Ibis relational plan, the same for every engine that runs it.

The plan works on *rows* of (patient_id, index_date): one per patient for a fixed index date, the
patient's first event for a per-patient index date, or one per patient and interval for measures
(computed in one pass). Every criterion is an aggregate of events in its window, so a patient has as
many index dates as the rows give them without changing the plan.

Two relations come out of one definition. `rows` keeps every row with every step's column, for
attrition counts. `entered` gives the same rows that pass every step but is built the way a person
would write the query: the population conditions first, then each include (exclude) rule as a semi
(anti) join, and only then the remaining criteria, each group of criteria sharing codeset, table and
window computed as one aggregate and joined once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohorts.dates import Offset, add_offset
from codesetlib.cohorts.model import (
    AGE_BANDS,
    CodesetCodes,
    CohortDefinition,
    Criterion,
    Population,
    ValueFlag,
    Window,
)
from codesetlib.cohorts.relations import named_memtable

KEYS = ["patient_id", "index_date"]
CODES_SCHEMA = {"codeset": "string", "code": "string", "category": "string"}
INTERVALS_SCHEMA = {"interval_start": "date", "index_date": "date"}
# Stands in for a missing value when ordering events, so nulls sort the same on every engine.
NO_VALUE = -1.0e300

# Turns a small pandas frame (codes, intervals) into a table the engine can join against.
Relation = Callable[[pd.DataFrame, dict[str, str]], ir.Table]


def in_memory(frame: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
    """The frame as an Ibis in-memory table named by its content (registered by the backend when it
    runs); a plan builds each such table once."""
    return named_memtable(frame, schema, "cohort_relation")


@dataclass(frozen=True)
class CohortPlan:
    """The plan of one cohort: every row with its step columns, the ordered entry steps, and the
    rows that pass every step (built with the steps applied first)."""

    rows: ir.Table
    steps: list[tuple[str, ir.BooleanValue]]
    entered: ir.Table
    output_columns: list[str]
    sources: Sources

    def patients(self) -> ir.Table:
        """The rows that pass every step, with the output columns, in patient order."""
        return self.entered.order_by(KEYS).select(*self.output_columns)

    def attrition(self) -> ir.Table:
        """One row: the rows at the start and after each step, in one aggregate."""
        counts = {"step_0": self.rows.count()}
        passed = ibis.literal(True)
        for i, (_, cond) in enumerate(self.steps, start=1):
            passed = passed & cond
            counts[f"step_{i}"] = passed.cast("int64").sum().fill_null(0)
        return self.rows.aggregate(**counts)

    def patients_per_code(self, criterion: Criterion) -> ir.Table:
        """For each code of the criterion's codeset: the patients of the cohort with an event of it
        in the criterion's window, and those events; codes no one has count zero. Most patients
        first, then by code."""
        sources = self.sources
        events = window_events(criterion, sources)
        rows = self.entered.select(*KEYS)
        predicates = [rows.patient_id == events.patient_id]
        if sources.fixed_index is None:
            predicates += in_window(events.event_date, rows.index_date, criterion.window)
        found = rows.join(events, predicates).select(events.patient_id, events.code)
        per_code = found.group_by("code").agg(
            patients=found.patient_id.nunique(), events=found.count()
        )
        codes = sources.codes.filter(sources.codes.codeset == criterion.codeset).select("code")
        counted = codes.left_join(per_code, codes.code == per_code.code).select(
            code=codes.code,
            patients=ibis.coalesce(per_code.patients, 0),
            events=ibis.coalesce(per_code.events, 0),
        )
        return counted.order_by([ibis.desc("patients"), "code"])


@dataclass(frozen=True)
class Sources:
    """What every part of the plan reads: the tables, the codes, and the fixed index date if any.

    With one index date for everyone the windows' bounds are computed once (by `dates.add_offset`,
    the same arithmetic) and events are filtered by them and matched on patient alone.
    """

    tables: Mapping[str, ir.Table]
    codes: ir.Table
    fixed_index: dt.date | None

    @property
    def keys(self) -> list[str]:
        return ["patient_id"] if self.fixed_index is not None else KEYS


def codes_relation(
    codesets: Mapping[str, CodesetCodes], relation: Relation = in_memory
) -> ir.Table:
    """Every codeset's codes as one table (codeset, code, category) to join events against."""
    rows = [
        (codeset_id, code, category)
        for codeset_id, codeset in sorted(codesets.items())
        for code, category in sorted(codeset.codes.items())
    ]
    return relation(pd.DataFrame(rows, columns=list(CODES_SCHEMA)).astype("object"), CODES_SCHEMA)


def intervals_relation(
    interval_starts: list[dt.date], interval_ends: list[dt.date], relation: Relation = in_memory
) -> ir.Table:
    """(interval_start, index_date): one row per interval; the index date is its last day."""
    frame = pd.DataFrame({"interval_start": interval_starts, "index_date": interval_ends})
    return relation(frame, INTERVALS_SCHEMA)


def shifted(date: ir.DateValue, offset: Offset) -> ir.DateValue:
    """`date` moved by `offset` (months and years clamp to the month end, as dates.add_offset),
    still a date: a bound compared with event dates as dates, not as timestamps."""
    if offset.amount == 0:
        return date
    moved = date + ibis.interval(**{offset.unit: offset.amount})
    # Ibis types the sum as a date where SQL gives a timestamp: the cast through a timestamp is
    # what makes the SQL say so.
    return moved.cast("timestamp").date()


def in_window(
    event_date: ir.DateValue,
    index_date: ir.DateValue | None,
    window: Window,
    anchors: ir.Table | None = None,
) -> list[ir.BooleanValue]:
    """The conditions for the event to fall in the window (inclusive).

    A bound measured from another criterion's date reads that column of `anchors`. With
    `index_date` None the bounds measured from the index date are left out: for a fixed index
    date `in_fixed_window` applies them to the events beforehand.
    """
    conds = []
    for offset, anchor, after in (
        (window.start, window.start_from, True),
        (window.end, window.end_from, False),
    ):
        if offset is None:
            continue
        if anchor is None:
            base = index_date
        elif anchors is None:
            raise ValueError(f"a bound is measured from {anchor!r}, but no rows give its date")
        else:
            base = anchors[anchor]
        if base is not None:
            bound = shifted(base, offset)
            conds.append(event_date >= bound if after else event_date <= bound)
    return conds


def in_fixed_window(event_date: ir.DateValue, index: dt.date, window: Window) -> list:
    """The conditions of the bounds measured from one index date, computed once in Python."""
    conds = []
    if window.start is not None and window.start_from is None:
        conds.append(event_date >= ibis.literal(add_offset(index, window.start), type="date"))
    if window.end is not None and window.end_from is None:
        conds.append(event_date <= ibis.literal(add_offset(index, window.end), type="date"))
    return conds


def coded_events(events: ir.Table, codes: ir.Table, codeset: str) -> ir.Table:
    """Events whose code is in `codeset`, with the code's category."""
    wanted = codes.filter(codes.codeset == codeset).select("code", "category")
    return events.join(wanted, "code")


def index_frame(definition: CohortDefinition, sources: Sources) -> ir.Table:
    """(patient_id, index_date) for a per-patient index date: each patient's first event."""
    index = definition.index_date
    events = coded_events(sources.tables[index.table], sources.codes, index.first_event_of)
    if index.on_or_after:
        events = events.filter(events.date >= ibis.literal(index.on_or_after, type="date"))
    if index.on_or_before:
        events = events.filter(events.date <= ibis.literal(index.on_or_before, type="date"))
    return events.group_by("patient_id").agg(index_date=events.date.min())


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


def patient_rows(
    definition: CohortDefinition,
    sources: Sources,
    needs: set[str],
    intervals: ir.Table | None,
    only_with: list[ir.Table] | None = None,
) -> ir.Table:
    """Every (patient, index date) row with sex, age, age band and whether alive on the index date.

    A fixed index date is a constant column of the patients table; intervals are crossed with the
    patients; a per-patient index date joins each patient's first event to the patients table.
    `only_with`: tables of patient ids; only the patients in each are given rows.
    """
    patients = sources.tables["patients"]
    wanted = ["patient_id", "sex", "date_of_birth", "date_of_death"]
    if "imd_quintile" in needs:
        wanted.append("imd_quintile")
    patients = patients.select(*wanted)
    for having in only_with or []:
        patients = patients.semi_join(having, "patient_id")
    if intervals is not None:
        rows = patients.cross_join(intervals)
    elif sources.fixed_index is not None:
        rows = patients.mutate(index_date=ibis.literal(sources.fixed_index, type="date"))
    else:
        rows = index_frame(definition, sources).join(patients, "patient_id")
    age = age_in_years(rows.date_of_birth, rows.index_date)
    rows = rows.mutate(
        age=age, alive=rows.date_of_death.isnull() | (rows.date_of_death > rows.index_date)
    )
    return rows.mutate(age_band=age_band(rows.age))


def registrations(rows: ir.Table, sources: Sources, borough: bool) -> ir.Table:
    """The practice each row is registered at on its index date (latest start, then lowest id)."""
    reg = sources.tables["registrations"]
    if sources.fixed_index is not None:
        index = ibis.literal(sources.fixed_index, type="date")
        covering = reg.filter(
            reg.start_date <= index, reg.end_date.isnull() | (reg.end_date >= index)
        ).select("patient_id", "practice_id", "start_date")
    else:
        frame = rows.select(*KEYS)
        covering = frame.join(
            reg,
            [
                frame.patient_id == reg.patient_id,
                reg.start_date <= frame.index_date,
                reg.end_date.isnull() | (reg.end_date >= frame.index_date),
            ],
        ).select(*KEYS, "practice_id", "start_date")
    keys = sources.keys
    order = ibis.window(group_by=keys, order_by=[ibis.desc("start_date"), ibis.asc("practice_id")])
    # `registration_found` marks a registration even where the data do not say the practice (an
    # OMOP CDM without care sites): being registered is not having a known practice.
    chosen = (
        covering.mutate(rank=ibis.row_number().over(order))
        .filter(lambda t: t["rank"] == 0)
        .select(*keys, "practice_id", registration_found=ibis.literal(True))
    )
    if borough:
        practices = sources.tables["practices"].select("practice_id", "borough")
        chosen = chosen.left_join(practices, "practice_id").select(
            *keys, "practice_id", "borough", "registration_found"
        )
    return chosen


def left_join(rows: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """`rows` with the columns of `right` matched on `keys` (null where nothing matches)."""
    joined = rows.left_join(right, keys)
    return joined.drop(*[c for c in joined.columns if c.endswith("_right")])


def window_events(criterion: Criterion, sources: Sources) -> ir.Table:
    """The criterion's coded events (patient_id, event_date, code, category[, value])."""
    events = coded_events(sources.tables[criterion.table], sources.codes, criterion.codeset)
    columns = ["patient_id", "date", "code", "category"]
    if "value" in events.columns:
        columns.append("value")
    events = events.select(*columns).rename(event_date="date")
    if sources.fixed_index is not None:
        conds = in_fixed_window(events.event_date, sources.fixed_index, criterion.window)
        events = events.filter(*conds) if conds else events
    return events


def with_rule(rows: ir.Table, criterion: Criterion, include: bool, sources: Sources) -> ir.Table:
    """The rows that have (include) or lack (exclude) an event of the criterion in its window."""
    events = window_events(criterion, sources)
    window = criterion.window
    if sources.fixed_index is None and window.start is None and not window.anchors:
        return with_rule_from_first(rows, criterion, include, events)
    predicates = [rows.patient_id == events.patient_id]
    if sources.fixed_index is None:
        predicates += in_window(events.event_date, rows.index_date, window)
    kept = rows.semi_join(events, predicates) if include else rows.anti_join(events, predicates)
    return kept.mutate(**{criterion.name: ibis.literal(include)})


def with_rule_from_first(
    rows: ir.Table, criterion: Criterion, include: bool, events: ir.Table
) -> ir.Table:
    """`with_rule` for a window open at its start (`ever before`, `any time`) and rows with
    dates of their own (a measure's patients x intervals): a row has an event in the window when
    the patient's first event falls on or before the window's end. One row per patient is joined
    instead of every event to every row."""
    first = events.group_by("patient_id").agg(first_event_date=events.event_date.min())
    end = criterion.window.end
    joined = rows.left_join(first, rows.patient_id == first.patient_id)
    found = joined.first_event_date.notnull()
    if end is not None:
        found &= joined.first_event_date <= shifted(joined.index_date, end)
    kept = joined.filter(found if include else ~found)
    kept = kept.select(*rows.columns)
    return kept.mutate(**{criterion.name: ibis.literal(include)})


def criteria_relation(
    rows: ir.Table, group: list[Criterion], sources: Sources, narrowed: bool = False
) -> ir.Table:
    """One aggregate of the events in a window, one column per criterion of the group.

    Every criterion of `group` shares its codeset, table and window. With no fixed index date, or
    a window measured from another criterion's date, the events are joined to the rows' dates, so
    only rows still in the plan are aggregated.
    """
    events = window_events(group[0], sources)
    window = group[0].window
    if sources.fixed_index is None or window.anchors:
        frame = rows.select(*sources.keys, *window.anchors)
        index_date = frame.index_date if sources.fixed_index is None else None
        events = frame.join(
            events,
            [
                frame.patient_id == events.patient_id,
                *in_window(events.event_date, index_date, window, frame),
            ],
        )
    elif narrowed:
        events = events.semi_join(rows.select("patient_id"), "patient_id")
    grouped = events.group_by(sources.keys)
    return grouped.agg(**{c.name: aggregate(events, c) for c in group})


def aggregate(events: ir.Table, criterion: Criterion) -> ir.Value:
    """The criterion's value over a patient's events in the window.

    The first or last event is ordered by date, then code, then value, the same on every engine.
    """
    if criterion.returns in ("exists", "count"):
        return events.count()
    if criterion.field == "date":
        date = events.event_date
        return date.min() if criterion.which == "first" else date.max()
    key = {"date": events.event_date, "code": events.code}
    if "value" in events.columns:
        key["value"] = events.value.fill_null(NO_VALUE)
    order = ibis.struct(key)
    field = events[criterion.field]
    return field.argmin(order) if criterion.which == "first" else field.argmax(order)


def with_criteria(
    rows: ir.Table, criteria: list[Criterion], sources: Sources, narrowed: bool = False
) -> ir.Table:
    """The rows with each criterion's column; criteria sharing an aggregate are joined once.

    `narrowed`: the rows are some of the patients (those a rule kept), so each criterion reads
    only their events."""
    groups: dict[tuple, list[Criterion]] = {}
    for criterion in criteria:
        key = (criterion.table, criterion.codeset, criterion.window)
        groups.setdefault(key, []).append(criterion)
    # A window measured from another criterion's date needs that column first. The others read
    # the rows as they came in, so that no criterion's aggregate is computed again inside the next.
    entering = rows
    for group in sorted(groups.values(), key=lambda g: bool(g[0].window.anchors)):
        frame = rows if group[0].window.anchors else entering
        relation = criteria_relation(frame, group, sources, narrowed)
        rows = left_join(rows, relation, sources.keys)
        for criterion in group:
            if criterion.returns == "exists":
                rows = rows.mutate(**{criterion.name: rows[criterion.name].fill_null(0) > 0})
            elif criterion.returns == "count":
                rows = rows.mutate(**{criterion.name: rows[criterion.name].fill_null(0)})
    return rows


def with_flags(rows: ir.Table, flags: list[ValueFlag]) -> ir.Table:
    """The rows with a yes/no column for each flag on another criterion's value."""
    for flag in flags:
        value = rows[flag.of]
        cond = value.notnull()
        if flag.at_most is not None:
            cond &= value <= flag.at_most
        if flag.at_least is not None:
            cond &= value >= flag.at_least
        rows = rows.mutate(**{flag.name: cond.fill_null(False)})
    return rows


def population_steps(population: Population, rows: ir.Table) -> list[tuple[str, ir.BooleanValue]]:
    """Alive, age and sex on the index date: the population conditions after registration."""
    steps: list[tuple[str, ir.BooleanValue]] = []
    if population.alive:
        steps.append(("alive on the index date", rows.alive))
    if population.age_min is not None or population.age_max is not None:
        cond = ibis.literal(True)
        if population.age_min is not None:
            cond &= rows.age >= population.age_min
        if population.age_max is not None:
            cond &= rows.age <= population.age_max
        high = "" if population.age_max is None else str(population.age_max)
        steps.append((f"aged {population.age_min or 0}-{high} on the index date", cond))
    if population.sex is not None:
        steps.append((f"sex {', '.join(population.sex)}", rows.sex.isin(population.sex)))
    return steps


def entry_steps(definition: CohortDefinition, rows: ir.Table) -> list[tuple[str, ir.BooleanValue]]:
    """The population conditions and then the rules, in order, each with its description."""
    steps: list[tuple[str, ir.BooleanValue]] = []
    if definition.population.registered:
        steps.append(("registered on the index date", rows.registered))
    steps += population_steps(definition.population, rows)
    for rule in definition.rules:
        flag = rows[rule.criterion]
        steps.append((rule.describe(), flag if rule.action == "include" else ~flag))
    return steps


def needed_columns(definition: CohortDefinition, columns: set[str]) -> set[str]:
    """`columns` with the criteria the flags among them read and those their windows start or
    end from."""
    needed = set(columns)
    needed |= {f.of for f in definition.flags if f.name in needed}
    needed |= {a for c in definition.criteria if c.name in needed for a in c.window.anchors}
    return needed


def all_rows(definition: CohortDefinition, base: ir.Table, sources: Sources) -> ir.Table:
    """Every row with the columns the steps read (registration only when a step asks for it, so
    data without registrations run a definition that does not), for attrition."""
    rows = base
    if definition.population.registered:
        rows = left_join(base, registrations(base, sources, borough=False), sources.keys)
        rows = rows.mutate(registered=rows.registration_found.notnull()).drop("registration_found")
    needed = needed_columns(definition, {r.criterion for r in definition.rules})
    rows = with_criteria(rows, [c for c in definition.criteria if c.name in needed], sources)
    return with_flags(rows, [f for f in definition.flags if f.name in needed])


def entered_rows(
    definition: CohortDefinition, base: ir.Table, sources: Sources, needs: set[str]
) -> ir.Table:
    """The rows that pass every step, narrowing the rows before computing what they output."""
    pop = definition.population
    steps = population_steps(pop, base)
    rows = base.filter(*[cond for _, cond in steps]) if steps else base
    # The rules on events come before the registration: every step is a condition on the same row,
    # so their order does not change which rows pass, and a rule usually keeps far fewer rows than
    # the registrations a practice is chosen among (a measure's rows are patients x intervals).
    # Nothing but the registration reads the practice, so it can come last.
    # Rules on a criterion measured from another's date are applied once both are computed.
    by_name = {c.name: c for c in definition.criteria if not c.window.anchors}
    for rule in definition.rules:
        if rule.criterion in by_name:
            rows = with_rule(rows, by_name[rule.criterion], rule.action == "include", sources)
    flag_rules = [r for r in definition.rules if r.criterion not in by_name]
    needed = needed_columns(definition, needs | {r.criterion for r in flag_rules})
    ruled = {r.criterion for r in definition.rules if r.criterion in by_name}
    rows = with_criteria(
        rows,
        [c for c in definition.criteria if c.name in needed - ruled],
        sources,
        narrowed=bool(ruled),
    )
    rows = with_flags(rows, [f for f in definition.flags if f.name in needed])
    for rule in flag_rules:
        rows = rows.filter(
            rows[rule.criterion] if rule.action == "include" else ~rows[rule.criterion]
        )
    # The registration last: the practice is chosen once, for the rows that pass everything else
    # (each criterion above joins the rows as they stand, which would otherwise choose it again).
    if pop.registered or needs & {"practice_id", "borough"}:
        chosen = registrations(rows, sources, borough="borough" in needs)
        if pop.registered:
            rows = rows.join(chosen, sources.keys)
        else:
            rows = left_join(rows, chosen, sources.keys)
        rows = rows.mutate(registered=rows.registration_found.notnull()).drop("registration_found")
    return rows


def patients_with_included_codes(definition: CohortDefinition, sources: Sources) -> list[ir.Table]:
    """For each rule that includes on a criterion: the patients with any event of its codeset in
    its table, whatever the date. No patient outside them passes the rule in any window, so they
    may leave before a measure crosses the patients with its intervals."""
    by_name = {c.name: c for c in definition.criteria}
    found = []
    for rule in definition.rules:
        criterion = by_name.get(rule.criterion)
        if rule.action != "include" or criterion is None:
            continue
        events = coded_events(sources.tables[criterion.table], sources.codes, criterion.codeset)
        found.append(events.select("patient_id"))
    return found


def compile_plan(
    definition: CohortDefinition,
    codesets: Mapping[str, CodesetCodes],
    tables: Mapping[str, ir.Table],
    intervals: ir.Table | None = None,
    extra_columns: tuple[str, ...] = (),
    relation: Relation = in_memory,
) -> CohortPlan:
    """The definition's plan over `tables`; `intervals` replace the index dates (for measures)."""
    used = definition.codesets_used()
    codes = codes_relation({k: v for k, v in codesets.items() if k in used}, relation)
    fixed_index = definition.index_date.date if intervals is None else None
    sources = Sources(tables=tables, codes=codes, fixed_index=fixed_index)
    outputs = definition.output_columns()
    needs = set(outputs) | set(extra_columns)
    base = patient_rows(definition, sources, needs, intervals)
    rows = all_rows(definition, base, sources)
    # A measure's rows are patients x intervals: those no include rule can keep leave first.
    entered_base = (
        base
        if intervals is None
        else patient_rows(
            definition, sources, needs, intervals, patients_with_included_codes(definition, sources)
        )
    )
    return CohortPlan(
        rows=rows,
        steps=entry_steps(definition, rows),
        entered=entered_rows(definition, entered_base, sources, needs),
        output_columns=outputs,
        sources=sources,
    )
