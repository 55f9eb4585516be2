"""A small pandas reference engine, written apart from the Ibis plan, to check the engines against.

It walks the definition row by row in plain Python and pandas: slow, but easy to read against the
documented semantics in `cohort.dates`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from codesetlib.cohorts.checks import check_definition
from codesetlib.cohorts.dates import Offset, add_offset, age_on
from codesetlib.cohorts.engines.ibis_engine import (
    DATASET_TABLES,
    EVENTS_READ,
    PATIENT_DATES_READ,
    PERSON_TIME_READ,
    STRATUM,
    attrition_table,
    check_tables,
    no_events,
    per_code_criterion,
    population_definition,
    with_population_columns,
)
from codesetlib.cohorts.model import AGE_BANDS, CodesetCodes, CohortDefinition, Criterion, Window
from codesetlib.data.synthetic.manifest import dataset_tables


def as_date(value: object) -> dt.date | None:
    """A Python date from whatever pandas holds (Timestamp, date, NaT or None)."""
    if value is None or pd.isna(value):
        return None
    return value.date() if isinstance(value, pd.Timestamp | dt.datetime) else value


class PandasReference:
    """The reference engine over pandas DataFrames (read from a dataset's Parquet files)."""

    name = "pandas"

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self.tables = dict(tables)

    @classmethod
    def from_dataset(cls, dataset_dir: Path) -> PandasReference:
        paths = dataset_tables(Path(dataset_dir), DATASET_TABLES)
        return cls({name: pd.read_parquet(p) for name, p in paths.items()})

    def schemas(self) -> dict[str, set[str]]:
        return {name: set(frame.columns) for name, frame in self.tables.items()}

    def rows(
        self,
        definition: CohortDefinition,
        codesets: Mapping[str, CodesetCodes],
        frame: list[tuple[int, dt.date, dict]] | None = None,
    ) -> tuple[list[dict], list[str]]:
        """Each (patient, index date) row with every column and its step results, and step names."""
        check_definition(definition, codesets, self.schemas())
        frame = frame if frame is not None else self._index_dates(definition, codesets)
        events = {
            name: self._events_by_patient(name) for name in ("clinical_events", "medications")
        }
        patients = self.tables["patients"].set_index("patient_id")
        out: list[dict] = []
        # The step names do not depend on the row, so a blank one gives them even for no rows.
        names = self._steps(definition, defaultdict(bool, age=0, sex=""))[1]
        for patient_id, index_date, extra in frame:
            row = {"patient_id": patient_id, "index_date": index_date, **extra}
            row.update(self._patient_columns(patients.loc[patient_id], patient_id, index_date))
            # A window measured from another criterion's date needs that date first.
            for criterion in sorted(definition.criteria, key=lambda c: bool(c.window.anchors)):
                mine = events[criterion.table].get(patient_id, [])
                row[criterion.name] = evaluate(criterion, mine, index_date, codesets, row)
            for flag in definition.flags:
                value = row[flag.of]
                ok = value is not None and not pd.isna(value)
                ok = ok and (flag.at_most is None or value <= flag.at_most)
                row[flag.name] = bool(ok and (flag.at_least is None or value >= flag.at_least))
            row["steps"] = self._steps(definition, row)[0]
            out.append(row)
        return out, names

    def cohort(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame:
        rows, _ = self.rows(definition, codesets)
        kept = sorted(
            (r for r in rows if all(r["steps"])), key=lambda r: (r["patient_id"], r["index_date"])
        )
        columns = definition.output_columns()
        table = pd.DataFrame([{c: r[c] for c in columns} for r in kept], columns=columns)
        return table

    def patients_per_code(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes], criterion: str
    ) -> pd.DataFrame:
        """Each code of the criterion's codeset, counted over the events in its window of every row
        that passes every step."""
        found = per_code_criterion(definition, criterion)
        rows, _ = self.rows(definition, codesets)
        events = self._events_by_patient(found.table)
        codes = codesets[found.codeset].codes
        patients: dict[str, set[int]] = {code: set() for code in codes}
        counts = dict.fromkeys(codes, 0)
        for row in rows:
            if not all(row["steps"]):
                continue
            for event in events.get(row["patient_id"], []):
                if event["code"] in codes and in_window(
                    event["date"], row["index_date"], found.window
                ):
                    patients[event["code"]].add(row["patient_id"])
                    counts[event["code"]] += 1
        table = pd.DataFrame(
            {
                "code": list(codes),
                "patients": [len(patients[c]) for c in codes],
                "events": [counts[c] for c in codes],
            }
        )
        return table.sort_values(["patients", "code"], ascending=[False, True], ignore_index=True)

    def attrition(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> pd.DataFrame:
        rows, names = self.rows(definition, codesets)
        counts = [len(rows)]
        for i in range(len(names)):
            counts.append(sum(all(r["steps"][: i + 1]) for r in rows))
        return attrition_table(counts, names)

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
        """Each interval evaluated in turn: the reference need not be fast, only right."""
        frame = [
            (pid, end, {"interval_start": start})
            for start, end in zip(interval_starts, interval_ends, strict=True)
            for pid in self.tables["patients"]["patient_id"]
        ]
        rows, _ = self.rows(definition, codesets, frame)
        kept = [r for r in rows if all(r["steps"]) and (not denominator or r[denominator])]
        table = pd.DataFrame(kept, columns=["interval_start", "index_date", *group_by, numerator])
        table[numerator] = table[numerator].astype("int64")
        grouped = table.groupby(["interval_start", "index_date", *group_by], dropna=False)
        result = grouped[numerator].agg(numerator="sum", denominator="size").reset_index()
        return result.rename(columns={"index_date": "interval_end"})

    def population_on(self, index_date: dt.date, adults_only: bool = True) -> pd.DataFrame:
        """The population definition's cohort, as every engine gives it."""
        definition = population_definition(index_date, adults_only, self.schemas())
        return with_population_columns(self.cohort(definition, {}))

    def events_with_codes(
        self,
        codes: Iterable[str],
        on_or_before: dt.date,
        among: CohortDefinition | None = None,
    ) -> pd.DataFrame:
        """Each event looked at in turn: its code in `codes`, its date on or before the date, and
        its patient in `among` (when given)."""
        wanted = set(codes)
        check_tables(self.schemas(), EVENTS_READ, "events with codes")
        if not wanted:
            return no_events()
        patients = None if among is None else set(self.cohort(among, {})["patient_id"])
        rows = [
            (int(e["patient_id"]), as_date(e["date"]), e["code"])
            for e in self.tables["clinical_events"].to_dict("records")
            if e["code"] in wanted
            and as_date(e["date"]) <= on_or_before
            and (patients is None or e["patient_id"] in patients)
        ]
        frame = pd.DataFrame(sorted(rows), columns=["patient_id", "date", "code"])
        return with_types(frame, {"patient_id": "int64", "date": "datetime64[s]", "code": "str"})

    def birth_and_death_dates(self) -> pd.DataFrame:
        check_tables(self.schemas(), PATIENT_DATES_READ, "dates of birth and death")
        patients = self.tables["patients"][["patient_id", "date_of_birth", "date_of_death"]]
        frame = patients.sort_values("patient_id", ignore_index=True)
        types = {"patient_id": "int64", "date_of_birth": "datetime64[s]"}
        return with_types(frame, {**types, "date_of_death": "datetime64[s]"})

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
        """Each registration spell in turn: its days at risk and whether the patient's first code
        falls in them, added to its stratum (as `ibis_engine.person_time_expr` documents)."""
        check_tables(self.schemas(), PERSON_TIME_READ, "person-time at risk")
        wanted = set(codes)
        firsts: dict[int, dt.date] = {}
        for event in self.tables["clinical_events"].to_dict("records"):
            date = as_date(event["date"])
            if event["code"] in wanted and date is not None and date <= end:
                pid = int(event["patient_id"])
                firsts[pid] = min(date, firsts.get(pid, date))
        people = {int(p["patient_id"]): p for p in self.tables["patients"].to_dict("records")}
        practices = self.tables["practices"]
        boroughs = dict(zip(practices["practice_id"], practices["borough"], strict=True))
        strata: dict[tuple, list[int]] = {}
        for spell in self.tables["registrations"].to_dict("records"):
            person = people.get(int(spell["patient_id"]))
            first = firsts.get(int(spell["patient_id"]))
            if person is None or (first is not None and first < start):
                continue
            born, registered = as_date(person["date_of_birth"]), as_date(spell["start_date"])
            if born is None or registered is None:
                continue
            since = max(registered, start, add_offset(born, Offset(amount=min_age, unit="years")))
            until = min(
                as_date(spell["end_date"]) or end, as_date(person["date_of_death"]) or end, end
            )
            if until < since:
                continue
            counted = (
                first is not None
                and since <= first <= until
                and first >= registered + dt.timedelta(days=settled_days)
            )
            practice = int(spell["practice_id"])
            key = (practice, boroughs.get(practice), person["sex"], age_in_year - born.year)
            stratum = strata.setdefault(key, [0, 0])
            stratum[0] += (until - since).days + 1
            stratum[1] += int(counted)
        rows = [(*key, days, counted) for key, (days, counted) in strata.items()]
        frame = pd.DataFrame(rows, columns=[*STRATUM, "person_days", "first_codes"])
        frame = frame.sort_values(["practice_id", "sex", "age"], ignore_index=True)
        types = {"practice_id": "int64", "age": "int64", "person_days": "int64"}
        return with_types(frame, {**types, "first_codes": "int64"})

    def _index_dates(
        self, definition: CohortDefinition, codesets: Mapping[str, CodesetCodes]
    ) -> list[tuple[int, dt.date, dict]]:
        index = definition.index_date
        if not index.per_patient:
            return [(int(p), index.date, {}) for p in self.tables["patients"]["patient_id"]]
        codes = codesets[index.first_event_of].codes
        firsts: dict[int, dt.date] = {}
        for row in self.tables[index.table].itertuples():
            date = as_date(row.date)
            if row.code not in codes:
                continue
            if (index.on_or_after and date < index.on_or_after) or (
                index.on_or_before and date > index.on_or_before
            ):
                continue
            pid = int(row.patient_id)
            firsts[pid] = min(date, firsts.get(pid, date))
        return [(pid, date, {}) for pid, date in sorted(firsts.items())]

    def _events_by_patient(self, table: str) -> dict[int, list[dict]]:
        if table not in self.tables:
            return {}
        frame = self.tables[table]
        out: dict[int, list[dict]] = {}
        for record in frame.to_dict("records"):
            record["date"] = as_date(record["date"])
            out.setdefault(int(record["patient_id"]), []).append(record)
        return out

    def _patient_columns(self, patient: pd.Series, patient_id: int, index_date: dt.date) -> dict:
        born = as_date(patient["date_of_birth"])
        died = as_date(patient["date_of_death"])
        age = age_on(born, index_date)
        columns = {
            "sex": patient["sex"],
            "age": age,
            "age_band": next(
                f"{low}-{high}" if high else f"{low}+"
                for low, high in AGE_BANDS
                if age >= low and (high is None or age <= high)
            ),
            "alive": died is None or died > index_date,
            "imd_quintile": patient.get("imd_quintile"),
        }
        columns.update(self._registration(patient_id, index_date))
        return columns

    def _registration(self, patient_id: int, index_date: dt.date) -> dict:
        regs = self.tables.get("registrations")
        if regs is None:
            return {"registered": False, "practice_id": None, "borough": None}
        covering = []
        for reg in regs[regs["patient_id"] == patient_id].itertuples():
            start, end = as_date(reg.start_date), as_date(reg.end_date)
            if start <= index_date and (end is None or end >= index_date):
                # A registration whose practice the data do not say sorts after known ones.
                known = not pd.isna(reg.practice_id)
                practice = int(reg.practice_id) if known else None
                covering.append((-start.toordinal(), not known, practice or 0, practice))
        if not covering:
            return {"registered": False, "practice_id": None, "borough": None}
        practice_id = min(covering)[3]
        borough = None
        practices = self.tables.get("practices")
        if practices is not None:
            match = practices[practices["practice_id"] == practice_id]
            borough = match["borough"].iloc[0] if len(match) else None
        return {"registered": True, "practice_id": practice_id, "borough": borough}

    def _steps(self, definition: CohortDefinition, row: dict) -> tuple[list[bool], list[str]]:
        pop = definition.population
        steps: list[tuple[str, bool]] = []
        if pop.registered:
            steps.append(("registered on the index date", row["registered"]))
        if pop.alive:
            steps.append(("alive on the index date", row["alive"]))
        if pop.age_min is not None or pop.age_max is not None:
            low = pop.age_min if pop.age_min is not None else 0
            ok = row["age"] >= low and (pop.age_max is None or row["age"] <= pop.age_max)
            high = "" if pop.age_max is None else str(pop.age_max)
            steps.append((f"aged {pop.age_min or 0}-{high} on the index date", ok))
        if pop.sex is not None:
            steps.append((f"sex {', '.join(pop.sex)}", row["sex"] in pop.sex))
        for rule in definition.rules:
            value = bool(row[rule.criterion])
            steps.append((rule.describe(), value if rule.action == "include" else not value))
        return [bool(ok) for _, ok in steps], [name for name, _ in steps]


def with_types(frame: pd.DataFrame, types: Mapping[str, str]) -> pd.DataFrame:
    """`frame` with its columns of the types the Ibis engines give (dates as datetime64[s])."""
    return frame.astype(dict(types))


def in_window(
    date: dt.date, index_date: dt.date, window: Window, row: Mapping[str, object] | None = None
) -> bool:
    """Both ends inclusive; an open end is unbounded. A bound measured from another criterion's
    date reads it from `row`; without that date no event is in the window."""
    for offset, anchor, after in (
        (window.start, window.start_from, True),
        (window.end, window.end_from, False),
    ):
        if offset is None:
            continue
        base = index_date if anchor is None else as_date((row or {}).get(anchor))
        if not isinstance(base, dt.date):
            return False
        bound = add_offset(base, offset)
        if (date < bound) if after else (date > bound):
            return False
    return True


def evaluate(
    criterion: Criterion,
    events: list[dict],
    index_date: dt.date,
    codesets: Mapping[str, CodesetCodes],
    row: Mapping[str, object] | None = None,
) -> object:
    """The criterion's value for one patient's events and index date (and, for a window measured
    from another criterion's date, the row holding that date)."""
    codes = codesets[criterion.codeset].codes
    found = [
        e
        for e in events
        if e["code"] in codes and in_window(e["date"], index_date, criterion.window, row)
    ]
    if criterion.returns == "exists":
        return bool(found)
    if criterion.returns == "count":
        return len(found)
    if not found:
        return None

    def sort_key(e: dict) -> tuple:
        value = e.get("value")
        return (e["date"], e["code"], -1.0e300 if value is None or pd.isna(value) else value)

    picked = (min if criterion.which == "first" else max)(found, key=sort_key)
    if criterion.field == "category":
        return codes[picked["code"]]
    return picked[criterion.field]
