"""Usage files as NHS England publishes them: found, dated, indexed and checked line by line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from stdnum import verhoeff

from codesetlib.codesets.usage import (
    UsageFileError,
    load_usage,
    shown_usage,
    usage_by_year,
    usage_of,
)
from tests.usage.conftest import write_usage
from tests.usage.fixture_files import FIXTURE, ICD10_HEADER, fixture_files

GOOD = "44054006\tDiabetes mellitus type 2 (disorder)\t412330\t1\t1"


def test_the_committed_fixture_is_what_its_builder_writes():
    assert {p.name: p.read_text(encoding="utf-8") for p in FIXTURE.iterdir()} == fixture_files()


def test_the_fixture_loads_by_system_and_year_and_leaves_other_files_alone(usage_path: Path):
    index = load_usage()
    assert index.years("snomedct") == ["2022-23", "2023-24"]
    assert index.years("icd10") == ["2023-24"]
    assert index.latest_year("snomedct") == "2023-24"
    assert [p.name for p in index.ignored] == ["README.md"]
    assert not index.loaded("dmd")


def test_each_year_covers_its_publications_reporting_period(usage_path: Path):
    periods = {(f.system, f.year): f.period for f in load_usage().files}
    # Primary care counts run from August to July, hospital counts over the financial year.
    assert periods["snomedct", "2023-24"] == (dt.date(2023, 8, 1), dt.date(2024, 7, 31))
    assert periods["icd10", "2023-24"] == (dt.date(2023, 4, 1), dt.date(2024, 3, 31))


def test_usage_of_gives_every_code_in_every_year(usage_path: Path):
    frame = usage_of(["44054006", "313435000"], "snomedct")
    assert list(frame.columns) == [
        "code",
        "year",
        "usage",
        "suppressed",
        "active_at_start",
        "active_at_end",
    ]
    rows = {(r.code, r.year): r for r in frame.itertuples(index=False)}
    assert rows["44054006", "2022-23"].usage == 398120
    assert rows["44054006", "2023-24"].usage == 412330
    assert bool(rows["44054006", "2023-24"].active_at_end) is True
    # A code a year's file does not list was not used that year; its flags are not known.
    assert rows["313435000", "2023-24"].usage == 0
    assert not rows["313435000", "2023-24"].suppressed
    assert rows["313435000", "2023-24"].active_at_start is pd_na()


def pd_na():
    import pandas as pd

    return pd.NA


def test_an_asterisk_is_suppressed_use_of_one_to_four(usage_path: Path):
    frame = usage_of(["609561005", "422099009"], "snomedct")
    rows = {(r.code, r.year): r for r in frame.itertuples(index=False)}
    mody = rows["609561005", "2023-24"]
    assert mody.suppressed and mody.usage is pd_na()
    assert shown_usage(mody.usage, mody.suppressed, "snomedct") == "1–4"
    wide = usage_by_year(["609561005", "422099009"], "snomedct").set_index("Code")
    assert wide.loc["609561005"].to_dict() == {"Usage 2022-23": "1–4", "Usage 2023-24": "1–4"}
    assert wide.loc["422099009"].to_dict() == {"Usage 2022-23": "1–4", "Usage 2023-24": "0"}


def test_hospital_codes_are_found_in_any_written_form(usage_path: Path):
    # The published tables pad three-character codes with X (I10X) and may drop the dot.
    frame = usage_of(["I10", "c509", "E10.9", "E11"], "icd10").set_index("code")
    assert frame.loc["I10", "usage"] == 1204531
    assert frame.loc["c509", "usage"] == 41876
    assert frame.loc["E11", "usage"] == 0
    assert frame["active_at_start"].isna().all()
    assert usage_by_year(["E14.9"], "icd10").iloc[0]["Usage 2023-24"] == "suppressed"


def test_no_folder_named_means_no_usage(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CODESET_USAGE_PATH", raising=False)
    index = load_usage()
    assert index.files == () and not index.loaded("snomedct")
    assert usage_by_year(["44054006"], "snomedct").columns.tolist() == ["Code"]


def test_several_folders_are_read_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_usage(tmp_path / "older", "SNOMED_code_usage_2021-22.txt", [GOOD])
    monkeypatch.setenv("CODESET_USAGE_PATH", f"{FIXTURE}:{tmp_path / 'older'}")
    assert load_usage().years("snomedct") == ["2021-22", "2022-23", "2023-24"]


def error_of(folder: Path) -> UsageFileError:
    with pytest.raises(UsageFileError) as caught:
        load_usage([folder])
    return caught.value


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ("73211009\tDiabetes\t41O\t1\t1", "Usage", "'41O' is not a count"),
        ("73211009\tDiabetes\t\t1\t1", "Usage", "'' is not a count"),
        ("73211009\tDiabetes\t-10\t1\t1", "Usage", "'-10' is not a count"),
        ("44054007\tDiabetes\t410\t1\t1", "SNOMED_Concept_ID", "check digit is wrong"),
        ("E11.9\tDiabetes\t410\t1\t1", "SNOMED_Concept_ID", "expected 6 to 18 digits"),
        ("73211009\tDiabetes\t410\tyes\t1", "Active_at_Start", "'yes' is not 1 (active)"),
        ("73211009\tDiabetes\t410\t1\t2", "Active_at_End", "'2' is not 1 (active)"),
        (GOOD, "SNOMED_Concept_ID", "44054006 is listed twice (first on line 2)"),
    ],
)
def test_a_bad_row_names_the_file_line_and_field(tmp_path: Path, line: str, field: str, says: str):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", [GOOD, line])
    error = error_of(tmp_path)
    assert (error.path, error.line, error.field) == (str(path), 3, field)
    assert says in error.message


def test_a_row_with_too_few_fields_names_its_line(tmp_path: Path):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", [GOOD, "73211009\t5120"])
    error = error_of(tmp_path)
    assert (error.path, error.line) == (str(path), 3)
    assert error.message == "expected 5 tab-separated fields, found 2"


def test_a_bad_hospital_code_names_its_line(tmp_path: Path):
    rows = ["E11.9\tType 2 diabetes\t612087", "Total\tAll diagnoses\t99"]
    path = write_usage(tmp_path, "ICD10_code_usage_2023-24.txt", rows, header=ICD10_HEADER)
    error = error_of(tmp_path)
    assert (error.path, error.line, error.field) == (str(path), 3, "ICD10_Code")
    assert error.message.startswith("'Total' is not an ICD-10 code")


@pytest.mark.parametrize(
    "header",
    [
        "SNOMED_Concept_ID,Description,Usage,Active_at_Start,Active_at_End",
        "SNOMED_Concept_ID\tDescription\tUsage",
        "ConceptId\tTerm\tCount\tActive_at_Start\tActive_at_End",
        ICD10_HEADER,
    ],
)
def test_a_wrong_header_is_refused_on_line_1(tmp_path: Path, header: str):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", [GOOD], header=header)
    error = error_of(tmp_path)
    assert (error.path, error.line) == (str(path), 1)
    assert "expected the tab-separated header SNOMED_Concept_ID Description Usage" in error.message


def test_the_year_comes_from_the_name(tmp_path: Path):
    write_usage(tmp_path, "SNOMED_code_usage_2019-20.txt", [GOOD])
    write_usage(
        tmp_path,
        "hosp-epis-stat-admi-diag-2020-21-tab.txt",
        ["E11.9\tType 2 diabetes\t612,087"],
        header=ICD10_HEADER,
    )
    index = load_usage([tmp_path])
    assert {(f.system, f.year) for f in index.files} == {
        ("snomedct", "2019-20"),
        ("icd10", "2020-21"),
    }
    # A count with thousands separated by commas, as a spreadsheet saves it, reads as the number.
    assert usage_of(["E11.9"], "icd10", index)["usage"].tolist() == [612087]


def test_a_name_spanning_more_than_one_year_is_refused(tmp_path: Path):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-25.txt", [GOOD])
    error = error_of(tmp_path)
    assert error.path == str(path)
    assert "2023-25, which is not one year (expected 2023-24)" in error.message


def test_a_usage_file_whose_name_gives_no_year_is_refused_not_skipped(tmp_path: Path):
    path = write_usage(tmp_path, "snomed_usage_latest.txt", [GOOD])
    error = error_of(tmp_path)
    assert error.path == str(path)
    assert "its name does not give the year" in error.message


def test_a_downloaded_workbook_is_refused_with_what_to_do(tmp_path: Path):
    path = tmp_path / "hosp-epis-stat-admi-diag-2023-24-tab.xlsx"
    path.write_bytes(b"PK\x03\x04")
    error = error_of(tmp_path)
    assert error.path == str(path) and "save the usage table as tab-separated text" in error.message


def test_two_files_for_one_year_are_refused(tmp_path: Path):
    write_usage(tmp_path / "a", "SNOMED_code_usage_2023-24.txt", [GOOD])
    second = write_usage(tmp_path / "b", "SNOMED_code_usage_2023-24.tsv", [GOOD])
    with pytest.raises(UsageFileError) as caught:
        load_usage([tmp_path / "a", tmp_path / "b"])
    assert caught.value.path == str(second)
    assert "a second snomedct usage file for 2023-24" in caught.value.message


def test_a_folder_that_is_not_there_is_named(tmp_path: Path):
    error = error_of(tmp_path / "missing")
    assert error.path == str(tmp_path / "missing")
    assert "CODESET_USAGE_PATH names this, which is not a folder" in error.message


def test_an_edited_file_is_read_again(tmp_path: Path):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", [GOOD])
    assert usage_of(["44054006"], "snomedct", load_usage([tmp_path]))["usage"].tolist() == [412330]
    path.write_text(path.read_text().replace("412330", "500000"), encoding="utf-8")
    assert usage_of(["44054006"], "snomedct", load_usage([tmp_path]))["usage"].tolist() == [500000]
    path.write_text(path.read_text().replace("500000", "5OOOOO"), encoding="utf-8")
    assert error_of(tmp_path).line == 2


def test_a_damaged_index_in_the_cache_is_built_again(tmp_path: Path):
    from codesetlib.core.paths import cache_dir

    write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", [GOOD])
    load_usage([tmp_path])
    [entry] = [
        p
        for p in (cache_dir() / "usage").iterdir()
        if p.name.startswith("snomedct-")
        and _sha_of(tmp_path / "SNOMED_code_usage_2023-24.txt")[:32] in p.name
    ]
    entry.write_bytes(b"not parquet")
    fresh = load_usage([another_name_for(tmp_path)])
    assert usage_of(["44054006"], "snomedct", fresh)["usage"].tolist() == [412330]


def another_name_for(folder: Path) -> Path:
    """The same folder by another path, so that this process's index of it is not reused."""
    link = folder.parent / f"{folder.name}-link"
    link.symlink_to(folder, target_is_directory=True)
    return link


def _sha_of(path: Path) -> str:
    from codesetlib.core.file_hashes import sha256_of_bytes

    return sha256_of_bytes(path)


def sctid(item: int) -> str:
    base = f"{item}00"
    return base + verhoeff.calc_check_digit(base)


def test_a_warm_lookup_reads_the_index_not_the_file(tmp_path: Path):
    from codesetlib.core.paths import cache_dir

    rows = [f"{sctid(100000 + i)}\tConcept {i}\t{i * 10}\t1\t1" for i in range(100_000)]
    write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", rows)
    asked = [sctid(100000 + i) for i in (5, 50_000, 99_999)]
    cold = usage_of(asked, "snomedct", load_usage([tmp_path]))
    indexes = {p: p.stat().st_mtime_ns for p in (cache_dir() / "usage").glob("*.parquet")}
    warm = usage_of(asked, "snomedct", load_usage([another_name_for(tmp_path)]))
    assert warm.equals(cold)
    assert warm["usage"].tolist() == [50, 500_000, 999_990]
    # The warm lookup found the index the cold one wrote, and wrote none.
    assert (
        indexes
        and {p: p.stat().st_mtime_ns for p in (cache_dir() / "usage").glob("*.parquet")} == indexes
    )
