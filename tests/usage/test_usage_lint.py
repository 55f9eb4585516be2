"""Lint findings from national usage, on the teaching release's diabetes codeset and the fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codesetlib.codesets.lint import lint_codeset
from tests.usage.conftest import ROOT, write_usage

DIABETES = ROOT / "codesets" / "diabetes"
USAGE_CHECKS = {"unused-nationally", "used-descendant-left-out"}


def usage_findings(folder: Path = DIABETES, **options):
    return [f for f in lint_codeset(folder, **options) if f.check in USAGE_CHECKS]


def test_without_usage_files_there_are_no_usage_findings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CODESET_USAGE_PATH", raising=False)
    assert usage_findings() == []


def test_a_code_unused_in_every_year_is_noted_unless_a_decision_covers_it(usage_path: Path):
    unused = [f for f in usage_findings() if f.check == "unused-nationally"]
    # 313435000 and 190372001 are in no year's file; the codeset records why 190372001 belongs.
    assert [(f.code, f.rule, f.severity) for f in unused] == [("313435000", "R1", "info")]
    assert unused[0].message == (
        "313435000 |Type I diabetes mellitus without complication| is not used nationally in any "
        "loaded year (2022-23 to 2023-24)"
    )
    assert "record a decision that it belongs" in unused[0].fix


def test_suppressed_use_is_use(usage_path: Path):
    # 609561005 is published as * (1 to 4) in both years, 422099009 in one: both were used.
    noted = {f.code for f in usage_findings() if f.check == "unused-nationally"}
    assert not noted & {"609561005", "422099009"}


def test_a_busy_descendant_the_rules_leave_out_is_a_warning(usage_path: Path):
    [left] = [f for f in usage_findings() if f.check == "used-descendant-left-out"]
    assert (left.code, left.rule, left.severity) == ("11687002", "R2", "warning")
    assert left.message == (
        "11687002 |Gestational diabetes mellitus| is below included 73211009 and used 24,300 times "
        "nationally in 2023-24, but exclusion R2 removes it"
    )
    assert left.fix == "include it by a rule, or record a decision about it saying why it stays out"
    assert left.line().startswith("warning: diabetes [R2]: used-descendant-left-out: 11687002")


def test_the_threshold_is_the_latest_years_use(usage_path: Path):
    assert [f.code for f in usage_findings(usage_threshold=24_299)] == ["313435000", "11687002"]
    assert [f.code for f in usage_findings(usage_threshold=24_300)] == ["313435000"]


def test_only_the_latest_year_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Used heavily in 2022-23 but under the threshold in 2023-24: not reported.
    for name, count in [
        ("SNOMED_code_usage_2022-23.txt", "90000"),
        ("SNOMED_code_usage_2023-24.txt", "990"),
    ]:
        write_usage(
            tmp_path, name, [f"11687002\tGestational diabetes mellitus (disorder)\t{count}\t1\t1"]
        )
    monkeypatch.setenv("CODESET_USAGE_PATH", str(tmp_path))
    assert [f.check for f in usage_findings() if f.code == "11687002"] == []


def test_a_decision_about_the_code_answers_the_warning(usage_path: Path, tmp_path: Path):
    folder = tmp_path / "diabetes"
    shutil.copytree(DIABETES, folder)
    decision = (
        "- about: '11687002'\n  decision: exclude\n  rationale: Gestational diabetes is not on the "
        "register.\n  by: Clinical reviewer (GP)\n  date: 2024-05-01\n"
    )
    text = (folder / "codeset.yaml").read_text(encoding="utf-8")
    (folder / "codeset.yaml").write_text(text.replace("decisions:\n", "decisions:\n" + decision, 1))
    assert "used-descendant-left-out" not in {f.check for f in usage_findings(folder)}


def test_a_bad_usage_file_stops_lint_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", ["11687002\tGDM\tmany\t1\t1"])
    monkeypatch.setenv("CODESET_USAGE_PATH", str(tmp_path))
    from codesetlib.codesets.usage import UsageFileError

    with pytest.raises(UsageFileError) as caught:
        lint_codeset(DIABETES)
    assert caught.value.location_message().startswith(f"{path}:2: Usage: 'many' is not a count")
