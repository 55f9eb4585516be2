"""The OMOP CDM source on a small CDM built here, whose kit tables are worked out by hand: codes by
the source route, the standard route and both, an ICD-10 source code mapped to a SNOMED CT standard
concept, a dm+d drug, the three ways a CDM is stored, the errors bad data gives, and a cohort run
end to end on it.

The CDM (concept ids on the left of each event are its standard and source concepts):

| event | person | table | standard → source | date | source codes | standard codes |
|---|---|---|---|---|---|---|
| 101 | 1 | condition | 1001 → 1001 | 2015-03-01 | 254837009 | 254837009, C50.9 |
| 102 | 2 | condition | 1001 → 2001 | 2016-04-01 | C50.9 | 254837009, C50.9 |
| 103 | 3 | condition | 1002 → 2002 | 2017-01-01 | E11.9 | 44054006, E11.9 |
| 104 | 4 | condition | 1004 → 2003 | 2018-01-01 | C18.9 (ICD10CM C189) | 363406005, C18.9 |
| 105 | 5 | condition | 0 → 0 | 2019-01-01 | – | – |
| 106 | 5 | condition | 0 → 5001 | 2019-02-01 | – (ICD9CM V10.3) | – |
| 201 | 5 | observation | 1002 → none | 2018-06-01 | – | 44054006, E11.9 |
| 301 | 2 | procedure | 1005 → 1005 | 2016-05-01 | 720006006 | 720006006 |
| 401 | 3 | measurement | 1003 → 1003 | 2017-01-01 | 999791000000106 (58) | same |
| 402 | 3 | measurement | 1003 → 0 | 2018-01-01 | – (52) | 999791000000106 |
| 501 | 3 | drug | 4001 → 3001 | 2017-02-01 | 325278007 (dm+d) | 325278007 |
| 502 | 5 | drug | 4001 → 0 | 2018-07-01 | – | 325278007 |
| 503 | 1 | drug | 0 → 0 | 2019-01-01 | – | – |

The RxNorm Extension concept 4001 is not in a vocabulary the kit codes in: its own code never shows.
A withdrawn 'Maps to' (2001 → 1004) and a 'Mapped from' row must not be followed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import CodesetCodes, CohortDefinition, DuckDBEngine
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import SourceNote, data_source, omop
from codesetlib.data.sources.omop import OmopCdm, match_report, match_reports

D = dt.date
I64, F64, S, DATE = pa.int64(), pa.float64(), pa.string(), pa.date32()


def table(columns: dict[str, pa.DataType], rows: list[tuple]) -> pa.Table:
    names = list(columns)
    data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return pa.table({name: pa.array(data[name], type=kind) for name, kind in columns.items()})


def event_columns(prefix: str, date: str, value: bool = False) -> dict[str, pa.DataType]:
    name = {"condition": "condition_occurrence", "procedure": "procedure_occurrence"}.get(
        prefix, prefix
    )
    columns = {
        f"{name}_id": I64,
        "person_id": I64,
        f"{prefix}_concept_id": I64,
        date: DATE,
        f"{prefix}_type_concept_id": I64,
        f"{prefix}_source_value": S,
        f"{prefix}_source_concept_id": I64,
    }
    if value:
        columns["value_as_number"] = F64
    return columns


def cdm_tables() -> dict[str, pa.Table]:
    """The CDM in the module's docstring, table by table."""
    concept = {
        "concept_id": I64,
        "concept_name": S,
        "domain_id": S,
        "vocabulary_id": S,
        "concept_class_id": S,
        "standard_concept": S,
        "concept_code": S,
    }
    relationship = {
        "concept_id_1": I64,
        "concept_id_2": I64,
        "relationship_id": S,
        "invalid_reason": S,
    }
    return {
        "person": table(
            {
                "person_id": I64,
                "gender_concept_id": I64,
                "year_of_birth": I64,
                "month_of_birth": I64,
                "day_of_birth": I64,
                "care_site_id": I64,
                "person_source_value": S,
            },
            [
                (1, 8532, 1960, 5, 10, 10, "a"),
                (2, 8507, 1955, None, None, 20, "b"),  # born 1955-01-01
                (3, 8532, 1970, 2, None, 20, "c"),  # born 1970-02-01
                (4, 0, 1980, 7, 15, None, "d"),  # sex unknown, no practice
                (5, 8507, 1945, 3, 3, 10, "e"),
            ],
        ),
        "observation_period": table(
            {
                "observation_period_id": I64,
                "person_id": I64,
                "observation_period_start_date": DATE,
                "observation_period_end_date": DATE,
                "period_type_concept_id": I64,
            },
            [
                (1, 1, D(2010, 1, 1), D(2023, 12, 31), 32817),
                (2, 2, D(2012, 1, 1), D(2023, 12, 31), 32817),
                (3, 3, D(2015, 1, 1), D(2023, 12, 31), 32817),
                (4, 4, D(2010, 1, 1), D(2023, 12, 31), 32817),
                (5, 5, D(2010, 1, 1), D(2020, 5, 1), 32817),
            ],
        ),
        "death": table(
            {"person_id": I64, "death_date": DATE, "death_type_concept_id": I64},
            [
                (5, D(2020, 6, 1), 32817),
                (5, D(2020, 5, 1), 32817),  # the earliest is the date of death
                (99, D(2021, 1, 1), 32817),  # no such person
            ],
        ),
        "care_site": table(
            {"care_site_id": I64, "care_site_name": S, "place_of_service_concept_id": I64},
            [(10, "Camden Road Surgery", 8940), (20, "Holloway Health Centre", 8940)],
        ),
        "condition_occurrence": table(
            event_columns("condition", "condition_start_date"),
            [
                (101, 1, 1001, D(2015, 3, 1), 32817, "254837009", 1001),
                (102, 2, 1001, D(2016, 4, 1), 32817, "C50.9", 2001),
                (103, 3, 1002, D(2017, 1, 1), 32817, "E11.9", 2002),
                (104, 4, 1004, D(2018, 1, 1), 32817, "C189", 2003),
                (105, 5, 0, D(2019, 1, 1), 32817, "XYZ", 0),
                (106, 5, 0, D(2019, 2, 1), 32817, "V10.3", 5001),
            ],
        ),
        "observation": table(
            event_columns("observation", "observation_date", value=True),
            [(201, 5, 1002, D(2018, 6, 1), 32817, "44054006", None, None)],
        ),
        "procedure_occurrence": table(
            event_columns("procedure", "procedure_date"),
            [(301, 2, 1005, D(2016, 5, 1), 32817, "720006006", 1005)],
        ),
        "measurement": table(
            event_columns("measurement", "measurement_date", value=True),
            [
                (401, 3, 1003, D(2017, 1, 1), 32817, "999791000000106", 1003, 58.0),
                (402, 3, 1003, D(2018, 1, 1), 32817, "hba1c", 0, 52.0),
            ],
        ),
        "drug_exposure": table(
            {
                "drug_exposure_id": I64,
                "person_id": I64,
                "drug_concept_id": I64,
                "drug_exposure_start_date": DATE,
                "drug_exposure_end_date": DATE,
                "drug_type_concept_id": I64,
                "drug_source_value": S,
                "drug_source_concept_id": I64,
            },
            [
                (501, 3, 4001, D(2017, 2, 1), D(2017, 3, 1), 32838, "325278007", 3001),
                (502, 5, 4001, D(2018, 7, 1), D(2018, 8, 1), 32838, "metformin", 0),
                (503, 1, 0, D(2019, 1, 1), D(2019, 2, 1), 32838, "unknown", 0),
            ],
        ),
        "concept": table(
            concept,
            [
                (
                    0,
                    "No matching concept",
                    "Metadata",
                    "None",
                    "Undefined",
                    None,
                    "No matching concept",
                ),
                (
                    1001,
                    'Malignant neoplasm of breast ("NOS)',
                    "Condition",
                    "SNOMED",
                    "Clinical Finding",
                    "S",
                    "254837009",
                ),
                (
                    1002,
                    "Type 2 diabetes mellitus",
                    "Condition",
                    "SNOMED",
                    "Clinical Finding",
                    "S",
                    "44054006",
                ),
                (
                    1003,
                    "HbA1c level IFCC",
                    "Measurement",
                    "SNOMED",
                    "Observable Entity",
                    "S",
                    "999791000000106",
                ),
                (
                    1004,
                    "Malignant neoplasm of colon",
                    "Condition",
                    "SNOMED",
                    "Clinical Finding",
                    "S",
                    "363406005",
                ),
                (1005, "Cancer care review", "Procedure", "SNOMED", "Procedure", "S", "720006006"),
                (
                    2001,
                    "Malignant neoplasm of breast, unspecified",
                    "Condition",
                    "ICD10",
                    "ICD10 code",
                    None,
                    "C50.9",
                ),
                (
                    2002,
                    "Type 2 diabetes without complications",
                    "Condition",
                    "ICD10",
                    "ICD10 code",
                    None,
                    "E11.9",
                ),
                (
                    2003,
                    "Malignant neoplasm of colon, unspecified",
                    "Condition",
                    "ICD10CM",
                    "4-char billing code",
                    None,
                    "C189",
                ),
                (3001, "Metformin 500mg tablets", "Drug", "dm+d", "VMP", None, "325278007"),
                (
                    4001,
                    "metformin 500 MG Oral Tablet",
                    "Drug",
                    "RxNorm Extension",
                    "Clinical Drug",
                    "S",
                    "OMOP1234",
                ),
                (
                    5001,
                    "Personal history of malignant neoplasm of breast",
                    "Observation",
                    "ICD9CM",
                    "4-dig nonbill code",
                    None,
                    "V10.3",
                ),
                (
                    6001,
                    "Malignant neoplasm of lung",
                    "Condition",
                    "SNOMED",
                    "Clinical Finding",
                    "S",
                    "363358000",
                ),
            ],
        ),
        "concept_relationship": table(
            relationship,
            [
                (1001, 1001, "Maps to", None),
                (2001, 1001, "Maps to", None),
                (1001, 2001, "Mapped from", None),
                (2001, 1004, "Maps to", "D"),  # withdrawn
                (2002, 1002, "Maps to", None),
                (2003, 1004, "Maps to", None),
                (3001, 4001, "Maps to", None),
            ],
        ),
        "vocabulary": table(
            {"vocabulary_id": S, "vocabulary_name": S, "vocabulary_version": S},
            [
                ("None", "OMOP Standardized Vocabularies", "v5.0 30-AUG-24"),
                ("SNOMED", "SNOMED", "2024-03-01"),
            ],
        ),
        "cdm_source": table(
            {"cdm_source_name": S, "cdm_version": S, "vocabulary_version": S},
            [("Test CDM", "v5.4", "v5.0 01-JAN-24")],
        ),
    }


