"""Read what validation needs from a dataset: the population on a date, the coded events of a codeset
and of the codes near it, and (on synthetic data) the patients who truly have the condition.

The population and the events are asked of a cohort engine (`population_on`, `events_with_codes`),
which builds every query; the population is the cohort model's (registered and alive on the date, at
the practice of the latest registration, then the lowest practice id), so validation and cohorts
count the same patients at the same practices."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.engines.ibis_engine import population_definition
from codesetlib.cohorts.model import AGE_BANDS
from codesetlib.core.errors import DatasetError
from codesetlib.core.paths import project_root
from codesetlib.data.sources import DataSource
from codesetlib.data.synthetic.manifest import dataset_tables

# The cohort model's age bands, in their order, for tables and figures by age band.
AGE_LABELS = [f"{low}-{high}" if high is not None else f"{low}+" for low, high in AGE_BANDS]


@dataclass(frozen=True)
class ValidationData:
    """A population on an index date and the events that matter for one codeset."""

    population: pd.DataFrame
    coded_events: pd.DataFrame
    near_events: pd.DataFrame
    index_date: dt.date
    # Where the data came from; only the kit's synthetic datasets hold a truth.
    source: DataSource | None = None

    @property
    def has_truth(self) -> bool:
        return self.source is None or self.source.has_truth


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
    data: Path | str | DataSource, codes: set[str], near: set[str], index_date: dt.date
) -> ValidationData:
    """Everything validation reads from the data (a kit dataset folder or any source) for one
    codeset, in one connection."""
    engine = open_engine(data, root=project_root())
    population = engine.population_on(index_date, adults_only=True)
    population["age_band"] = pd.Categorical(
        population["age_band"], categories=AGE_LABELS, ordered=True
    )
    adults = population_definition(index_date, adults_only=True, schemas=engine.schemas())
    return ValidationData(
        population=population,
        coded_events=engine.events_with_codes(codes, index_date, among=adults),
        near_events=engine.events_with_codes(near, index_date, among=adults),
        index_date=index_date,
        source=getattr(engine, "source", None),
    )
