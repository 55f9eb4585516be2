"""A GP extract read through a mapping: the documented example `tests/fixtures/extracts/emis_style`
(the same eight patients as the ehrQL core tables in test_ehrql.py, written as an EMIS-style
download) opened and run as a cohort end to end, the mapping's options one by one, and the errors
and notes that bad mappings and bad files give.

The example differs from the core tables in how it is written, not in whom it holds: dates are
DD/MM/YYYY (medication issues ISO, by the column's own format), sex is F/M/I/U (patient 8's `X` is
not mapped), practices are ODS codes (F83001 numbered 1, F83002 numbered 2), one journal row has
the date 31/02/2021 (left out, with a note), one an HbA1c of `<20` (kept without a value), and a
CTV3 journal no codeset can match is counted and left out.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import SourceNote, data_source
from codesetlib.data.sources.base import KIT_TABLES
from codesetlib.data.sources.extracts import describe_date_format
from codesetlib.data.sources.mapped import MappedExtract, load_mapping
from tests.sources.test_ehrql import CODESETS, DIABETES_REVIEW, FIXTURES, expected_cohort
from tests.spec.dataset import records

EXAMPLE = FIXTURES / "emis_style"
MAPPING = EXAMPLE / "mapping.yaml"


def copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "extract"
    shutil.copytree(EXAMPLE, folder)
    return folder / "mapping.yaml"


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_example_opens_as_the_kits_tables_with_their_types():
    opened = MappedExtract(MAPPING).open()
    assert set(opened.tables) == set(KIT_TABLES)
    for name, columns in KIT_TABLES.items():
        schema = opened.tables[name].schema()
        for column, kind in columns.items():
            assert str(schema[column]) == kind, (name, column)
    practices = opened.con.execute(opened.tables["practices"])
    assert practices.to_dict("records") == [
        {"practice_id": 1, "practice_code": "F83001", "borough": "Camden"},
        {"practice_id": 2, "practice_code": "F83002", "borough": "Islington"},
    ]
    events = opened.con.execute(opened.tables["clinical_events"].order_by("patient_id", "date"))
    assert len(events) == 13
    hba1c_6 = events[(events.patient_id == 6) & (events.code == "999791000000106")]
    assert hba1c_6["value"].isna().tolist() == [True, False]


def test_the_example_notes_every_row_left_out_or_changed():
    assert MappedExtract(MAPPING).open().notes == [
        SourceNote(
            "patients",
            "rows with no date of birth (e.g. row 7: empty) in patients.csv, left out",
            1,
        ),
        SourceNote(
            "patients",
            "rows with a sex that is not one of F, M, I, U (e.g. row 8: 'X') in patients.csv, "
            "taken as unknown",
            1,
        ),
        SourceNote(
            "clinical_events",
            "rows with a date that is not DD/MM/YYYY (e.g. row 13: '31/02/2021') in journal.csv, "
            "left out",
            1,
        ),
        SourceNote(
            "clinical_events",
            "rows with a value that is not a number (e.g. row 14: '<20') in journal.csv, "
            "kept without a value",
            1,
        ),
        SourceNote(
            "clinical_events",
            "rows coded in ctv3, which no codeset for clinical_events can match (they are in "
            "snomedct), in journal_ctv3.csv, left out",
            2,
        ),
    ]


def test_the_details_record_the_mapping_code_systems_and_practice_numbering():
    details = MappedExtract(MAPPING).open().details
    assert details["kind"] == "mapped"
    assert details["mapping"] == str(MAPPING)
    assert details["code_systems"]["clinical_events"] == {
        "journal.csv": "snomedct",
        "journal_ctv3.csv": "ctv3",
    }
    assert details["tables"]["clinical_events"] == {
        "files": ["journal.csv"],
        "rows_read": 14,
        "rows": 13,
    }
    assert details["practice_ids"].startswith("numbered 1 to N")
    assert details["event_dates"]["clinical_events"] == {
        "first": "2000-01-01",
        "last": "2024-04-01",
    }


def test_a_cohort_runs_end_to_end_on_the_mapped_extract():
    assert isinstance(data_source(f"mapped:{MAPPING}"), MappedExtract)
    engine = open_engine(f"mapped:{MAPPING}")
    found = sorted(records(engine.cohort(DIABETES_REVIEW, CODESETS)), key=lambda r: r["patient_id"])
    assert found == expected_cohort({101: 1, 202: 2})


def test_a_relative_mapping_is_found_from_the_studys_folder():
    source = data_source("mapped:emis_style/mapping.yaml", root=FIXTURES)
    assert source.location == str(MAPPING)


# Options of the mapping


def test_whole_number_practices_and_parquet_files_are_read_as_they_are(tmp_path):
    mapping = copy_example(tmp_path)
    folder = mapping.parent
    (folder / "registrations.csv").write_text(
        (folder / "registrations.csv").read_text().replace("F83001", "101").replace("F83002", "202")
    )
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv('{folder / 'journal.csv'}', all_varchar=true)) "
        f"TO '{folder / 'journal.parquet'}' (FORMAT parquet)"
    )
    rewrite(mapping, "path: journal.csv", "path: journal.parquet")
    opened = MappedExtract(mapping).open()
    assert opened.details["practice_ids"] == "the extract's own"
    assert sorted(opened.con.execute(opened.tables["practices"])["practice_id"]) == [101, 202]
    engine = open_engine(MappedExtract(mapping))
    found = sorted(records(engine.cohort(DIABETES_REVIEW, CODESETS)), key=lambda r: r["patient_id"])
    assert found == expected_cohort({101: 101, 202: 202})


def test_a_year_of_birth_a_constant_and_a_latin_1_file(tmp_path):
    mapping = copy_example(tmp_path)
    folder = mapping.parent
    (folder / "people.csv").write_bytes(
        "Id|Gender|Born|Town\n1|F|1960|Llan\xf4r\n2|M|19x0|Ely\n".encode("latin-1")
    )
    text = mapping.read_text()
    text = text.replace(
        "  demographics:\n    path: patients.csv\n",
        "  demographics:\n    path: people.csv\n    delimiter: '|'\n    encoding: latin-1\n",
    )
    text = text.replace(
        "    patient_id: PatientID\n    sex:\n      column: Sex",
        "    patient_id: Id\n    sex:\n      column: Gender",
    )
    text = text.replace(
        "    date_of_birth: DateOfBirth      # or", "    year_of_birth: Born      # or"
    )
    text = text.replace("    date_of_death: DateOfDeath      # leave out", "    # leave out")
    text = text.replace("    end_date: RegistrationEnd\n", "    end_date: {constant: 2030-01-01}\n")
    mapping.write_text(text)
    opened = MappedExtract(mapping).open()
    patients = records(opened.con.execute(opened.tables["patients"]))
    assert patients == [
        {
            "patient_id": 1,
            "sex": "female",
            "date_of_birth": dt.date(1960, 7, 1),
            "date_of_death": None,
        }
    ]
    notes = {
        note.what.split(" (")[0]: note.rows for note in opened.notes if note.table == "patients"
    }
    assert notes == {
        "rows with a year of birth that is not a year from 1850 to 2200": 1,
        "patients with no date of death in the extract, taken as alive": 1,
        "patients with only a year of birth, taken as born on 1 July of it": 1,
    }
    ends = opened.con.execute(opened.tables["registrations"])["end_date"]
    assert {str(d.date()) for d in ends} == {"2030-01-01"}


def test_an_events_table_may_gather_several_files(tmp_path):
    mapping = copy_example(tmp_path)
    (mapping.parent / "journal_2.csv").write_text(
        "PatientID,EffectiveDate,SnomedCTConceptId\n2,01/01/2020,44054006\n"
    )
    rewrite(
        mapping,
        "  journal_ctv3:\n",
        "  journal_2:\n    path: journal_2.csv\n  journal_ctv3:\n",
    )
    rewrite(
        mapping,
        "    - file: journal_ctv3\n",
        "    - file: journal_2\n      code_system: snomedct\n      patient_id: PatientID\n"
        "      date: EffectiveDate\n      code: SnomedCTConceptId\n    - file: journal_ctv3\n",
    )
    opened = MappedExtract(mapping).open()
    assert opened.details["tables"]["clinical_events"]["files"] == ["journal.csv", "journal_2.csv"]
    events = opened.con.execute(opened.tables["clinical_events"])
    assert len(events) == 14
    assert events[events.patient_id == 2]["value"].isna().all()


def test_an_extract_with_no_events_a_codeset_can_match_is_refused(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping, "code_system: snomedct", "code_system: read2")
    with pytest.raises(DatasetError, match="no events file is in snomedct") as raised:
        MappedExtract(mapping).open()
    assert raised.value.field == "tables.clinical_events"


# Bad files


def test_a_missing_file_is_named(tmp_path):
    mapping = copy_example(tmp_path)
    (mapping.parent / "journal.csv").unlink()
    with pytest.raises(DatasetError, match="file not found") as raised:
        MappedExtract(mapping).open()
    assert raised.value.path == str(mapping.parent / "journal.csv")


def test_a_missing_column_names_the_file_the_column_the_field_and_the_columns_it_has(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping, "date_of_death: DateOfDeath", "date_of_death: DeathDate")
    with pytest.raises(DatasetError) as raised:
        MappedExtract(mapping).open()
    error = raised.value
    assert error.path == str(mapping.parent / "patients.csv")
    assert error.field == "DeathDate"
    assert error.message == (
        "no column 'DeathDate' (named by tables.patients.date_of_death in mapping.yaml); "
        "the file has PatientID, Sex, DateOfBirth, DateOfDeath"
    )


def test_a_wrong_delimiter_is_suggested(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping, '    delimiter: ";"', '    delimiter: ","')
    with pytest.raises(DatasetError, match="is ',' the delimiter the file uses"):
        MappedExtract(mapping).open()


def test_dates_that_do_not_parse_are_counted_with_the_first_example(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping.parent / "journal.csv", "1,01/01/2010", "1,2010-01-01")
    opened = MappedExtract(mapping).open()
    [note] = [n for n in opened.notes if "DD/MM/YYYY" in n.what]
    assert note.rows == 2
    assert "(e.g. row 1: '2010-01-01')" in note.what
    assert opened.details["tables"]["clinical_events"]["rows"] == 12


def test_a_sex_the_mapping_does_not_name_is_counted_as_unknown(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping.parent / "patients.csv", "2,M,", "2,m,")
    opened = MappedExtract(mapping).open()
    [note] = [n for n in opened.notes if "sex" in n.what]
    assert (note.rows, "(e.g. row 2: 'm')" in note.what) == (2, True)


def test_a_patient_on_two_rows_is_refused_with_the_rows(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping.parent / "patients.csv", "8,X,", "5,X,")
    with pytest.raises(DatasetError, match=r"patient 5 is on 2 rows \(rows 5 and 8") as raised:
        MappedExtract(mapping).open()
    assert (raised.value.path, raised.value.field) == (
        str(mapping.parent / "patients.csv"),
        "PatientID",
    )


# Bad mappings: each error names the mapping file, the line and the field


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "    patient_id: PatientID\n    sex:",
            "    patinet_id: PatientID\n    sex:",
            "patinet_id",
            "tables.patients.patinet_id",
            "unknown field (did you mean 'patient_id'?)",
        ),
        (
            "code_system: ctv3",
            "code_system: ctv2",
            "code_system: ctv2",
            "tables.clinical_events[1].code_system",
            "Input should be 'snomedct', 'ctv3', 'read2', 'icd10' or 'dmd' (found 'ctv2')",
        ),
        (
            "values: {F: female, M: male, I: intersex, U: unknown}",
            "values: {F: female, M: man}",
            "values:",
            "tables.patients.sex.values.M",
            "Input should be 'female', 'male', 'intersex' or 'unknown' (found 'man')",
        ),
        (
            'date_format: "%d/%m/%Y"',
            'date_format: "%d/%m"',
            "date_format",
            "date_format",
            "a date format is a strftime pattern with a year in it",
        ),
        (
            "    file: demographics",
            "    file: demographic",
            "file: demographic",
            "tables.patients.file",
            "names no file listed under files (found 'demographic'",
        ),
        (
            "    date_of_birth: DateOfBirth",
            "    date_of_birth: {column: DateOfBirth, constant: 2000-01-01}",
            "date_of_birth:",
            "tables.patients.date_of_birth",
            "give either column (a column of the file) or constant",
        ),
        (
            "      code: DmdProductCode",
            "      code: DmdProductCode\n      value: Quantity",
            "- file: issues",
            "tables.medications",
            "medications have no value column; only clinical events do",
        ),
        (
            '    delimiter: ";"',
            '    delimiter: ";;"',
            "delimiter",
            "files.issues.delimiter",
            "String should have at most 1 character",
        ),
    ],
)
def test_a_bad_mapping_is_one_error_naming_its_line_and_field(
    tmp_path, old, new, line, field, message
):
    mapping = copy_example(tmp_path)
    rewrite(mapping, old, new)
    with pytest.raises(DatasetError) as raised:
        load_mapping(mapping)
    error = raised.value
    assert error.path == str(mapping)
    assert error.field == field
    assert message in error.message
    lines = mapping.read_text().splitlines()
    assert error.line is not None and line in lines[error.line - 1]


def test_a_mapping_that_is_missing_is_named(tmp_path):
    with pytest.raises(DatasetError, match="file not found") as raised:
        MappedExtract(tmp_path / "mapping.yaml").open()
    assert raised.value.path == str(tmp_path / "mapping.yaml")


def test_a_bad_constant_names_its_field(tmp_path):
    mapping = copy_example(tmp_path)
    rewrite(mapping, "    end_date: RegistrationEnd", "    end_date: {constant: soon}")
    with pytest.raises(DatasetError, match="the constant 'soon' is not a date") as raised:
        MappedExtract(mapping).open()
    assert raised.value.field == "tables.registrations.end_date"


def test_a_date_format_is_said_as_a_reader_writes_it():
    assert describe_date_format("%d/%m/%Y") == "DD/MM/YYYY"
    assert describe_date_format("%Y%m%d %H:%M") == "YYYYMMDD hh:mm"