def write_parquet(tables: dict[str, pa.Table], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in tables.items():
        pq.write_table(data, folder / f"{name}.parquet")
    return folder


def write_csv(tables: dict[str, pa.Table], folder: Path, tab: bool = False) -> Path:
    """Upper-case file names, as OMOP exports and Athena's vocabulary files have them. Tab-separated
    as Athena writes them: nothing quoted, not even the unbalanced quote in one concept name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in tables.items():
        path = folder / f"{name.upper()}.csv"
        if not tab:
            pacsv.write_csv(data, path)
            continue
        lines = ["\t".join(data.column_names)]
        for row in data.to_pylist():
            lines.append("\t".join("" if v is None else str(v) for v in row.values()))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_duckdb(tables: dict[str, pa.Table], path: Path, schema: str = "main") -> Path:
    con = duckdb.connect(str(path))
    # The file is also a catalog named by its stem, which a schema of that name would shadow.
    schema = f'"{path.stem}"."{schema}"'
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, data in tables.items():
        con.register("incoming", data)
        con.execute(f"CREATE TABLE {schema}.{name} AS SELECT * FROM incoming")
        con.unregister("incoming")
    con.close()
    return path


def with_rows(tables: dict[str, pa.Table], name: str, frame_change) -> dict[str, pa.Table]:
    """The CDM with one table changed through pandas (typed as before where it can be)."""
    frame = tables[name].to_pandas()
    changed = frame_change(frame)
    return {**tables, name: pa.Table.from_pandas(changed, preserve_index=False)}


@pytest.fixture
def omop_parquet(tmp_path: Path) -> Path:
    return write_parquet(cdm_tables(), tmp_path / "cdm")


def kit_rows(opened, name: str) -> list[tuple]:
    frame = opened.con.execute(opened.tables[name])
    rows = []
    for record in frame.itertuples(index=False):
        rows.append(tuple(_plain(v) for v in record))
    return sorted(rows, key=lambda row: tuple(str(v) for v in row))


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def events_of(opened, name: str = "clinical_events") -> set[tuple]:
    """(patient, date, code) of each row, and the number of rows."""
    rows = kit_rows(opened, name)
    return {row[:3] for row in rows}


BOTH_EVENTS = {
    (1, D(2015, 3, 1), "254837009"),
    (1, D(2015, 3, 1), "C50.9"),
    (2, D(2016, 4, 1), "C50.9"),
    (2, D(2016, 4, 1), "254837009"),
    (3, D(2017, 1, 1), "E11.9"),
    (3, D(2017, 1, 1), "44054006"),
    (4, D(2018, 1, 1), "C18.9"),
    (4, D(2018, 1, 1), "363406005"),
    (5, D(2018, 6, 1), "44054006"),
    (5, D(2018, 6, 1), "E11.9"),
    (2, D(2016, 5, 1), "720006006"),
    (3, D(2017, 1, 1), "999791000000106"),
    (3, D(2018, 1, 1), "999791000000106"),
}
SOURCE_EVENTS = {
    (1, D(2015, 3, 1), "254837009"),
    (2, D(2016, 4, 1), "C50.9"),
    (3, D(2017, 1, 1), "E11.9"),
    (4, D(2018, 1, 1), "C18.9"),
    (2, D(2016, 5, 1), "720006006"),
    (3, D(2017, 1, 1), "999791000000106"),
}


# -- the kit's tables ---------------------------------------------------------------------------


def test_patients_registrations_and_practices(omop_parquet):
    opened = OmopCdm(omop_parquet).open()
    assert kit_rows(opened, "patients") == [
        (1, "female", D(1960, 5, 10), None),
        (2, "male", D(1955, 1, 1), None),
        (3, "female", D(1970, 2, 1), None),
        (4, "unknown", D(1980, 7, 15), None),
        (5, "male", D(1945, 3, 3), D(2020, 5, 1)),
    ]
    assert kit_rows(opened, "registrations") == [
        (1, 10, D(2010, 1, 1), D(2023, 12, 31)),
        (2, 20, D(2012, 1, 1), D(2023, 12, 31)),
        (3, 20, D(2015, 1, 1), D(2023, 12, 31)),
        (4, None, D(2010, 1, 1), D(2023, 12, 31)),
        (5, 10, D(2010, 1, 1), D(2020, 5, 1)),
    ]
    assert kit_rows(opened, "practices") == [
        (10, "Camden Road Surgery"),
        (20, "Holloway Health Centre"),
    ]
    assert opened.backend == "duckdb"
    assert opened.con.execute(opened.tables["patients"]).dtypes["patient_id"] == "int64"


def test_what_the_mapping_changed_is_counted_in_notes(omop_parquet):
    opened = OmopCdm(omop_parquet).open()
    notes = {(n.table, n.what.split(":")[0]): n.rows for n in opened.notes}
    assert notes == {
        ("patients", "persons with no month_of_birth"): 1,
        ("patients", "persons with no day_of_birth"): 2,
        ("patients", "persons whose gender_concept_id is neither 8507 (male) nor 8532 (female)"): 1,
        ("patients", "persons with more than one death record"): 1,
        ("patients", "death records of a person_id not in person"): 1,
        ("registrations", "observation periods of a person with no care_site_id"): 1,
        (
            "clinical_events",
            "condition_occurrence rows whose concepts have no SNOMED CT, ICD-10 or dm+d code by the both route",
        ): 2,
        (
            "medications",
            "drug_exposure rows whose concepts have no SNOMED CT, ICD-10 or dm+d code by the both route",
        ): 1,
    }
    assert all(isinstance(n, SourceNote) for n in opened.notes)


def test_events_of_a_person_not_in_person_are_counted(tmp_path):
    tables = with_rows(
        cdm_tables(),
        "measurement",
        lambda f: f.assign(person_id=f.person_id.where(f.measurement_id != 402, 77)),
    )
    opened = OmopCdm(write_parquet(tables, tmp_path / "cdm")).open()
    notes = [n for n in opened.notes if "not in person" in n.what and n.table == "clinical_events"]
    assert [(n.what, n.rows) for n in notes] == [
        ("measurement rows of a person_id not in person: kept, but in no cohort", 1)
    ]


@pytest.mark.parametrize("gap", [False, True], ids=["ids-without-a-gap", "ids-with-a-gap"])
def test_rows_of_unknown_persons_are_counted_whether_or_not_person_ids_run_without_a_gap(
    tmp_path, gap
):
    """Person 2 is left out of PERSON: its events, death records and observation periods are
    counted as of an unknown person, both when the ids left run without a gap (a range check
    suffices) and when they do not (an anti join)."""
    tables = cdm_tables()
    if gap:
        kept = with_rows(tables, "person", lambda f: f[f.person_id != 2])
    else:
        # Person 5 takes the id 2 and person 2's rows the id 6, which PERSON (1 to 4) lacks.
        def renumber(frame):
            return frame.assign(person_id=frame.person_id.replace({2: 6, 5: 2}))

        kept = {
            name: with_rows(tables, name, renumber)[name]
            if "person_id" in table.column_names
            else table
            for name, table in tables.items()
        }
        kept = with_rows(kept, "person", lambda f: f[f.person_id != 6])
    person_ids = set(kept["person"].column("person_id").to_pylist())
    expected = {}
    for name in ("condition_occurrence", "observation", "measurement", "drug_exposure"):
        ids = kept[name].column("person_id").to_pylist()
        expected[name] = sum(1 for i in ids if i not in person_ids)
    deaths = sum(1 for i in kept["death"].column("person_id").to_pylist() if i not in person_ids)
    periods = sum(
        1 for i in kept["observation_period"].column("person_id").to_pylist() if i not in person_ids
    )
    assert sum(expected.values()) > 0 and periods > 0
    opened = OmopCdm(write_parquet(kept, tmp_path / "cdm")).open()
    notes = {n.what: n.rows for n in opened.notes}
    for name, rows in expected.items():
        said = notes.get(f"{name} rows of a person_id not in person: kept, but in no cohort", 0)
        assert said == rows, name
    assert notes.get("death records of a person_id not in person: not read", 0) == deaths
    no_site = "observation periods of a person with no care_site_id: practice unknown"
    sites = dict(
        zip(
            kept["person"].column("person_id").to_pylist(),
            kept["person"].column("care_site_id").to_pylist(),
            strict=True,
        )
    )
    without_site = sum(
        1
        for i in kept["observation_period"].column("person_id").to_pylist()
        if sites.get(i) is None
    )
    assert notes[no_site] == without_site >= periods


def test_both_routes_give_one_row_per_event_and_code(omop_parquet):
    opened = OmopCdm(omop_parquet).open()
    rows = kit_rows(opened, "clinical_events")
    assert len(rows) == len(BOTH_EVENTS) == 13
    assert {row[:3] for row in rows} == BOTH_EVENTS
    values = {(row[0], row[1]): row[3] for row in rows if row[2] == "999791000000106"}
    assert values == {(3, D(2017, 1, 1)): 58.0, (3, D(2018, 1, 1)): 52.0}


def test_the_source_route_reads_the_concept_the_data_were_recorded_in(omop_parquet):
    opened = OmopCdm(omop_parquet, match="source").open()
    assert events_of(opened) == SOURCE_EVENTS
    assert events_of(opened, "medications") == {(3, D(2017, 2, 1), "325278007")}
    left_out = {n.what.split(" ")[0]: n.rows for n in opened.notes if "left out" in n.what}
    # Events without a source concept in the kit's vocabularies: 105, 106; 201; 402; 502, 503.
    assert left_out == {
        "condition_occurrence": 2,
        "observation": 1,
        "measurement": 1,
        "drug_exposure": 2,
    }


def test_the_standard_route_reads_every_code_that_maps_to_the_standard_concept(omop_parquet):
    opened = OmopCdm(omop_parquet, match="standard").open()
    assert events_of(opened) == BOTH_EVENTS
    # The dm+d code maps to the RxNorm Extension concept both drug events carry; that concept's own
    # code is in no vocabulary the kit codes in.
    assert events_of(opened, "medications") == {
        (3, D(2017, 2, 1), "325278007"),
        (5, D(2018, 7, 1), "325278007"),
    }


def test_icd10_codes_take_the_who_written_form_and_other_vocabularies_never_collide(omop_parquet):
    opened = OmopCdm(omop_parquet).open()
    codes = {row[2] for row in events_of(opened)}
    assert "C18.9" in codes and "C189" not in codes  # ICD10CM's undotted code, written as WHO's
    assert "V10.3" not in codes  # ICD-9-CM's personal history, not ICD-10's pedal cyclist
    assert "OMOP1234" not in codes


def test_details_say_what_the_record_shows(omop_parquet):
    details = OmopCdm(omop_parquet).open().details
    assert details["kind"] == "omop"
    assert details["cdm_version"] == "v5.4"
    assert details["vocabulary_version"] == "v5.0 30-AUG-24"  # the vocabulary table's None row
    assert details["match"] == "both"
    assert details["rows"]["person"] == 5
    assert details["rows"]["condition_occurrence"] == 6
    assert details["rows"]["concept"] == 13
    assert (details["events_from"], details["events_to"]) == ("2015-03-01", "2019-02-01")


def test_the_kit_tables_are_views_not_copies(omop_parquet):
    opened = OmopCdm(omop_parquet).open()
    raw = opened.con.con
    kinds = dict(
        raw.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    )
    for name in ("patients", "registrations", "practices", "clinical_events", "medications"):
        assert kinds[name] == "VIEW"


# -- matching codes ----------------------------------------------------------------------------


def test_match_report_counts_patients_by_each_route(omop_parquet):
    """Breast cancer in SNOMED CT and ICD-10, with a code no event has and one CONCEPT lacks."""
    report = match_report(OmopCdm(omop_parquet), {"254837009", "C50.9", "363358000", "C50.1"})
    # Source: 254837009 → person 1, C50.9 → person 2. Standard: both codes reach 1001, which
    # persons 1 and 2 have.
    assert (report.patients_by_source, report.patients_by_standard) == (2, 2)
    assert (report.patients_by_both, report.patients_by_either) == (2, 2)
    rows = report.codes.set_index("code")
    assert rows.loc["254837009", ["patients_source", "patients_standard", "patients"]].tolist() == [
        1,
        2,
        2,
    ]
    assert rows.loc["C50.9", ["patients_source", "patients_standard", "patients"]].tolist() == [
        1,
        2,
        2,
    ]
    assert rows.loc["C50.9", "vocabularies"] == "ICD10"
    assert report.unmatched[["code", "status"]].to_dict("records") == [
        {"code": "363358000", "status": "no events"},
        {"code": "C50.1", "status": "not in CONCEPT"},
    ]


def test_match_report_shows_what_a_source_only_match_misses(omop_parquet):
    """Person 5's diabetes is an observation with no source concept: only the standard route finds it."""
    report = match_report(OmopCdm(omop_parquet, match="source").open(), ["44054006", "E11.9"])
    assert report.match == "source"
    assert (report.patients_by_source, report.patients_by_standard) == (1, 2)
    assert (report.patients_by_both, report.patients_by_either) == (1, 2)
    rows = report.codes.set_index("code")
    assert rows.loc["44054006", ["patients_source", "events_source"]].tolist() == [0, 0]
    assert rows.loc["44054006", ["patients_standard", "events_standard"]].tolist() == [2, 2]
    assert rows.loc["E11.9", "patients_source"] == 1
    assert report.unmatched.empty


def test_match_report_keeps_codes_that_map_to_nothing_with_their_source_values(omop_parquet):
    """V10.3 is ICD-9-CM in this CDM, so no ICD-10 code: kept in the report, with the event whose
    source value carries it."""
    report = match_report(OmopCdm(omop_parquet), ["V10.3"])
    assert report.patients_by_either == 0
    assert report.unmatched.to_dict("records") == [
        {
            "code": "V10.3",
            "vocabularies": "",
            "maps_to_standard": False,
            "patients_source": 0,
            "events_source": 0,
            "patients_standard": 0,
            "events_standard": 0,
            "patients": 0,
            "source_value_events": 1,
            "status": "not in CONCEPT",
        }
    ]


def test_match_report_on_medications_and_on_an_engine(omop_parquet):
    engine = DuckDBEngine(f"omop:{omop_parquet}")
    report = match_report(engine, ["325278007"], table="medications")
    assert (report.patients_by_source, report.patients_by_standard) == (1, 2)
    assert report.codes.loc[0, "maps_to_standard"]
    assert report.codes.loc[0, "source_value_events"] == 1


def test_codesets_matched_together_give_each_codesets_own_report(omop_parquet):
    # One pass over the events for several codesets (a code may be in more than one) gives what
    # each codeset's report alone gives.
    opened = OmopCdm(omop_parquet).open()
    codesets = {
        "cancer": {"254837009", "C50.9", "363358000", "C50.1"},
        "diabetes": {"44054006", "E11.9", "254837009"},
        "nothing": {"V10.3"},
    }
    together = match_reports(opened, codesets)
    assert sorted(together) == sorted(codesets)
    for codeset, codes in codesets.items():
        alone = match_report(opened, codes)
        assert together[codeset].codes.equals(alone.codes), codeset
        assert together[codeset].patients_by_either == alone.patients_by_either
        assert together[codeset].patients_by_both == alone.patients_by_both
    assert together["cancer"].patients_by_either > 0
    assert together["nothing"].patients_by_either == 0
    # Totals only (what the command line prints): the same totals and statuses, no per-code counts.
    summary = match_reports(opened, codesets, per_code=False)
    for codeset, report in summary.items():
        full = together[codeset]
        assert (report.patients_by_source, report.patients_by_standard) == (
            full.patients_by_source,
            full.patients_by_standard,
        )
        assert (report.patients_by_both, report.patients_by_either) == (
            full.patients_by_both,
            full.patients_by_either,
        )
        assert list(report.codes["status"]) == list(full.codes["status"])
        assert list(report.codes["code"]) == list(full.codes["code"])
        assert report.codes["patients"].isna().all()
        assert report.unmatched["code"].tolist() == full.unmatched["code"].tolist()


def test_totals_of_many_codesets_span_several_masks(omop_parquet):
    # More codesets than one 64-bit mask holds: each still gets its own patients by route.
    opened = OmopCdm(omop_parquet).open()
    codes = ["254837009", "C50.9", "363358000", "C50.1", "44054006", "E11.9", "V10.3"]
    codesets = {
        f"set{n:02d}": {codes[n % len(codes)], codes[(n * 3) % len(codes)]}
        for n in range(2 * omop.MASK_CODESETS + 3)
    }
    summary = match_reports(opened, codesets, per_code=False)
    full = match_reports(opened, codesets)
    for codeset in codesets:
        got, want = summary[codeset], full[codeset]
        assert (
            got.patients_by_source,
            got.patients_by_standard,
            got.patients_by_both,
            got.patients_by_either,
        ) == (
            want.patients_by_source,
            want.patients_by_standard,
            want.patients_by_both,
            want.patients_by_either,
        ), codeset
    assert len({summary[c].patients_by_either for c in codesets}) > 2


def test_match_report_refuses_a_source_that_is_not_a_cdm(tmp_path):
    from tests.spec import dataset

    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    with pytest.raises(DatasetError, match="not an OMOP CDM"):
        match_report(engine, ["254837009"])


# -- where a CDM is stored ----------------------------------------------------------------------


@pytest.mark.parametrize("tab", [False, True], ids=["comma", "tab"])
def test_a_folder_of_csv_files_with_upper_case_names(tmp_path, tab):
    folder = write_csv(cdm_tables(), tmp_path / "csv", tab=tab)
    assert (folder / "PERSON.csv").is_file()
    opened = data_source(f"omop:{folder}").open()
    assert events_of(opened) == BOTH_EVENTS
    assert kit_rows(opened, "patients")[1] == (2, "male", D(1955, 1, 1), None)
    # Codes stay text: a code is never read as a number.
    assert opened.con.execute(opened.tables["clinical_events"]).dtypes["code"].kind == "O"


def test_csv_codes_keep_their_leading_zeros(tmp_path):
    tables = with_rows(
        cdm_tables(),
        "concept",
        lambda f: f.assign(concept_code=f.concept_code.replace({"720006006": "0720006006"})),
    )
    opened = OmopCdm(write_csv(tables, tmp_path / "csv")).open()
    assert (2, D(2016, 5, 1), "0720006006") in events_of(opened)


def test_a_duckdb_file_with_the_cdm_in_a_named_schema(tmp_path):
    path = write_duckdb(cdm_tables(), tmp_path / "cdm.duckdb", schema="cdm")
    opened = data_source("omop:cdm.duckdb?schema=cdm", root=tmp_path).open()
    assert events_of(opened) == BOTH_EVENTS
    assert opened.details["schema"] == "cdm"
    # The only schema with a person table is found without being named.
    assert events_of(OmopCdm(path).open()) == BOTH_EVENTS
    # The file is read, never written.
    before = path.stat().st_mtime_ns
    OmopCdm(path, schema="cdm").open()
    assert path.stat().st_mtime_ns == before


def test_a_duckdb_file_with_the_vocabulary_in_another_schema(tmp_path):
    tables = cdm_tables()
    vocabulary = {
        name: tables.pop(name) for name in ("concept", "concept_relationship", "vocabulary")
    }
    path = write_duckdb(tables, tmp_path / "cdm.duckdb", schema="cdm")
    write_duckdb(vocabulary, path, schema="vocab")
    opened = data_source(f"omop:{path}?schema=cdm&vocabulary_schema=vocab&match=source").open()
    assert events_of(opened) == SOURCE_EVENTS


def test_a_duckdb_file_with_a_person_table_in_two_schemas_asks_which(tmp_path):
    path = write_duckdb(cdm_tables(), tmp_path / "cdm.duckdb", schema="cdm")
    write_duckdb({"person": cdm_tables()["person"]}, path, schema="old")
    with pytest.raises(DatasetError, match=r"several schemas hold a person table \(cdm, old\)"):
        OmopCdm(path).open()
    with pytest.raises(DatasetError, match=r"no schema 'other' in the file \(it has: cdm, old\)"):
        OmopCdm(path, schema="other").open()


def test_the_spec_names_the_source_as_written_without_a_password():
    source = data_source(
        "omop:postgresql://alice:secret@db.example:5433/cdm?schema=cdm54&match=source"
    )
    assert isinstance(source, OmopCdm)
    assert source.location == "postgresql://alice@db.example:5433/cdm"
    assert source.spec() == "omop:postgresql://alice@db.example:5433/cdm?schema=cdm54&match=source"
    assert "secret" not in repr(source)
    socket = data_source("omop:postgresql://alice@/cdm?host=/var/run/postgresql")
    assert socket.spec() == "omop:postgresql://alice@/cdm?host=/var/run/postgresql"
    assert data_source("omop:cdm/", root=Path("/study")).spec() == "omop:/study/cdm"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("omop:cdm.duckdb?shema=cdm", "unknown option 'shema'"),
        ("omop:cdm.duckdb?match=exact", "match must be one of source, standard, both"),
        ("omop:cdm.duckdb?host=/tmp", "host= is an option of a PostgreSQL address only"),
    ],
)
def test_a_mistyped_option_is_refused(spec, message):
    with pytest.raises(DatasetError, match=message):
        data_source(spec)


