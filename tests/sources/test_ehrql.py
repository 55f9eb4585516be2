"""The ehrQL core tables source on the committed folder `tests/fixtures/extracts/ehrql_core`, whose
kit tables and cohort are worked out by hand, in CSV, gzipped CSV and Parquet; and the errors and
notes bad files give.

The folder holds eight patients; a cohort on 2024-03-31 of adults registered and alive, with a
diabetes code ever before (44054006), their last HbA1c (999791000000106) in 13 months and a
metformin issue (325278007, 325279004) in 12 months:

| patient | why |
|---|---|
| 1 | female, 64, practice 101: HbA1c 50 on the index date (70 in 2023-01 is too early); metformin |
| 2 | 13 years old: out |
| 3 | died 2024-01-15: out |
| 4 | registered from 2024-04-01: out |
| 5 | female, 44, practice 202 since 2023-06: HbA1c 60 on 2023-02-28, the window's first day (40 the day before is out); metformin on 2023-03-30 is a day too early |
| 6 | intersex, 68, practice 202: HbA1c 57; metformin after the index date |
| 7 | no date of birth: left out, with a note |
| 8 | sex `F` is not an ehrQL value: unknown, with a note; 34, practice 101; no HbA1c; metformin |

Two events are left out with notes: one with no date, one with no code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from codesetlib.cohorts import CodesetCodes, CohortDefinition
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import SourceNote, data_source
from codesetlib.data.sources.base import KIT_TABLES
from codesetlib.data.sources.ehrql import EhrqlTables
from tests.spec.dataset import records

D = dt.date
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extracts"
CORE = FIXTURES / "ehrql_core"

CODESETS = {
    "diabetes": CodesetCodes(coding_system="snomedct", codes=["44054006"]),
    "hba1c": CodesetCodes(coding_system="snomedct", codes=["999791000000106"]),
    "metformin": CodesetCodes(coding_system="dmd", codes=["325278007", "325279004"]),
}
DIABETES_REVIEW = CohortDefinition.model_validate(
    {
        "id": "diabetes_review",
        "index_date": "2024-03-31",
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
                "name": "metformin",
                "codeset": "metformin",
                "table": "medications",
                "window": "12 months before",
            },
        ],
        "rules": [{"action": "include", "criterion": "diabetes"}],
        "columns": ["patient_id", "sex", "age", "practice_id", "hba1c_value", "metformin"],
    }
)


def expected_cohort(practices: dict[int, int]) -> list[dict]:
    """The hand-worked cohort, with each practice's id as the source gives it."""
    rows = [
        (1, "female", 64, 101, 50.0, True),
        (5, "female", 44, 202, 60.0, False),
        (6, "intersex", 68, 202, 57.0, False),
        (8, "unknown", 34, 101, None, True),
    ]
    names = ["patient_id", "sex", "age", "practice_id", "hba1c_value", "metformin"]
    out = [dict(zip(names, row, strict=True)) for row in rows]
    return [{**row, "practice_id": practices[row["practice_id"]]} for row in out]


def cohort_records(spec: str) -> list[dict]:
    engine = open_engine(spec)
    found = engine.cohort(DIABETES_REVIEW, CODESETS)
    return sorted(records(found), key=lambda row: row["patient_id"])


def copy_core(tmp_path: Path) -> Path:
    folder = tmp_path / "core"
    shutil.copytree(CORE, folder)
    return folder


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_core_tables_open_as_the_kits_tables_with_their_types():
    opened = EhrqlTables(CORE).open()
    assert opened.backend == "duckdb"
    assert set(opened.tables) == set(KIT_TABLES)
    for name, columns in KIT_TABLES.items():
        schema = opened.tables[name].schema()
        for column, kind in columns.items():
            assert str(schema[column]) == kind, (name, column)
    assert str(opened.tables["clinical_events"].schema()["value"]) == "float64"
    patients = opened.con.execute(opened.tables["patients"].order_by("patient_id"))
    assert patients["patient_id"].tolist() == [1, 2, 3, 4, 5, 6, 8]
    assert patients["sex"].tolist()[-2:] == ["intersex", "unknown"]
    practices = opened.con.execute(opened.tables["practices"])
    assert practices.to_dict("records") == [
        {"practice_id": 101, "practice_stp": "E54000028", "practice_nuts1_region_name": "London"},
        {"practice_id": 202, "practice_stp": "E54000028", "practice_nuts1_region_name": "London"},
    ]
    events = opened.con.execute(opened.tables["clinical_events"])
    assert len(events) == 12
    assert events["code"].map(type).eq(str).all()


