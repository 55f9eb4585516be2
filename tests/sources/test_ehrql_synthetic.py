"""The kit's own synthetic dataset, renamed by hand into ehrQL core tables (CSV and Parquet) and into
an EMIS-style extract with a mapping (British dates, sex as F/M, ODS-like practice codes), gives the
same cohort as the kit's Parquet: the same patients, sexes, ages, practices, event counts, dates,
codes and values, and no row is left out on the way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from codesetlib.cohorts import CodesetCodes, CohortDefinition, DuckDBEngine
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.data.synthetic import SynthParams, generate_dataset
from tests.spec.dataset import records

HBA1C = "999791000000106"
INDEX = "2024-06-30"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "kit"
    generate_dataset(SynthParams(patients=2000, practices=3, seed=11), out, progress=False)
    return out


@pytest.fixture(scope="module")
def core_tables(dataset: Path) -> Path:
    """The kit's tables under ehrQL's names: two as CSV, two as Parquet."""
    folder = dataset.parent / "core"
    folder.mkdir()
    queries = {
        "patients.csv": "SELECT patient_id, date_of_birth, sex, date_of_death FROM patients",
        "practice_registrations.parquet": "SELECT patient_id, start_date, end_date, "
        "practice_id AS practice_pseudo_id FROM registrations",
        "clinical_events.csv": "SELECT patient_id, date, code AS snomedct_code, "
        "value AS numeric_value FROM clinical_events",
        "medications.parquet": "SELECT patient_id, date, code AS dmd_code FROM medications",
    }
    write(dataset, folder, queries)
    return folder


@pytest.fixture(scope="module")
def mapped_extract(dataset: Path) -> Path:
    """The kit's tables as an EMIS-style download, and the mapping that reads it back."""
    folder = dataset.parent / "emis"
    folder.mkdir()
    day = "strftime({}, '%d/%m/%Y')"
    queries = {
        "demographics.csv": f"SELECT patient_id AS PatientID, "
        f"CASE sex WHEN 'female' THEN 'F' ELSE 'M' END AS Gender, "
        f"{day.format('date_of_birth')} AS DOB, {day.format('date_of_death')} AS DOD FROM patients",
        "registrations.csv": f"SELECT patient_id AS PatientID, 'P' || practice_id AS Practice, "
        f"{day.format('start_date')} AS Registered, {day.format('end_date')} AS Left_ "
        "FROM registrations",
        "journal.csv": f"SELECT patient_id AS PatientID, {day.format('date')} AS EventDate, "
        "code AS ConceptId, value AS Value FROM clinical_events",
        "issues.csv": f"SELECT patient_id AS PatientID, {day.format('date')} AS IssueDate, "
        "code AS DmdId FROM medications",
    }
    write(dataset, folder, queries)
    (folder / "mapping.yaml").write_text(
        """
files:
  demographics: {path: demographics.csv}
  registrations: {path: registrations.csv}
  journal: {path: journal.csv}
  issues: {path: issues.csv}
date_format: "%d/%m/%Y"
tables:
  patients:
    file: demographics
    patient_id: PatientID
    sex: {column: Gender, values: {F: female, M: male}}
    date_of_birth: DOB
    date_of_death: DOD
  registrations:
    file: registrations
    patient_id: PatientID
    practice_id: Practice
    start_date: Registered
    end_date: Left_
  clinical_events:
    file: journal
    code_system: snomedct
    patient_id: PatientID
    date: EventDate
    code: ConceptId
    value: Value
  medications:
    file: issues
    code_system: dmd
    patient_id: PatientID
    date: IssueDate
    code: DmdId
""",
        encoding="utf-8",
    )
    return folder / "mapping.yaml"


def write(dataset: Path, folder: Path, queries: dict[str, str]) -> None:
    con = duckdb.connect()
    for table in ("patients", "registrations", "clinical_events", "medications"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM '{dataset / table}.parquet'")
    for name, query in queries.items():
        kind = "(FORMAT parquet)" if name.endswith(".parquet") else "(HEADER)"
        con.execute(f"COPY ({query}) TO '{folder / name}' {kind}")


def most_used(dataset: Path, table: str, n: int) -> list[str]:
    found = duckdb.sql(
        f"SELECT code FROM '{dataset / table}.parquet' GROUP BY code ORDER BY count(*) DESC, code "
        f"LIMIT {n}"
    ).fetchall()
    return [code for (code,) in found]


def definition_and_codesets(dataset: Path) -> tuple[CohortDefinition, dict[str, CodesetCodes]]:
    common = [c for c in most_used(dataset, "clinical_events", 25) if c != HBA1C]
    codesets = {
        "common": CodesetCodes(coding_system="snomedct", codes=common),
        "hba1c": CodesetCodes(coding_system="snomedct", codes=[HBA1C]),
        "drugs": CodesetCodes(coding_system="dmd", codes=most_used(dataset, "medications", 5)),
    }
    definition = CohortDefinition.model_validate(
        {
            "id": "synthetic_adults",
            "index_date": INDEX,
            "population": {"age_min": 18},
            "criteria": [
                {"name": "common_events", "codeset": "common", "returns": "count"},
                {"name": "first_common", "codeset": "common", "returns": "first_date"},
                {"name": "last_code", "codeset": "common", "returns": "last_code"},
                {
                    "name": "hba1c",
                    "codeset": "hba1c",
                    "window": "15 months before",
                    "returns": "last_value",
                },
                {
                    "name": "drug",
                    "codeset": "drugs",
                    "table": "medications",
                    "window": "12 months before",
                },
            ],
            "columns": [
                "patient_id",
                "sex",
                "age",
                "common_events",
                "first_common",
                "last_code",
                "hba1c",
                "drug",
            ],
        }
    )
    return definition, codesets


def kit_cohort(dataset: Path) -> list[dict]:
    definition, codesets = definition_and_codesets(dataset)
    found = records(DuckDBEngine(dataset).cohort(definition, codesets))
    return sorted(found, key=lambda row: row["patient_id"])


def test_core_tables_made_from_the_kits_dataset_give_the_same_cohort(dataset, core_tables):
    definition, codesets = definition_and_codesets(dataset)
    engine = open_engine(f"ehrql:{core_tables}")
    assert engine.opened.notes == []
    found = sorted(records(engine.cohort(definition, codesets)), key=lambda r: r["patient_id"])
    expected = kit_cohort(dataset)
    assert len(expected) > 1000
    assert sum(row["hba1c"] is not None for row in expected) > 10
    assert found == expected


def test_a_mapped_extract_made_from_the_kits_dataset_gives_the_same_cohort(dataset, mapped_extract):
    definition, codesets = definition_and_codesets(dataset)
    definition = definition.model_copy(
        update={"columns": [*(definition.columns or []), "practice_id"]}
    )
    engine = open_engine(f"mapped:{mapped_extract}")
    assert engine.opened.notes == []
    found = sorted(records(engine.cohort(definition, codesets)), key=lambda r: r["patient_id"])
    kit = sorted(
        records(DuckDBEngine(dataset).cohort(definition, codesets)),
        key=lambda r: r["patient_id"],
    )
    # Practices are numbered in the order of their codes P1, P2, P3: the kit's own ids.
    assert found == kit
    [(kit_events,)] = duckdb.sql(
        f"SELECT count(*) FROM '{dataset}/clinical_events.parquet'"
    ).fetchall()
    assert engine.opened.details["tables"]["clinical_events"]["rows"] == kit_events