def test_a_path_with_nothing_there_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="no OMOP CDM here") as raised:
        data_source(f"omop:{tmp_path / 'nowhere'}").open()
    assert raised.value.path == str(tmp_path / "nowhere")


def test_the_mapping_compiles_for_postgresql(omop_parquet):
    """The same expressions compile to PostgreSQL's SQL (run on a server by the database tests)."""
    import ibis

    opened = OmopCdm(omop_parquet).open()
    assert opened.mapping is not None
    for name, expr in opened.mapping.kit_tables().items():
        sql = ibis.to_sql(expr, dialect="postgres")
        assert "SELECT" in sql, name


# -- bad data ----------------------------------------------------------------------------------


def error_of(tables: dict[str, pa.Table], tmp_path: Path, csv: bool = False) -> DatasetError:
    folder = (write_csv if csv else write_parquet)(tables, tmp_path / "bad")
    with pytest.raises(DatasetError) as raised:
        OmopCdm(folder).open()
    return raised.value


@pytest.mark.parametrize("name", ["person", "observation_period", "concept"])
def test_a_missing_required_table_is_named(tmp_path, name):
    tables = cdm_tables()
    del tables[name]
    error = error_of(tables, tmp_path)
    assert error.field == name
    assert f"table {name} is missing" in error.message


