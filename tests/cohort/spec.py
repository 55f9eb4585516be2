"""The spec examples: a tiny dataset and definitions whose answers are worked out by hand.

The same examples run against every engine (tests/cohort/test_spec_examples.py).
"""

from __future__ import annotations

import datetime as dt
import math
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

PATIENTS = pd.DataFrame(
    {
        "patient_id": [1, 2, 3, 4, 5, 6],
        "sex": ["female", "male", "female", "male", "female", "male"],
        "date_of_birth": [
            D(1960, 2, 29),  # leap-day birthday
            D(2010, 5, 1),  # a child
            D(1950, 1, 31),
            D(1970, 6, 15),
            D(1980, 3, 31),  # birthday on the index date
            D(1955, 12, 31),
        ],
        "date_of_death": [None, None, D(2024, 1, 15), None, None, None],
        "imd_quintile": [1, 2, 3, 4, 5, 1],
    }
)
REGISTRATIONS = pd.DataFrame(
    {
        "patient_id": [1, 2, 3, 4, 5, 5, 6],
        "practice_id": [1, 2, 1, 2, 1, 2, 2],
        "start_date": [D(2000, 1, 1)] * 3
        + [D(2024, 4, 1), D(2000, 1, 1), D(2023, 6, 1), D(2000, 1, 1)],
        "end_date": [None, None, D(2024, 1, 15), None, D(2023, 5, 31), None, None],
    }
)
PRACTICES = pd.DataFrame({"practice_id": [1, 2], "borough": ["Camden", "Islington"]})
EVENTS = pd.DataFrame(
    [
        (1, D(2010, 1, 1), "D1", None),
        (1, D(2024, 3, 31), "H1", 50.0),  # on the index date: inside
        (1, D(2023, 1, 1), "H1", 70.0),
        (1, D(2015, 1, 1), "E1", None),
        (1, D(2020, 1, 1), "E2", None),
        (2, D(2024, 4, 1), "D2", None),  # after the index date
        (3, D(2000, 1, 1), "D1", None),
        (4, D(2020, 1, 1), "D1", None),
        (5, D(2022, 6, 1), "D2", None),
        (5, D(2023, 2, 28), "H1", 60.0),  # exactly 13 months before 31 Mar 2024 (clamped)
        (5, D(2023, 2, 27), "H1", 40.0),  # one day too early
        (5, D(2019, 5, 5), "E2", None),
        (6, D(2024, 3, 31), "D1", None),
        (6, D(2024, 1, 1), "D1", None),
        (6, D(2024, 3, 1), "H1", 55.0),
        (6, D(2024, 3, 1), "H1", 57.0),  # same day: the larger value is "last"
    ],
    columns=["patient_id", "date", "code", "value"],
)
MEDICATIONS = pd.DataFrame(
    [
        (1, D(2023, 4, 1), "M1"),
        (5, D(2023, 3, 30), "M1"),  # a day before 12 months before the index date
        (6, D(2024, 4, 1), "M1"),
    ],
    columns=["patient_id", "date", "code"],
)

