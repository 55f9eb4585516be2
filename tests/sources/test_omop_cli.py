"""`codeset cohort … --data omop:cdm.duckdb` on a CDM the kit did not write: tables made here with the
OMOP CDM 5.4 column types (32-bit ids, NUMERIC values, VARCHAR codes), rows entered by hand, a
cohort worked out by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]

TABLES = """
CREATE TABLE person (person_id INTEGER NOT NULL, gender_concept_id INTEGER NOT NULL,
  year_of_birth INTEGER NOT NULL, month_of_birth INTEGER, day_of_birth INTEGER,
  birth_datetime TIMESTAMP, race_concept_id INTEGER NOT NULL, ethnicity_concept_id INTEGER NOT NULL,
  location_id INTEGER, provider_id INTEGER, care_site_id INTEGER, person_source_value VARCHAR(50),
  gender_source_value VARCHAR(50), gender_source_concept_id INTEGER, race_source_value VARCHAR(50),
  race_source_concept_id INTEGER, ethnicity_source_value VARCHAR(50),
  ethnicity_source_concept_id INTEGER);
CREATE TABLE observation_period (observation_period_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
  observation_period_start_date DATE NOT NULL, observation_period_end_date DATE NOT NULL,
  period_type_concept_id INTEGER NOT NULL);
CREATE TABLE death (person_id INTEGER NOT NULL, death_date DATE NOT NULL, death_datetime TIMESTAMP,
  death_type_concept_id INTEGER, cause_concept_id INTEGER, cause_source_value VARCHAR(50),
  cause_source_concept_id INTEGER);
CREATE TABLE condition_occurrence (condition_occurrence_id INTEGER NOT NULL,
  person_id INTEGER NOT NULL, condition_concept_id INTEGER NOT NULL,
  condition_start_date DATE NOT NULL, condition_start_datetime TIMESTAMP, condition_end_date DATE,
  condition_end_datetime TIMESTAMP, condition_type_concept_id INTEGER NOT NULL,
  condition_status_concept_id INTEGER, stop_reason VARCHAR(20), provider_id INTEGER,
  visit_occurrence_id INTEGER, visit_detail_id INTEGER, condition_source_value VARCHAR(50),
  condition_source_concept_id INTEGER, condition_status_source_value VARCHAR(50));
CREATE TABLE measurement (measurement_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
  measurement_concept_id INTEGER NOT NULL, measurement_date DATE NOT NULL,
  measurement_datetime TIMESTAMP, measurement_time VARCHAR(10),
  measurement_type_concept_id INTEGER NOT NULL, operator_concept_id INTEGER,
  value_as_number NUMERIC, value_as_concept_id INTEGER, unit_concept_id INTEGER,
  range_low NUMERIC, range_high NUMERIC, provider_id INTEGER, visit_occurrence_id INTEGER,
  visit_detail_id INTEGER, measurement_source_value VARCHAR(50),
  measurement_source_concept_id INTEGER, unit_source_value VARCHAR(50),
  unit_source_concept_id INTEGER, value_source_value VARCHAR(50),
  measurement_event_id BIGINT, meas_event_field_concept_id INTEGER);
CREATE TABLE drug_exposure (drug_exposure_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
  drug_concept_id INTEGER NOT NULL, drug_exposure_start_date DATE NOT NULL,
  drug_exposure_start_datetime TIMESTAMP, drug_exposure_end_date DATE NOT NULL,
  drug_exposure_end_datetime TIMESTAMP, verbatim_end_date DATE,
  drug_type_concept_id INTEGER NOT NULL, stop_reason VARCHAR(20), refills INTEGER,
  quantity NUMERIC, days_supply INTEGER, sig VARCHAR, route_concept_id INTEGER,
  lot_number VARCHAR(50), provider_id INTEGER, visit_occurrence_id INTEGER,
  visit_detail_id INTEGER, drug_source_value VARCHAR(50), drug_source_concept_id INTEGER,
  route_source_value VARCHAR(50), dose_unit_source_value VARCHAR(50));
CREATE TABLE concept (concept_id INTEGER NOT NULL, concept_name VARCHAR(255) NOT NULL,
  domain_id VARCHAR(20) NOT NULL, vocabulary_id VARCHAR(20) NOT NULL,
  concept_class_id VARCHAR(20) NOT NULL, standard_concept VARCHAR(1),
  concept_code VARCHAR(50) NOT NULL, valid_start_date DATE NOT NULL, valid_end_date DATE NOT NULL,
  invalid_reason VARCHAR(1));
CREATE TABLE concept_relationship (concept_id_1 INTEGER NOT NULL, concept_id_2 INTEGER NOT NULL,
  relationship_id VARCHAR(20) NOT NULL, valid_start_date DATE NOT NULL,
  valid_end_date DATE NOT NULL, invalid_reason VARCHAR(1));
"""

ROWS = """
INSERT INTO concept VALUES
  (201826, 'Type 2 diabetes mellitus', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '44054006',
   DATE '1970-01-01', DATE '2099-12-31', NULL),
  (3004410, 'Hemoglobin A1c', 'Measurement', 'SNOMED', 'Procedure', 'S', '999791000000106',
   DATE '1970-01-01', DATE '2099-12-31', NULL),
  (35606542, 'Metformin 500mg tablets', 'Drug', 'dm+d', 'VMP', 'S', '325278007',
   DATE '1970-01-01', DATE '2099-12-31', NULL),
  (44833365, 'Type 2 diabetes mellitus', 'Condition', 'ICD10', 'ICD10 code', NULL, 'E11',
   DATE '1970-01-01', DATE '2099-12-31', NULL);