def test_a_cdm_without_clinical_events_is_refused(tmp_path):
    tables = {
        k: v
        for k, v in cdm_tables().items()
        if k not in ("condition_occurrence", "observation", "procedure_occurrence", "measurement")
    }
    assert "no table of clinical events" in error_of(tables, tmp_path).message


def test_optional_tables_may_be_missing(tmp_path):
    tables = {
        k: v
        for k, v in cdm_tables().items()
        if k
        not in (
            "death",
            "care_site",
            "observation",
            "procedure_occurrence",
            "measurement",
            "drug_exposure",
            "concept_relationship",
            "vocabulary",
            "cdm_source",
        )
    }
    opened = OmopCdm(write_parquet(tables, tmp_path / "cdm")).open()
    assert set(opened.tables) == {"patients", "registrations", "clinical_events"}
    # Without CONCEPT_RELATIONSHIP a standard concept gives its own code only.
    assert events_of(opened) == {
        (1, D(2015, 3, 1), "254837009"),
        (2, D(2016, 4, 1), "C50.9"),
        (2, D(2016, 4, 1), "254837009"),
        (3, D(2017, 1, 1), "E11.9"),
        (3, D(2017, 1, 1), "44054006"),
        (4, D(2018, 1, 1), "C18.9"),
        (4, D(2018, 1, 1), "363406005"),
    }
    assert opened.details["cdm_version"] is None
    assert kit_rows(opened, "patients")[4][3] is None