def test_what_was_left_out_is_noted_with_an_example_row():
    opened = EhrqlTables(CORE).open()
    assert opened.notes == [
        SourceNote(
            "patients",
            "rows with no date of birth (e.g. row 7: empty) in patients.csv, left out",
            1,
        ),
        SourceNote(
            "patients",
            "rows with a sex that is not one of female, male, intersex, unknown "
            "(e.g. row 8: 'F') in patients.csv, taken as unknown",
            1,
        ),
        SourceNote(
            "clinical_events",
            "rows with no date (e.g. row 13: empty) in clinical_events.csv, left out",
            1,
        ),
        SourceNote(
            "clinical_events",
            "rows with no code (e.g. row 14: empty) in clinical_events.csv, left out",
            1,
        ),
    ]


def test_the_details_name_the_folder_tables_counts_and_event_dates():
    details = EhrqlTables(CORE).open().details
    assert details["kind"] == "ehrql"
    assert details["folder"] == str(CORE)
    assert details["tables"]["patients"] == {"files": ["patients.csv"], "rows_read": 8, "rows": 7}
    assert details["tables"]["clinical_events"]["rows_read"] == 14
    assert details["tables"]["clinical_events"]["rows"] == 12
    assert details["tables"]["practices"] == {"rows": 2}
    assert details["event_dates"]["clinical_events"] == {
        "first": "2000-01-01",
        "last": "2024-04-01",
    }
    assert details["event_dates"]["medications"] == {"first": "2023-03-30", "last": "2024-04-01"}
    assert details["code_systems"] == {
        "clinical_events": {"clinical_events.csv": "snomedct"},
        "medications": {"medications.csv": "dmd"},
    }


def test_a_cohort_runs_end_to_end_on_core_tables():
    source = data_source(f"ehrql:{CORE}")
    assert isinstance(source, EhrqlTables)
    assert source.spec() == f"ehrql:{CORE}"
    assert cohort_records(f"ehrql:{CORE}") == expected_cohort({101: 101, 202: 202})


