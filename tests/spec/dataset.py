"""The tables of the spec examples: written as text, typed by the dataset's schema, stored as Parquet.

`STANDARD` is a six-patient dataset whose answers are worked out by hand; examples that need only a
few rows write their own with `tables(...)`. Tests beyond the spec (engine-specific checks, the
measures module) read the same dataset from here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from codesetlib.cohorts import CodesetCodes

D = dt.date
INDEX = D(2024, 3, 31)

CODESETS = {
    "diabetes": CodesetCodes(coding_system="snomedct", codes=["D1", "D2"]),
    "hba1c": CodesetCodes(coding_system="snomedct", codes=["H1"]),
    "metformin": CodesetCodes(coding_system="dmd", codes=["M1"]),
    "ethnicity": CodesetCodes(coding_system="snomedct", codes={"E1": "White", "E2": "Asian"}),
}

SCHEMAS = {
    "patients": {
        "patient_id": pa.int64(),
        "sex": pa.string(),
        "date_of_birth": pa.date32(),
        "date_of_death": pa.date32(),
        "imd_quintile": pa.int8(),
    },
    "registrations": {
        "patient_id": pa.int64(),
        "practice_id": pa.int64(),
        "start_date": pa.date32(),
        "end_date": pa.date32(),
    },
    "practices": {"practice_id": pa.int64(), "borough": pa.string()},
    "clinical_events": {
        "patient_id": pa.int64(),
        "date": pa.date32(),
        "code": pa.string(),
        "value": pa.float64(),
    },
    "medications": {"patient_id": pa.int64(), "date": pa.date32(), "code": pa.string()},
}


def parse_cell(text: str, kind: pa.DataType) -> object:
    """One cell as the Python value of its column's type; an empty cell is null."""
    if not text:
        return None
    if pa.types.is_date(kind):
        return dt.date.fromisoformat(text)
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        return float(text)
    return text


def table(name: str, text: str) -> pd.DataFrame:
    """The table `name` from rows written `1 | female | 1960-02-29` under a header of its column
    names, typed by its schema; `#` starts a comment, as in the examples that explain a row."""
    lines = [line.split("#", 1)[0].strip() for line in text.strip().splitlines()]
    header, *rows = [line for line in lines if line]
    columns = [cell.strip() for cell in header.split("|")]
    schema = pa.schema([(c, SCHEMAS[name][c]) for c in columns])
    cells = [[cell.strip() for cell in row.split("|")] for row in rows]
    if any(len(row) != len(columns) for row in cells):
        raise ValueError(f"{name}: every row needs {len(columns)} cells ({', '.join(columns)})")
    records = [
        {c: parse_cell(cell, schema.field(c).type) for c, cell in zip(columns, row, strict=True)}
        for row in cells
    ]
    return pa.Table.from_pylist(records, schema=schema).to_pandas()


def tables(**texts: str) -> dict[str, pd.DataFrame]:
    """An example's tables, each written as `table` reads it, by name."""
    return {name: table(name, text) for name, text in texts.items()}


def with_every_table(given: Mapping[str, pd.DataFrame | None]) -> dict[str, pd.DataFrame]:
    """The given tables and, as a real dataset has every table, each other one with no rows; a
    table given as None is left out, for the examples of a dataset without it."""
    every = {name: given.get(name, table(name, " | ".join(SCHEMAS[name]))) for name in SCHEMAS}
    return {name: frame for name, frame in every.items() if frame is not None}


PATIENTS = table(
    "patients",
    """
    patient_id | sex    | date_of_birth | date_of_death | imd_quintile
    1          | female | 1960-02-29    |               | 1  # leap-day birthday
    2          | male   | 2010-05-01    |               | 2  # a child
    3          | female | 1950-01-31    | 2024-01-15    | 3
    4          | male   | 1970-06-15    |               | 4
    5          | female | 1980-03-31    |               | 5  # birthday on the index date
    6          | male   | 1955-12-31    |               | 1
    """,
)
REGISTRATIONS = table(
    "registrations",
    """
    patient_id | practice_id | start_date | end_date
    1          | 1           | 2000-01-01 |
    2          | 2           | 2000-01-01 |
    3          | 1           | 2000-01-01 | 2024-01-15
    4          | 2           | 2024-04-01 |
    5          | 1           | 2000-01-01 | 2023-05-31
    5          | 2           | 2023-06-01 |
    6          | 2           | 2000-01-01 |
    """,
)
PRACTICES = table(
    "practices",
    """
    practice_id | borough
    1           | Camden
    2           | Islington
    """,
)
EVENTS = table(
    "clinical_events",
    """
    patient_id | date       | code | value
    1          | 2010-01-01 | D1   |
    1          | 2024-03-31 | H1   | 50.0  # on the index date: inside
    1          | 2023-01-01 | H1   | 70.0
    1          | 2015-01-01 | E1   |
    1          | 2020-01-01 | E2   |
    2          | 2024-04-01 | D2   |       # after the index date
    3          | 2000-01-01 | D1   |
    4          | 2020-01-01 | D1   |
    5          | 2022-06-01 | D2   |
    5          | 2023-02-28 | H1   | 60.0  # exactly 13 months before 31 Mar 2024 (clamped)
    5          | 2023-02-27 | H1   | 40.0  # one day too early
    5          | 2019-05-05 | E2   |
    6          | 2024-03-31 | D1   |
    6          | 2024-01-01 | D1   |
    6          | 2024-03-01 | H1   | 55.0
    6          | 2024-03-01 | H1   | 57.0  # same day: the larger value is "last"
    """,
)
MEDICATIONS = table(
    "medications",
    """
    patient_id | date       | code
    1          | 2023-04-01 | M1
    5          | 2023-03-30 | M1    # a day before 12 months before the index date
    6          | 2024-04-01 | M1
    """,
)

STANDARD = {
    "patients": PATIENTS,
    "registrations": REGISTRATIONS,
    "practices": PRACTICES,
    "clinical_events": EVENTS,
    "medications": MEDICATIONS,
}


def write_tables(folder: Path, tables: dict[str, pd.DataFrame] = STANDARD) -> Path:
    """Write the tables as Parquet with the dataset's column types into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        schema = pa.schema([(c, SCHEMAS[name][c]) for c in frame.columns])
        arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(arrow, folder / f"{name}.parquet")
    return folder


def plain(value: object) -> object:
    """A value as plain Python, so results from every engine compare equal."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if hasattr(value, "item"):
        return plain(value.item())
    if value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of a result as plain dicts."""
    return [
        {k: plain(v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")
    ]