def test_a_missing_column_is_named(tmp_path):
    tables = cdm_tables()
    tables["condition_occurrence"] = tables["condition_occurrence"].drop_columns(
        ["condition_source_concept_id"]
    )
    error = error_of(tables, tmp_path)
    assert (
        error.message
        == "missing column(s) condition_source_concept_id in table condition_occurrence"
    )
    assert error.path.endswith("condition_occurrence.parquet")


def test_a_person_id_that_is_not_a_whole_number_names_the_row(tmp_path):
    tables = with_rows(
        cdm_tables(),
        "person",
        lambda f: f.astype({"person_id": str}).replace({"person_id": {"3": "3x"}}),
    )
    error = error_of(tables, tmp_path)
    assert error.field == "person.person_id"
    assert error.path.endswith("person.parquet")
    assert "1 row(s) where person_id is not a whole number" in error.message
    assert "person_id='3x'" in error.message and "year_of_birth=1970" in error.message


def test_text_person_ids_that_are_whole_numbers_are_read(tmp_path):
    tables = with_rows(cdm_tables(), "person", lambda f: f.astype({"person_id": str}))
    opened = OmopCdm(write_parquet(tables, tmp_path / "cdm")).open()
    assert [row[0] for row in kit_rows(opened, "patients")] == [1, 2, 3, 4, 5]