def test_parquet_and_gzipped_csv_in_either_case_give_the_same_cohort(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    con = duckdb.connect()
    types = {"patients": "{}", "clinical_events": "{'snomedct_code': 'VARCHAR'}"}
    for name, kinds in types.items():
        # Parquet with ehrQL's types: ids as integers, dates as dates, codes as text.
        con.execute(
            f"COPY (SELECT * FROM read_csv('{CORE / name}.csv', types={kinds})) "
            f"TO '{folder / name.upper()}.parquet' (FORMAT parquet)"
        )
    for name in ("practice_registrations", "medications"):
        with gzip.open(folder / f"{name.title()}.csv.gz", "wb") as out:
            out.write((CORE / f"{name}.csv").read_bytes())
    assert sorted(EhrqlTables(folder).files()) == sorted(
        ["patients", "clinical_events", "practice_registrations", "medications"]
    )
    assert cohort_records(f"ehrql:{folder}") == expected_cohort({101: 101, 202: 202})
    types = EhrqlTables(folder).open().tables["clinical_events"].schema()
    assert str(types["date"]) == "date" and str(types["code"]) == "string"


def test_a_missing_table_or_folder_is_named(tmp_path):
    folder = copy_core(tmp_path)
    (folder / "patients.csv").unlink()
    with pytest.raises(DatasetError, match="table patients is missing") as raised:
        EhrqlTables(folder).open()
    assert raised.value.path == str(folder)
    with pytest.raises(DatasetError, match="folder not found"):
        EhrqlTables(tmp_path / "nowhere").open()


def test_the_optional_tables_may_be_absent(tmp_path):
    folder = copy_core(tmp_path)
    (folder / "medications.csv").unlink()
    (folder / "practice_registrations.csv").unlink()
    opened = EhrqlTables(folder).open()
    assert set(opened.tables) == {"patients", "clinical_events"}


def test_two_files_for_one_table_are_refused(tmp_path):
    folder = copy_core(tmp_path)
    shutil.copy(folder / "patients.csv", folder / "PATIENTS.csv.gz")
    with pytest.raises(DatasetError, match="table patients is in 2 files"):
        EhrqlTables(folder).open()


def test_a_missing_column_names_the_file_the_column_and_the_columns_it_has(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "clinical_events.csv", "snomedct_code", "snomed_code")
    with pytest.raises(DatasetError) as raised:
        EhrqlTables(folder).open()
    error = raised.value
    assert error.path == str(folder / "clinical_events.csv")
    assert error.field == "snomedct_code"
    assert "no column 'snomedct_code'" in error.message
    assert "the file has patient_id, date, snomed_code, numeric_value" in error.message
    assert "did you mean 'snomed_code'" in error.message


def test_a_date_that_does_not_parse_is_counted_and_left_out(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "clinical_events.csv", "4,2020-01-01", "4,2020-02-30")
    rewrite(folder / "clinical_events.csv", "5,2022-06-01", "5,01/06/2022")
    opened = EhrqlTables(folder).open()
    [note] = [n for n in opened.notes if "YYYY-MM-DD" in n.what]
    assert note == SourceNote(
        "clinical_events",
        "rows with a date that is not YYYY-MM-DD (e.g. row 6: '2020-02-30') in "
        "clinical_events.csv, left out",
        2,
    )
    assert opened.details["tables"]["clinical_events"]["rows"] == 10


def test_a_registration_end_that_does_not_parse_leaves_the_spell_out_rather_than_open(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "practice_registrations.csv", "2024-01-15,101", "15/01/2024,101")
    opened = EhrqlTables(folder).open()
    assert (
        SourceNote(
            "registrations",
            "rows with an end date that is not YYYY-MM-DD (e.g. row 3: '15/01/2024') in "
            "practice_registrations.csv, left out",
            1,
        )
        in opened.notes
    )
    registrations = opened.con.execute(opened.tables["registrations"])
    assert 3 not in registrations["patient_id"].tolist()


def test_sex_values_outside_ehrqls_are_counted_as_unknown(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "patients.csv", "2,2010-05-01,male,", "2,2010-05-01,Male,")
    rewrite(folder / "patients.csv", "4,1970-06-01,male,", "4,1970-06-01,,")
    opened = EhrqlTables(folder).open()
    [note] = [n for n in opened.notes if "sex" in n.what]
    assert note.rows == 3
    assert "(e.g. row 2: 'Male')" in note.what
    patients = opened.con.execute(opened.tables["patients"].order_by("patient_id"))
    assert patients["sex"].tolist() == [
        "female", "unknown", "female", "unknown", "female", "intersex", "unknown"
    ]  # fmt: skip


def test_a_patient_on_two_rows_is_refused_with_the_rows(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "patients.csv", "6,1955-12-01", "3,1955-12-01")
    with pytest.raises(DatasetError, match=r"patient 3 is on 2 rows \(rows 3 and 6") as raised:
        EhrqlTables(folder).open()
    assert raised.value.path == str(folder / "patients.csv")
    assert raised.value.field == "patient_id"


def test_a_patient_id_that_is_not_a_whole_number_is_refused_with_an_example(tmp_path):
    folder = copy_core(tmp_path)
    rewrite(folder / "clinical_events.csv", "3,2000-01-01", "P3,2000-01-01")
    with pytest.raises(
        DatasetError, match=r"patient_id is not a whole number in 1 row\(s\) \(e.g. row 5: 'P3'\)"
    ) as raised:
        EhrqlTables(folder).open()
    assert raised.value.path == str(folder / "clinical_events.csv")


def test_an_absent_date_of_death_column_is_said_to_make_everyone_alive(tmp_path):
    folder = copy_core(tmp_path)
    lines = (folder / "patients.csv").read_text().splitlines()
    (folder / "patients.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    opened = EhrqlTables(folder).open()
    assert (
        SourceNote("patients", "patients with no date of death in the extract, taken as alive", 7)
        in opened.notes
    )
    patients = opened.con.execute(opened.tables["patients"])
    assert patients["date_of_death"].isna().all()


def test_a_file_that_is_not_csv_text_is_one_error_naming_it(tmp_path):
    folder = copy_core(tmp_path)
    (folder / "medications.csv").write_bytes(b"patient_id,date,dmd_code\n1,2023-04-01,\xff\xfe\n")
    with pytest.raises(DatasetError, match="cannot be read") as raised:
        EhrqlTables(folder).open()
    assert raised.value.path == str(folder / "medications.csv")
