"""Property: generated definitions on generated data give the same cohort on every engine."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesetlib.cohorts import CodesetCodes, CohortDefinition, DuckDBEngine, PandasReference
from tests.spec import dataset

D = dt.date
CODESETS = {
    "a": CodesetCodes(coding_system="snomedct", codes={"A1": "one", "A2": "two"}),
    "b": CodesetCodes(coding_system="snomedct", codes=["B1"]),
    "m": CodesetCodes(coding_system="dmd", codes=["M1", "M2"]),
}
# Dates near month ends and leap days, where the arithmetic is most likely to differ.
DATES = [
    D(2023, 2, 28),
    D(2023, 3, 31),
    D(2023, 12, 31),
    D(2024, 1, 31),
    D(2024, 2, 29),
    D(2024, 3, 1),
    D(2024, 3, 31),
]
OFFSETS = [None, "-1 month", "-13 months", "-1 year", "-30 days", "0 days", "1 month", "2 years"]
RETURNS = [
    "exists",
    "count",
    "first_date",
    "last_date",
    "first_value",
    "last_value",
    "last_code",
    "last_category",
]

dates = st.sampled_from(DATES) | st.dates(D(2022, 1, 1), D(2025, 1, 1))


@st.composite
def datasets(draw) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(1, 6))
    ids = list(range(1, n + 1))
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": [draw(st.sampled_from(["female", "male"])) for _ in ids],
            "date_of_birth": [
                draw(st.sampled_from([D(2000, 2, 29), D(1950, 3, 31), D(2006, 3, 1)])) for _ in ids
            ],
            "date_of_death": [draw(st.none() | dates) for _ in ids],
        }
    )
    registrations = pd.DataFrame(
        [
            (p, draw(st.integers(1, 2)), draw(dates), draw(st.none() | dates))
            for p in ids
            for _ in range(draw(st.integers(0, 2)))
        ],
        columns=["patient_id", "practice_id", "start_date", "end_date"],
    ).astype({"patient_id": "int64", "practice_id": "int64"})
    events = [
        (
            p,
            draw(dates),
            draw(st.sampled_from(["A1", "A2", "B1", "Z9"])),
            draw(st.none() | st.sampled_from([40.0, 58.0, 70.0])),
        )
        for p in ids
        for _ in range(draw(st.integers(0, 4)))
    ]
    meds = [
        (p, draw(dates), draw(st.sampled_from(["M1", "M2"])))
        for p in ids
        for _ in range(draw(st.integers(0, 2)))
    ]
    return {
        "patients": patients,
        "registrations": registrations if len(registrations) else registrations.head(0),
        "practices": pd.DataFrame({"practice_id": [1, 2], "borough": ["Camden", "Islington"]}),
        "clinical_events": pd.DataFrame(
            events, columns=["patient_id", "date", "code", "value"]
        ).astype({"patient_id": "int64", "value": "float64"}),
        "medications": pd.DataFrame(meds, columns=["patient_id", "date", "code"]).astype(
            {"patient_id": "int64"}
        ),
    }


@st.composite
def windows(draw) -> dict:
    start, end = sorted(
        [draw(st.sampled_from(OFFSETS)), draw(st.sampled_from(OFFSETS))],
        key=lambda o: (
            -1e9
            if o is None
            else int(o.split()[0])
            * {"day": 1, "days": 1, "month": 31, "months": 31, "year": 366, "years": 366}[
                o.split()[1]
            ]
        ),
    )
    return {"start": start, "end": end}


@st.composite
def definitions(draw) -> CohortDefinition:
    criteria = []
    for i in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(["clinical_events", "medications"]))
        returns = draw(st.sampled_from(RETURNS))
        if table == "medications":
            codeset = "m"
            returns = returns.replace("value", "date").replace("category", "code")
        else:
            codeset = draw(st.sampled_from(["a", "b"]))
        criteria.append(
            {
                "name": f"c{i}",
                "codeset": codeset,
                "table": table,
                "window": draw(windows()),
                "returns": returns,
            }
        )
    rules = [
        {"action": draw(st.sampled_from(["include", "exclude"])), "criterion": c["name"]}
        for c in criteria
        if c["returns"] == "exists" and draw(st.booleans())
    ]
    per_patient = draw(st.booleans())
    index = {"first_event_of": "a"} if per_patient else draw(st.sampled_from(DATES))
    population = {
        "registered": draw(st.booleans()),
        "alive": draw(st.booleans()),
        "age_min": draw(st.sampled_from([None, 18])),
    }
    columns = [
        "patient_id",
        "index_date",
        "age",
        "age_band",
        "practice_id",
        *[c["name"] for c in criteria],
    ]
    return CohortDefinition.model_validate(
        {
            "id": "generated",
            "index_date": index,
            "population": population,
            "criteria": criteria,
            "rules": rules,
            "columns": columns,
        }
    )


def run(engine, definition) -> tuple[list[dict], list[int]]:
    return dataset.records(engine.cohort(definition, CODESETS)), engine.attrition(
        definition, CODESETS
    )["patients"].tolist()


@settings(max_examples=40, deadline=None)
@given(tables=datasets(), definition=definitions())
def test_duckdb_agrees_with_the_pandas_reference(tables, definition):
    with tempfile.TemporaryDirectory() as folder:
        data = dataset.write_tables(Path(folder), tables)
        assert run(DuckDBEngine(data), definition) == run(
            PandasReference.from_dataset(data), definition
        )


@pytest.mark.spark
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables=datasets(), definition=definitions())
def test_spark_agrees_with_duckdb_and_pandas(spark_session, tables, definition):
    from codesetlib.cohorts.engines.spark_engine import SparkEngine

    with tempfile.TemporaryDirectory() as folder:
        data = dataset.write_tables(Path(folder), tables)
        expected = run(PandasReference.from_dataset(data), definition)
        assert run(DuckDBEngine(data), definition) == expected
        assert run(SparkEngine(data, spark_session), definition) == expected