def test_a_csv_date_that_is_no_date_names_the_row(tmp_path):
    tables = with_rows(
        cdm_tables(),
        "condition_occurrence",
        lambda f: f.astype({"condition_start_date": str}).replace(
            {"condition_start_date": {"2017-01-01": "2017-02-30"}}
        ),
    )
    error = error_of(tables, tmp_path, csv=True)
    assert error.field == "condition_occurrence.condition_start_date"
    assert error.path.endswith("CONDITION_OCCURRENCE.csv")
    assert "is not a date (YYYY-MM-DD)" in error.message
    assert "condition_occurrence_id='103'" in error.message


def test_a_column_of_a_type_that_cannot_hold_its_kind_is_named(tmp_path):
    tables = with_rows(cdm_tables(), "measurement", lambda f: f.assign(measurement_date=True))
    error = error_of(tables, tmp_path)
    assert error.field == "measurement.measurement_date"
    assert "is of type boolean, which cannot hold a date" in error.message


@pytest.mark.parametrize(
    ("name", "column", "value", "example"),
    [
        (
            "condition_occurrence",
            "condition_start_date",
            D(1849, 12, 31),
            "condition_occurrence_id=101",
        ),
        (
            "observation_period",
            "observation_period_end_date",
            D(2999, 1, 1),
            "observation_period_end_date=2999-01-01",
        ),
        ("death", "death_date", D(1700, 1, 1), "death_date=1700-01-01"),
    ],
)
def test_a_date_out_of_range_is_refused_naming_the_row(tmp_path, name, column, value, example):
    tables = cdm_tables()
    frame = tables[name].to_pandas()
    frame.loc[0, column] = value
    tables[name] = pa.Table.from_pandas(frame, schema=tables[name].schema, preserve_index=False)
    error = error_of(tables, tmp_path)
    assert error.field == f"{name}.{column}"
    assert "1 row(s) with a date before 1850-01-01 or after today" in error.message
    assert example in error.message