INSERT INTO concept_relationship VALUES
  (44833365, 201826, 'Maps to', DATE '1970-01-01', DATE '2099-12-31', NULL),
  (201826, 201826, 'Maps to', DATE '1970-01-01', DATE '2099-12-31', NULL);
INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth,
  race_concept_id, ethnicity_concept_id, care_site_id) VALUES
  (1, 8532, 1960, 5, 2, 0, 0, NULL), (2, 8507, 1950, 1, 30, 0, 0, NULL),
  (3, 8532, 1970, 7, 7, 0, 0, NULL), (4, 8507, 1955, 3, 3, 0, 0, NULL),
  (5, 8507, 2010, 3, 3, 0, 0, NULL);
INSERT INTO observation_period VALUES
  (1, 1, DATE '2010-01-01', DATE '2025-12-31', 32817),
  (2, 2, DATE '2010-01-01', DATE '2025-12-31', 32817),
  (3, 3, DATE '2010-01-01', DATE '2025-12-31', 32817),
  (4, 4, DATE '2010-01-01', DATE '2024-12-31', 32817),
  (5, 5, DATE '2010-01-01', DATE '2025-12-31', 32817);
INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id,
  condition_start_date, condition_type_concept_id, condition_source_value,
  condition_source_concept_id) VALUES
  (1, 1, 201826, DATE '2015-06-01', 32817, '44054006', 201826),
  (2, 2, 201826, DATE '2018-02-01', 32817, 'E11', 44833365),
  (3, 4, 201826, DATE '2016-01-01', 32817, '44054006', 201826),
  (4, 5, 201826, DATE '2020-01-01', 32817, '44054006', 201826);
INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date,
  measurement_type_concept_id, value_as_number, measurement_source_concept_id) VALUES
  (1, 1, 3004410, DATE '2024-11-20', 32817, 50.5, 3004410),
  (2, 2, 3004410, DATE '2023-01-01', 32817, 61, 3004410),
  (3, 2, 3004410, DATE '2025-02-10', 32817, 72, 3004410);
INSERT INTO drug_exposure (drug_exposure_id, person_id, drug_concept_id,
  drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id,
  drug_source_concept_id) VALUES
  (1, 1, 35606542, DATE '2025-01-15', DATE '2025-02-15', 32817, 35606542);
"""


@pytest.fixture(scope="module")
def cdm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site-cdm") / "cdm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(TABLES)
        con.execute(ROWS)
    return path


def test_the_cohort_of_a_cdm_written_elsewhere(cdm: Path, tmp_path: Path):
    out = tmp_path / "cohort.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesetlib.cli",
            "cohort",
            "cohorts/diabetes_control.yaml",
            "--data",
            f"omop:{cdm}",
            "--out",
            str(out),
            "--no-disclosure",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # 1: SNOMED source code; 2: ICD-10 source code found through 'Maps to' the SNOMED concept;
    # 3: no diabetes; 4: observation ended before the index date; 5: a child.
    cohort = pd.read_csv(out)
    assert list(cohort["patient_id"]) == [1, 2]
    assert list(cohort["hba1c_value"]) == [50.5, 72.0]
    assert list(cohort["hba1c_controlled"]) == [True, False]
    assert list(cohort["metformin"]) == [True, False]
    assert list(cohort["sex"]) == ["female", "male"]
    assert "column imd_quintile left out" in result.stdout
    assert "column borough left out" in result.stdout
    # What each codeset's codes find in the CDM (patient 2 only through E11 mapping to the
    # standard concept), and the codes that find nothing.
    assert (
        "codeset diabetes (both matching): patients found by the source route 3, by the standard "
        "route 4, by both 3, by either 4" in result.stdout
    )
    assert "12 of 13 codes find no event:" in result.stdout
    assert "not in CONCEPT (12): 190372001, 237599002," in result.stdout
    table = result.stdout.split(" step ")[1].split("wrote")[0].splitlines()[1:]
    steps = [line.split()[-2:] for line in table]
    assert [int(patients) for patients, _ in steps] == [5, 4, 4, 3, 2]


def test_an_icd10_codeset_finds_events_through_the_cdm(cdm: Path, tmp_path: Path):
    def codeset(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "codesetlib.cli", "--codesets-dir", "codesets", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    made = codeset(
        "new",
        "t2dm_icd10",
        "--concept",
        "E11",
        "--title",
        "Type 2 diabetes (ICD-10)",
        "--purpose",
        "Patients with type 2 diabetes coded in ICD-10",
        "--author",
        "A Researcher",
        "--release",
        "icd10-who-2019",
    )
    assert made.returncode == 0, made.stderr
    (tmp_path / "t2dm.yaml").write_text(
        "id: t2dm\nindex_date: 2025-03-31\ncriteria:\n"
        "  - {name: t2dm, codeset: t2dm_icd10, window: ever before}\n"
        "rules:\n  - {action: include, criterion: t2dm}\ncolumns: [patient_id]\n"
    )
    for match, expected in [("source", [2]), ("standard", [1, 2, 5]), ("both", [1, 2, 5])]:
        out = tmp_path / f"{match}.csv"
        result = codeset(
            "cohort", "t2dm.yaml", "--data", f"omop:{cdm}?match={match}", "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        # Patient 2's event was recorded as E11; 1, 4 and 5 as SNOMED CT, the standard concept
        # E11 maps to; 4 left before the index date and 3 has no diabetes.
        assert list(pd.read_csv(out)["patient_id"]) == expected, match
    kit = codeset("cohort", "t2dm.yaml", "--data", str(REPO / "data" / "synthetic" / "default"))
    assert kit.returncode == 2
    assert "is icd10 but clinical_events is coded in snomedct" in kit.stderr
