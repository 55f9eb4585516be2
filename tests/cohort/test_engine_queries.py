"""The questions other layers ask of a dataset, answered by every engine alike: the population on a
date (with the cohort model's registration rule), the events of a list of codes up to a date, the
dates of birth and death, and person-time at risk over registration spells.

Each is worked out by hand on a small dataset, on DuckDB, the pandas reference and (when selected)
Spark; DuckDB is also compared frame by frame with the pandas reference and with a PostgreSQL
server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import DuckDBEngine, PandasReference
from codesetlib.cohorts.engines.database_engine import DatabaseEngine, open_engine
from codesetlib.cohorts.engines.ibis_engine import population_definition
from codesetlib.core.errors import CohortError
from tests.postgres import PostgresServer

# PySpark warns that it does not yet fully support pandas 3 on every result it converts.
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)
D = dt.date
INDEX = D(2025, 3, 31)
START = D(2024, 4, 1)


def days(first: dt.date, last: dt.date) -> int:
    return (last - first).days + 1


@pytest.fixture
def registrations_dataset(tmp_path: Path) -> Path:
    """Eight patients; on 2025-03-31:

    1: registered at practices 2 (since 2010) and 1 (since 2015): practice 1, the latest start.
    2: died 2025-01-01. 3: a child (15). 4: two registrations that began the same day, at practices
    3 and 2: practice 2, the lower id; born 29 Feb 1960, so 65. 5: left practice 1 on 2024-12-31.
    6: 17, turning 18 the next day. 7: 75, at practice 9, which the practices table lacks.
    8: turned 18 on 2024-10-15.
    """
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "sex": ["female", "male", "female", "male", "female", "male", "female", "male"],
            "date_of_birth": [
                D(1980, 5, 1),
                D(1970, 1, 1),
                D(2010, 2, 28),
                D(1960, 2, 29),
                D(1990, 7, 15),
                D(2007, 4, 1),
                D(1950, 1, 1),
                D(2006, 10, 15),
            ],
            "date_of_death": [None, D(2025, 1, 1), None, None, None, None, None, None],
            "imd_quintile": [1, 2, 3, 4, 5, 1, 2, 3],
        }
    )
    spells = [
        # The spell the first row would give comes first.
        (1, 2, D(2010, 1, 1), None),
        (1, 1, D(2015, 6, 1), None),
        (2, 1, D(2000, 1, 1), None),
        (3, 2, D(2012, 1, 1), None),
        (4, 3, D(2020, 1, 1), None),
        (4, 2, D(2020, 1, 1), None),
        (5, 1, D(2000, 1, 1), D(2024, 12, 31)),
        (6, 9, D(2020, 1, 1), None),
        (7, 9, D(2024, 10, 1), None),
        (8, 2, D(2020, 1, 1), None),
    ]
    registrations = pd.DataFrame(
        {
            "patient_id": [s[0] for s in spells],
            "practice_id": [s[1] for s in spells],
            "start_date": [s[2] for s in spells],
            "end_date": pd.Series([s[3] for s in spells], dtype=pd.ArrowDtype(pa.date32())),
        }
    )
    practices = pd.DataFrame(
        {"practice_id": [1, 2, 3], "borough": ["Camden", "Islington", "Barnet"]}
    )
    events = pd.DataFrame(
        [
            (1, D(2020, 1, 1), "A1"),
            (1, INDEX, "A1"),
            (1, D(2025, 4, 1), "B1"),
            (1, D(2019, 1, 1), "Z9"),
            (2, D(2024, 6, 1), "A1"),
            (3, D(2021, 1, 1), "A1"),
            (4, D(2022, 2, 2), "B1"),
            (7, D(2024, 11, 1), "A1"),
            (8, D(2024, 9, 1), "A1"),
        ],
        columns=["patient_id", "date", "code"],
    )
    for name, frame in {
        "patients": patients,
        "registrations": registrations,
        "practices": practices,
        "clinical_events": events,
    }.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


def rows(frame: pd.DataFrame) -> list[tuple]:
    """The frame's rows as plain tuples (dates as dates, missing values as None)."""
    out = []
    for record in frame.itertuples(index=False):
        out.append(
            tuple(
                None
                if pd.isna(v)
                else v.date()
                if isinstance(v, pd.Timestamp)
                else v.item()
                if hasattr(v, "item")
                else v
                for v in record
            )
        )
    return out


def test_the_population_uses_the_cohort_models_registration_rule(
    make_engine: Callable[[Path], object], registrations_dataset: Path
):
    engine = make_engine(registrations_dataset)
    adults = engine.population_on(INDEX)
    assert list(adults.columns) == [
        "patient_id",
        "sex",
        "age",
        "age_band",
        "imd_quintile",
        "practice_id",
        "borough",
    ]
    assert rows(adults) == [
        (1, "female", 44, "40-59", 1, 1, "Camden"),
        (4, "male", 65, "60-79", 4, 2, "Islington"),
        (7, "female", 75, "60-79", 2, 9, None),
        (8, "male", 18, "18-39", 3, 2, "Islington"),
    ]
    everyone = engine.population_on(INDEX, adults_only=False)
    assert [r[:3] for r in rows(everyone) if r[0] not in set(adults["patient_id"])] == [
        (3, "female", 15),
        (6, "male", 17),
    ]