@pytest.mark.parametrize(
    ("column", "value", "example"),
    [
        ("year_of_birth", 1849, "year_of_birth=1849"),
        ("month_of_birth", 13, "month_of_birth=13"),
        ("day_of_birth", 31, "day_of_birth=31"),  # person 3 is born in February
    ],
)
def test_a_date_of_birth_that_is_no_date_is_refused(tmp_path, column, value, example):
    tables = with_rows(
        cdm_tables(),
        "person",
        lambda f: f.assign(**{column: f[column].where(f.person_id != 3, value)}),
    )
    error = error_of(tables, tmp_path)
    assert error.field == f"person.{column}"
    assert "1 row(s) whose date of birth is not a date" in error.message
    assert "person_id=3" in error.message and example in error.message


def test_a_person_born_after_today_is_refused(tmp_path):
    """Born tomorrow: this year's date after today (or, on 31 December, a year still to come)."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    tables = with_rows(
        cdm_tables(),
        "person",
        lambda f: f.assign(
            year_of_birth=f.year_of_birth.where(f.person_id != 1, tomorrow.year),
            month_of_birth=f.month_of_birth.where(f.person_id != 1, tomorrow.month),
            day_of_birth=f.day_of_birth.where(f.person_id != 1, tomorrow.day),
        ),
    )
    error = error_of(tables, tmp_path)
    assert error.field == "person.year_of_birth" and "person_id=1" in error.message


def test_a_person_id_given_twice_is_refused(tmp_path):
    tables = with_rows(
        cdm_tables(), "person", lambda f: f.assign(person_id=f.person_id.replace({4: 3}))
    )
    error = error_of(tables, tmp_path)
    assert error.field == "person.person_id"
    assert (
        error.message == "1 row(s) repeat a person_id of another row, e.g. person_id=3 is in 2 rows"
    )


def test_an_empty_required_value_is_refused(tmp_path):
    tables = with_rows(
        cdm_tables(),
        "drug_exposure",
        lambda f: f.assign(person_id=f.person_id.where(f.drug_exposure_id != 502, None)),
    )
    error = error_of(tables, tmp_path)
    assert error.field == "drug_exposure.person_id"
    assert "1 row(s) where it is empty" in error.message
    assert "drug_exposure_id=502, person_id=(empty)" in error.message


def test_a_table_in_two_files_is_refused(tmp_path):
    folder = write_parquet(cdm_tables(), tmp_path / "cdm")
    write_csv({"person": cdm_tables()["person"]}, folder)
    with pytest.raises(
        DatasetError, match=r"table person is in more than one file: PERSON\.csv, person\.parquet"
    ):
        OmopCdm(folder).open()


# -- a cohort on the CDM ----------------------------------------------------------------------

CODESETS = {
    "diabetes": CodesetCodes(coding_system="snomedct", codes=["44054006"]),
    "metformin": CodesetCodes(coding_system="dmd", codes=["325278007"]),
}
DIABETES = {
    "id": "diabetes_on_metformin",
    "index_date": "2019-12-31",
    "population": {"registered": True, "alive": True},
    "criteria": [
        {"name": "diabetes", "codeset": "diabetes", "returns": "first_date"},
        {"name": "has_diabetes", "codeset": "diabetes"},
        {"name": "metformin", "codeset": "metformin", "table": "medications"},
    ],
    "rules": [{"action": "include", "criterion": "has_diabetes"}],
    "columns": ["patient_id", "sex", "practice_id", "diabetes", "metformin"],
}


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        # Person 3: diabetes coded in ICD-10 (standard SNOMED CT), metformin in dm+d. Person 5: a
        # diabetes observation and a metformin exposure with no source concept, alive and
        # registered on 2019-12-31 (died 2020-05-01).
        ("both", [(3, "female", 20, D(2017, 1, 1), True), (5, "male", 10, D(2018, 6, 1), True)]),
        (
            "standard",
            [(3, "female", 20, D(2017, 1, 1), True), (5, "male", 10, D(2018, 6, 1), True)],
        ),
        # By source, person 3's diabetes is ICD-10's E11.9, not 44054006; nobody is found.
        ("source", []),
    ],
)
def test_a_cohort_runs_end_to_end_on_the_cdm(omop_parquet, match, expected):
    engine = open_engine(f"omop:{omop_parquet}?match={match}")
    found = engine.cohort(CohortDefinition.model_validate(DIABETES), CODESETS)
    rows = [
        (
            int(r.patient_id),
            r.sex,
            int(r.practice_id),
            pd.Timestamp(r.diabetes).date(),
            bool(r.metformin),
        )
        for r in found.itertuples(index=False)
    ]
    assert rows == expected


def test_a_schema_for_a_folder_is_refused(omop_parquet):
    with pytest.raises(DatasetError, match="a folder of tables has no schemas"):
        data_source(f"omop:{omop_parquet}?schema=cdm").open()


def test_a_table_file_that_cannot_be_read_is_named(omop_parquet):
    (omop_parquet / "death.parquet").write_text("not parquet")
    with pytest.raises(DatasetError, match="cannot be read") as raised:
        OmopCdm(omop_parquet).open()
    assert raised.value.path.endswith("death.parquet")
    assert raised.value.field == "death"
