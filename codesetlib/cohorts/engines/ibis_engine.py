"""What every Ibis-backed engine shares: checks, compiling the plan, running it and showing its SQL,
and the entry points every engine answers (`CohortEngine`), so that no query is built outside the
engines.

Compiled plans are kept per definition, codesets and intervals, so running the same definition again
(a benchmark, a notebook re-run, attrition after the cohort) does not rebuild the plan.

Beside cohorts, attrition and measures, an engine answers what the validation layer and the
reproductions ask of a dataset: the population on a date (a cohort definition, so the same
registration rule as every cohort: the latest start, then the lowest practice id), the events of a
list of codes up to a date, the dates of birth and death, and person-time at risk over registration
spells, which no cohort definition expresses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Protocol, TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohorts.checks import check_definition
from codesetlib.cohorts.model import (
    CodesetCodes,
    CohortDefinition,
    Criterion,
    IndexDate,
    Population,
)
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
# The population validation reads: adults (when asked) registered and alive on a date.
ADULT_AGE = 18
POPULATION_COLUMNS = [
    "patient_id",
    "sex",
    "age",
    "age_band",
    "imd_quintile",
    "practice_id",
    "borough",
]
# Person-time at risk is given by stratum: practice, sex and age in whole calendar years.
STRATUM = ["practice_id", "borough", "sex", "age"]
# The tables and columns each question other than a cohort reads.
EVENTS_READ = {"clinical_events": {"patient_id", "date", "code"}}
PATIENT_DATES_READ = {"patients": {"patient_id", "date_of_birth", "date_of_death"}}
PERSON_TIME_READ = {
    **EVENTS_READ,
    "patients": {"patient_id", "sex", "date_of_birth", "date_of_death"},
    "registrations": {"patient_id", "practice_id", "start_date", "end_date"},
    "practices": {"practice_id", "borough"},
}


class CohortEngine(Protocol):
    """The entry points every engine answers (the Ibis engines and the pandas reference), each
    with the same columns, so that callers build no query of their own."""

    name: str

    def cohort(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame: ...

    def attrition(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame: ...

    def patients_per_code(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes], criterion: str
    ) -> pd.DataFrame: ...

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
    ) -> pd.DataFrame: ...

    def population_on(self, index_date: dt.date, adults_only: bool = True) -> pd.DataFrame: ...

    def events_with_codes(
        self,
        codes: Iterable[str],
        on_or_before: dt.date,
        among: CohortDefinition | None = None,
    ) -> pd.DataFrame: ...

    def birth_and_death_dates(self) -> pd.DataFrame: ...

    def person_time(
        self,
        codes: Iterable[str],
        start: dt.date,
        end: dt.date,
        *,
        min_age: int,
        age_in_year: int,
        settled_days: int,
    ) -> pd.DataFrame: ...


# Population columns read from a table or column not every source has (an OMOP CDM holds no
# deprivation quintile or borough); where a source lacks one, the column is there, empty.
OPTIONAL_POPULATION_COLUMNS = {
    "imd_quintile": ("patients", "imd_quintile"),
    "borough": ("practices", "borough"),
}


def population_definition(
    index_date: dt.date,
    adults_only: bool = True,
    schemas: Mapping[str, set[str]] | None = None,
) -> CohortDefinition:
    """The patients registered and alive on `index_date` (adults only, if asked), with sex, age,
    age band, deprivation, practice and borough (the last two only where `schemas`, the data's,
    hold them): a cohort definition, so every engine picks the practice by the one rule of the
    cohort model."""
    columns = [
        column
        for column in POPULATION_COLUMNS
        if schemas is None
        or column not in OPTIONAL_POPULATION_COLUMNS
        or OPTIONAL_POPULATION_COLUMNS[column][1]
        in schemas.get(OPTIONAL_POPULATION_COLUMNS[column][0], set())
    ]
    return CohortDefinition(
        id="population",
        title=f"Patients registered and alive on {index_date.isoformat()}",
        index_date=IndexDate(date=index_date),
        population=Population(age_min=ADULT_AGE if adults_only else None),
        columns=columns,
    )


def with_population_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The population with every column of POPULATION_COLUMNS, those the data lack empty."""
    for column in POPULATION_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series([pd.NA] * len(frame), index=frame.index, dtype="object")
    return frame[POPULATION_COLUMNS]


def check_tables(schemas: Mapping[str, set[str]], needs: Mapping[str, set[str]], what: str) -> None:
    """A CohortError naming the table or columns `what` needs and the data lack."""
    for table, columns in needs.items():
        if table not in schemas:
            raise CohortError(f"{what} needs the {table} table, which the data do not have")
        missing = columns - schemas[table]
        if missing:
            raise CohortError(
                f"{what} needs the column(s) {', '.join(sorted(missing))} of the {table} table "
                f"(it has: {', '.join(sorted(schemas[table]))})"
            )


