"""Read what validation needs from a dataset: the population on a date, the coded events of a codeset
and of the codes near it, and (on synthetic data) the patients who truly have the condition."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from codesetlib.cohorts import DuckDBEngine
from codesetlib.cohorts.relations import code_list_table
from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic.manifest import dataset_tables

AGE_BANDS = [0, 18, 40, 60, 80, 200]
AGE_LABELS = ["0-17", "18-39", "40-59", "60-79", "80+"]


@dataclass(frozen=True)
class ValidationData:
    """A population on an index date and the events that matter for one codeset."""

    population: pd.DataFrame
    coded_events: pd.DataFrame
    near_events: pd.DataFrame
    index_date: dt.date


def population_on(
    engine: DuckDBEngine, index_date: dt.date, adults_only: bool = True
) -> pd.DataFrame:
    """Patients alive and registered on `index_date`, with sex, age band, deprivation and practice."""
    patients, registrations = engine.table("patients"), engine.table("registrations")
    practices = engine.table("practices")
    day = ibis.literal(index_date)
    registered = registrations.filter(
        (registrations.start_date <= day)
        & (registrations.end_date.isnull() | (registrations.end_date >= day))
    )
    alive = patients.filter(patients.date_of_death.isnull() | (patients.date_of_death > day))
    joined = alive.join(registered, "patient_id").join(practices, "practice_id")
    frame = engine.execute(
        joined.select(
            "patient_id", "sex", "date_of_birth", "imd_quintile", "practice_id", "borough"
        ).distinct(on="patient_id", keep="first")
    )
    born = pd.to_datetime(frame["date_of_birth"])
    when = pd.Timestamp(index_date)
    age = (
        when.year
        - born.dt.year
        - (
            (born.dt.month > when.month)
            | ((born.dt.month == when.month) & (born.dt.day > when.day))
        )
    )
    frame["age"] = age.astype(int)
    frame["age_band"] = pd.cut(frame["age"], AGE_BANDS, right=False, labels=AGE_LABELS)
    if adults_only:
        frame = frame[frame["age"] >= 18]
    return frame.sort_values("patient_id").reset_index(drop=True)


def events_with_codes(engine: DuckDBEngine, codes: set[str], on_or_before: dt.date) -> pd.DataFrame:
    """Events whose code is in `codes` (joined as data) dated on or before a date."""
    if not codes:
        return pd.DataFrame({"patient_id": [], "date": [], "code": []})
    events = engine.table("clinical_events")
    wanted = code_list_table(codes)
    dated = events.filter(events.date <= ibis.literal(on_or_before))
    found = dated.semi_join(wanted, dated.code == wanted.code).select("patient_id", "date", "code")
    return engine.execute(found.order_by(["patient_id", "date", "code"]))


def truth_patients(
    dataset_dir: Path, pattern: str, on_or_before: dt.date
) -> tuple[set[int], pd.DataFrame]:
    """Patients whose true condition (matching the regular expression `pattern`) began by a date,
    and their onset dates. Only synthetic datasets have a truth."""
    path = _truth_table(dataset_dir, "truth_conditions")
    truth = pd.read_parquet(path)
    chosen = truth[
        truth["condition"].str.contains(pattern, regex=True)
        & (pd.to_datetime(truth["onset_date"]) <= pd.Timestamp(on_or_before))
    ]
    first = chosen.sort_values("onset_date").drop_duplicates("patient_id")
    return set(first["patient_id"]), first.reset_index(drop=True)


def truth_attributes(dataset_dir: Path) -> pd.DataFrame:
    """The true attributes of each patient (ethnicity, language, …) of a synthetic dataset."""
    return pd.read_parquet(_truth_table(dataset_dir, "truth_attributes"))


def _truth_table(dataset_dir: Path, name: str) -> Path:
    """The file of a truth table, checked against the dataset's manifest; only synthetic data have
    one."""
    path = dataset_tables(Path(dataset_dir), [name]).get(name)
    if path is None:
        raise DatasetError(
            f"this dataset has no {name} table (only synthetic data do)",
            path=Path(dataset_dir) / f"{name}.parquet",
        )
    return path


def load_validation_data(
    dataset_dir: Path, codes: set[str], near: set[str], index_date: dt.date
) -> ValidationData:
    """Everything validation reads from the dataset for one codeset, in one connection."""
    engine = DuckDBEngine(Path(dataset_dir))
    population = population_on(engine, index_date)
    people = set(population["patient_id"])
    coded = events_with_codes(engine, codes, index_date)
    near_events = events_with_codes(engine, near, index_date)
    return ValidationData(
        population=population,
        coded_events=coded[coded["patient_id"].isin(people)].reset_index(drop=True),
        near_events=near_events[near_events["patient_id"].isin(people)].reset_index(drop=True),
        index_date=index_date,
    )