TABLES = {
    "patients": PATIENTS,
    "registrations": REGISTRATIONS,
    "practices": PRACTICES,
    "clinical_events": EVENTS,
    "medications": MEDICATIONS,
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


def write_tables(folder: Path, tables: dict[str, pd.DataFrame] = TABLES) -> Path:
    """Write the tables as Parquet with the dataset's column types into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        schema = pa.schema([(c, SCHEMAS[name][c]) for c in frame.columns])
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(table, folder / f"{name}.parquet")
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


DIABETES_ADULTS = {
    "id": "diabetes_adults",
    "index_date": INDEX,
    "population": {"age_min": 18},
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes", "window": "ever before"},
        {
            "name": "hba1c_value",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_value",
        },
        {
            "name": "hba1c_date",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_date",
        },
        {
            "name": "metformin",
            "codeset": "metformin",
            "table": "medications",
            "window": "12 months before",
        },
        {"name": "ethnicity", "codeset": "ethnicity", "returns": "last_category"},
    ],
    "flags": [{"name": "hba1c_controlled", "of": "hba1c_value", "at_most": 58}],
    "rules": [{"action": "include", "criterion": "diabetes"}],
    "columns": [
        "patient_id",
        "sex",
        "age",
        "practice_id",
        "hba1c_value",
        "hba1c_date",
        "hba1c_controlled",
        "metformin",
        "ethnicity",
    ],
}
DIABETES_ADULTS_EXPECTED = [
    {
        "patient_id": 1,
        "sex": "female",
        "age": 64,
        "practice_id": 1,
        "hba1c_value": 50.0,
        "hba1c_date": D(2024, 3, 31),
        "hba1c_controlled": True,
        "metformin": True,
        "ethnicity": "Asian",
    },
    {
        "patient_id": 5,
        "sex": "female",
        "age": 44,
        "practice_id": 2,
        "hba1c_value": 60.0,
        "hba1c_date": D(2023, 2, 28),
        "hba1c_controlled": False,
        "metformin": False,
        "ethnicity": "Asian",
    },
    {
        "patient_id": 6,
        "sex": "male",
        "age": 68,
        "practice_id": 2,
        "hba1c_value": 57.0,
        "hba1c_date": D(2024, 3, 1),
        "hba1c_controlled": True,
        "metformin": False,
        "ethnicity": None,
    },
]

ATTRITION = {
    "id": "attrition",
    "index_date": INDEX,
    "population": {"age_min": 18},
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes"},
        {
            "name": "metformin",
            "codeset": "metformin",
            "table": "medications",
            "window": "12 months before",
        },
    ],
    "rules": [
        {"action": "include", "criterion": "diabetes"},
        {"action": "exclude", "criterion": "metformin"},
    ],
}
# Start 6; registered: 1, 2, 5, 6; all alive; adults: 1, 5, 6; diabetes: all; no metformin: 5, 6.
ATTRITION_EXPECTED = [6, 4, 4, 3, 3, 2]

AGES_ON_28_FEB_2023 = {
    "id": "ages",
    "index_date": D(2023, 2, 28),
    "population": {"registered": False, "alive": False},
    "columns": ["patient_id", "age", "age_band"],
}
# Patient 1, born 29 Feb 1960, is still 62 on 28 Feb 2023.
AGES_EXPECTED = [
    {"patient_id": 1, "age": 62, "age_band": "60-79"},
    {"patient_id": 2, "age": 12, "age_band": "0-17"},
    {"patient_id": 3, "age": 73, "age_band": "60-79"},
    {"patient_id": 4, "age": 52, "age_band": "40-59"},
    {"patient_id": 5, "age": 42, "age_band": "40-59"},
    {"patient_id": 6, "age": 67, "age_band": "60-79"},
]

FIRST_DIAGNOSIS = {
    "id": "first_diagnosis",
    "index_date": {"first_event_of": "diabetes", "on_or_after": D(2015, 1, 1)},
    "population": {"registered": False, "alive": False},
    "criteria": [
        {"name": "hba1c_tests", "codeset": "hba1c", "window": "24 months after", "returns": "count"}
    ],
    "columns": ["patient_id", "index_date", "hba1c_tests"],
}
FIRST_DIAGNOSIS_EXPECTED = [
    {"patient_id": 2, "index_date": D(2024, 4, 1), "hba1c_tests": 0},
    {"patient_id": 4, "index_date": D(2020, 1, 1), "hba1c_tests": 0},
    {"patient_id": 5, "index_date": D(2022, 6, 1), "hba1c_tests": 2},
    {"patient_id": 6, "index_date": D(2024, 1, 1), "hba1c_tests": 2},
]

BETWEEN = {
    "id": "between",
    "index_date": INDEX,
    "population": {"registered": False, "alive": False},
    "criteria": [
        {
            "name": "old_hba1c",
            "codeset": "hba1c",
            "window": {"start": "-14 months", "end": "-13 months"},
        }
    ],
    "columns": ["patient_id", "old_hba1c"],
}
# From 31 Jan 2023 to 28 Feb 2023 inclusive: only patient 5 (27 and 28 Feb 2023).
BETWEEN_EXPECTED = [{"patient_id": p, "old_hba1c": p == 5} for p in range(1, 7)]

CONTROL_MEASURE = {
    "id": "control",
    "index_date": INDEX,
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes"},
        {
            "name": "hba1c_value",
            "codeset": "hba1c",
            "window": "13 months before",
            "returns": "last_value",
        },
    ],
    "flags": [{"name": "hba1c_controlled", "of": "hba1c_value", "at_most": 58}],
    "rules": [{"action": "include", "criterion": "diabetes"}],
}
# Interval ends 31 Jan, 29 Feb, 31 Mar 2024; practice 1 holds patient 1, practice 2 patients 5 and 6.
CONTROL_MEASURE_EXPECTED = [
    {
        "interval_start": D(2024, 1, 1),
        "interval_end": D(2024, 1, 31),
        "practice_id": 1,
        "numerator": 0,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 1, 1),
        "interval_end": D(2024, 1, 31),
        "practice_id": 2,
        "numerator": 0,
        "denominator": 2,
    },
    {
        "interval_start": D(2024, 2, 1),
        "interval_end": D(2024, 2, 29),
        "practice_id": 1,
        "numerator": 0,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 2, 1),
        "interval_end": D(2024, 2, 29),
        "practice_id": 2,
        "numerator": 0,
        "denominator": 2,
    },
    {
        "interval_start": D(2024, 3, 1),
        "interval_end": D(2024, 3, 31),
        "practice_id": 1,
        "numerator": 1,
        "denominator": 1,
    },
    {
        "interval_start": D(2024, 3, 1),
        "interval_end": D(2024, 3, 31),
        "practice_id": 2,
        "numerator": 1,
        "denominator": 2,
    },
]