def no_events() -> pd.DataFrame:
    """The events of no codes, with the columns and types of any other."""
    return pd.DataFrame(
        {
            "patient_id": pd.Series([], dtype="int64"),
            "date": pd.Series([], dtype="datetime64[s]"),
            "code": pd.Series([], dtype="string"),
        }
    )


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
        # The coding systems each event table holds (None: primary care's, SNOMED CT and dm+d).
        self.coding_systems: dict[str, tuple[str, ...]] | None = None

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
            check_definition(
                definition, codesets, self.schemas(), extra_columns, self.coding_systems
            )
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

    def population_on(self, index_date: dt.date, adults_only: bool = True) -> pd.DataFrame:
        """Patients registered and alive on `index_date` (`population_definition`), one row each
        in patient order."""
        definition = population_definition(index_date, adults_only, self.schemas())
        return with_population_columns(self.cohort(definition, {}))

    def events_with_codes(
        self,
        codes: Iterable[str],
        on_or_before: dt.date,
        among: CohortDefinition | None = None,
    ) -> pd.DataFrame:
        """Clinical events (patient_id, date, code) whose code is in `codes` (joined as data),
        dated on or before a date, of the patients of `among` if given (a definition that names
        no codesets, e.g. `population_definition`); by patient, date and code."""
        wanted = sorted(set(codes))
        check_tables(self.schemas(), EVENTS_READ, "events with codes")
        if not wanted:
            return no_events()
        events = self.table("clinical_events")
        listed = self.relation(pd.DataFrame({"code": wanted}, dtype="object"), {"code": "string"})
        dated = events.filter(events.date <= ibis.literal(on_or_before, type="date"))
        found = dated.semi_join(listed, "code").select("patient_id", "date", "code")
        if among is not None:
            found = found.semi_join(self.plan(among, {}).entered.select("patient_id"), "patient_id")
        return self.execute(found.order_by(["patient_id", "date", "code"]))

    def birth_and_death_dates(self) -> pd.DataFrame:
        """Every patient's date of birth and of death (null while alive), in patient order."""
        check_tables(self.schemas(), PATIENT_DATES_READ, "dates of birth and death")
        patients = self.table("patients")
        dates = patients.select("patient_id", "date_of_birth", "date_of_death")
        return self.execute(dates.order_by("patient_id"))

    def person_time(
        self,
        codes: Iterable[str],
        start: dt.date,
        end: dt.date,
        *,
        min_age: int,
        age_in_year: int,
        settled_days: int,
    ) -> pd.DataFrame:
        """Days at risk over registration spells from `start` to `end`, and the first codes that
        fall in them, by practice, borough, sex and age (`person_time_expr`)."""
        check_tables(self.schemas(), PERSON_TIME_READ, "person-time at risk")
        listed = self.relation(
            pd.DataFrame({"code": sorted(set(codes))}, dtype="object"), {"code": "string"}
        )
        expr = person_time_expr(
            self.tables,
            listed,
            start,
            end,
            min_age=min_age,
            age_in_year=age_in_year,
            settled_days=settled_days,
        )
        return self.execute(expr)


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


def person_time_expr(
    tables: Mapping[str, ir.Table],
    codes: ir.Table,
    start: dt.date,
    end: dt.date,
    *,
    min_age: int,
    age_in_year: int,
    settled_days: int,
) -> ir.Table:
    """Person-time at risk over registration spells, by practice, borough, sex and age.

    At risk: every registration spell of a patient with no code of `codes` before `start`, from the
    latest of `start`, the spell's start and the day the patient turns `min_age` to the earliest of
    `end`, the spell's end and death (spells with no such day are left out: they hold no time).
    Age is `age_in_year` less the year of birth, as reference rates are banded. `first_codes`
    counts the spells in which the patient's first code (on or before `end`) falls, at least
    `settled_days` after the spell began (earlier codes are mostly past diagnoses entered when the
    record was set up). Columns: practice_id, borough, sex, age, person_days, first_codes.
    """
    first, last = ibis.literal(start, type="date"), ibis.literal(end, type="date")
    events = tables["clinical_events"]
    coded = events.filter(events.date <= last).semi_join(codes, "code")
    firsts = coded.group_by("patient_id").agg(first_code=coded.date.min())
    patients = tables["patients"].select("patient_id", "sex", "date_of_birth", "date_of_death")
    spells = tables["registrations"].select("patient_id", "practice_id", "start_date", "end_date")
    spells = spells.join(patients, "patient_id")
    spells = spells.left_join(firsts, "patient_id")
    spells = spells.drop(*[c for c in spells.columns if c.endswith("_right")])
    spells = spells.filter(spells.first_code.isnull() | (spells.first_code >= first))
    at_risk = spells.select(
        "practice_id",
        "sex",
        "first_code",
        registered=spells.start_date,
        since=ibis.greatest(
            spells.start_date, first, spells.date_of_birth + ibis.interval(years=min_age)
        ).cast("date"),
        until=ibis.least(
            spells.end_date.fill_null(last), spells.date_of_death.fill_null(last), last
        ).cast("date"),
        age=(age_in_year - spells.date_of_birth.year()).cast("int64"),
    )
    at_risk = at_risk.filter(at_risk.until >= at_risk.since)
    in_time = (
        at_risk.first_code.between(at_risk.since, at_risk.until)
        & (at_risk.first_code >= at_risk.registered + ibis.interval(days=settled_days))
    ).fill_null(False)
    at_risk = at_risk.mutate(
        days=(at_risk.until.delta(at_risk.since, unit="day") + 1).cast("int64"),
        in_time=in_time.cast("int64"),
    )
    practices = tables["practices"].select("practice_id", "borough")
    rows = at_risk.left_join(practices, "practice_id")
    rows = rows.drop(*[c for c in rows.columns if c.endswith("_right")])
    strata = rows.group_by(STRATUM).agg(person_days=rows.days.sum(), first_codes=rows.in_time.sum())
    return strata.order_by(["practice_id", "sex", "age"])


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