def test_events_with_codes_up_to_a_date_and_of_a_population(
    make_engine: Callable[[Path], object], registrations_dataset: Path
):
    engine = make_engine(registrations_dataset)
    every = engine.events_with_codes({"A1", "B1"}, INDEX)
    assert list(every.columns) == ["patient_id", "date", "code"]
    assert rows(every) == [
        (1, D(2020, 1, 1), "A1"),
        (1, INDEX, "A1"),
        (2, D(2024, 6, 1), "A1"),
        (3, D(2021, 1, 1), "A1"),
        (4, D(2022, 2, 2), "B1"),
        (7, D(2024, 11, 1), "A1"),
        (8, D(2024, 9, 1), "A1"),
    ]
    adults = engine.events_with_codes(["A1", "B1"], INDEX, among=population_definition(INDEX))
    assert [r[0] for r in rows(adults)] == [1, 1, 4, 7, 8]
    assert rows(engine.events_with_codes(set(), INDEX)) == []
    assert rows(engine.events_with_codes({"B1"}, D(2025, 4, 1))) == [
        (1, D(2025, 4, 1), "B1"),
        (4, D(2022, 2, 2), "B1"),
    ]


def test_dates_of_birth_and_death(make_engine, registrations_dataset: Path):
    dates = make_engine(registrations_dataset).birth_and_death_dates()
    assert list(dates.columns) == ["patient_id", "date_of_birth", "date_of_death"]
    found = rows(dates)
    assert [r[0] for r in found] == list(range(1, 9))
    assert found[1] == (2, D(1970, 1, 1), D(2025, 1, 1))
    assert found[3] == (4, D(1960, 2, 29), None)


def test_person_time_at_risk_over_registration_spells(
    make_engine: Callable[[Path], object], registrations_dataset: Path
):
    """From 2024-04-01 to 2025-03-31, adults, codes A1: patients 1 and 3 were coded before the
    period and are not at risk; 6 turns 18 after it. 2 is at risk until death and first coded in
    the period; 4 twice over (two spells); 5 until leaving; 7 from registering, coded 31 days after
    (too soon to count); 8 from turning 18, coded before that (not in the time at risk)."""
    engine = make_engine(registrations_dataset)
    strata = engine.person_time(["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=90)
    assert list(strata.columns) == [
        "practice_id",
        "borough",
        "sex",
        "age",
        "person_days",
        "first_codes",
    ]
    assert rows(strata) == [
        (1, "Camden", "female", 34, days(START, D(2024, 12, 31)), 0),
        (1, "Camden", "male", 54, days(START, D(2025, 1, 1)), 1),
        (2, "Islington", "male", 18, days(D(2024, 10, 15), INDEX), 0),
        (2, "Islington", "male", 64, days(START, INDEX), 0),
        (3, "Barnet", "male", 64, days(START, INDEX), 0),
        (9, None, "female", 74, days(D(2024, 10, 1), INDEX), 0),
    ]
    # With no wait after registering, patient 7's code counts.
    prompt = engine.person_time(["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=0)
    assert int(prompt["first_codes"].sum()) == 2


def test_duckdb_and_the_pandas_reference_give_the_same_frames(registrations_dataset: Path):
    duck = DuckDBEngine(registrations_dataset)
    reference = PandasReference.from_dataset(registrations_dataset)
    among = population_definition(INDEX)
    for ask in [
        lambda e: e.events_with_codes({"A1", "B1"}, INDEX),
        lambda e: e.events_with_codes({"A1"}, INDEX, among=among),
        lambda e: e.events_with_codes(set(), INDEX),
        lambda e: e.birth_and_death_dates(),
    ]:
        pd.testing.assert_frame_equal(ask(duck), ask(reference))
    for ask in [
        lambda e: e.population_on(INDEX, adults_only=False),
        lambda e: e.person_time(
            ["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=90
        ),
    ]:
        # Column types differ only in width and in the engines' string and missing values.
        pd.testing.assert_frame_equal(ask(duck), ask(reference), check_dtype=False)


def test_a_missing_table_is_named(tmp_path: Path, registrations_dataset: Path):
    tables = PandasReference.from_dataset(registrations_dataset).tables
    reference = PandasReference({k: v for k, v in tables.items() if k != "registrations"})
    with pytest.raises(CohortError, match="person-time at risk needs the registrations table"):
        reference.person_time(["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=90)
    no_dates = PandasReference({**tables, "patients": tables["patients"].drop(columns="sex")})
    with pytest.raises(CohortError, match=r"column\(s\) sex of the patients table"):
        no_dates.person_time(["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=90)


def test_a_postgresql_server_gives_what_duckdb_gives(
    postgres_server: PostgresServer, registrations_dataset: Path
):
    """The same questions on a database server (the `DatabaseEngine`), with the same types."""
    names = ["patients", "registrations", "practices", "clinical_events"]
    tables = {n: pq.read_table(registrations_dataset / f"{n}.parquet") for n in names}
    postgres_server.load_tables(tables, "engine_queries")
    server = open_engine(postgres_server.source("engine_queries", names))
    assert isinstance(server, DatabaseEngine)
    duck = DuckDBEngine(registrations_dataset)
    try:
        for ask in [
            lambda e: e.population_on(INDEX, adults_only=False),
            lambda e: e.events_with_codes({"A1", "B1"}, INDEX),
            lambda e: e.events_with_codes({"A1"}, INDEX, among=population_definition(INDEX)),
            lambda e: e.birth_and_death_dates(),
            lambda e: e.person_time(
                ["A1"], START, INDEX, min_age=18, age_in_year=2024, settled_days=90
            ),
        ]:
            pd.testing.assert_frame_equal(ask(server), ask(duck), check_dtype=False)
    finally:
        server.con.disconnect()
