"""Usage where a reader sees it: `codeset show --usage`, the codeset card and the builder's tables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.record.book.cards import codeset_card
from codesetlib.record.book.disclosure_scan import _Tables, scan_page
from codesetlib.teaching.builder import CodesetBuilder, concepts_table
from tests.usage.conftest import ROOT, write_usage
from tests.usage.fixture_files import FIXTURE

DIABETES = ROOT / "codesets" / "diabetes"


def codeset(*args: str, usage: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CODESET_USAGE_PATH"}
    if usage is not None:
        env["CODESET_USAGE_PATH"] = str(usage)
    return subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_show_usage_prints_each_code_per_year():
    result = codeset("show", "diabetes", "--usage", usage=FIXTURE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("national usage:")
    assert lines[start + 1].split() == ["code", "Usage", "2022-23", "Usage", "2023-24", "term"]
    rows = {line.split()[0]: line.split() for line in lines[start + 2 : start + 15]}
    assert len(rows) == 13  # every code of codes.csv
    assert rows["44054006"][1:3] == ["398,120", "412,330"]
    assert rows["609561005"][1:3] == ["1–4", "1–4"]
    assert rows["313435000"][1:3] == ["0", "0"]
    assert "rounded by NHS England to the nearest 10" in result.stdout
    assert "note: not a usage file, left alone:" in result.stdout


def test_show_usage_as_json_gives_the_rows():
    result = codeset("show", "diabetes", "--usage", "--json", usage=FIXTURE)
    usage = json.loads(result.stdout)["usage"]
    assert usage["years"] == ["2022-23", "2023-24"]
    rows = {(r["code"], r["year"]): r for r in usage["codes"]}
    assert rows["609561005", "2023-24"] == {
        "code": "609561005",
        "year": "2023-24",
        "usage": None,
        "suppressed": True,
        "active_at_start": True,
        "active_at_end": True,
    }
    assert rows["313435000", "2022-23"]["usage"] == 0


def test_show_without_usage_is_unchanged_and_usage_without_files_is_refused():
    plain = codeset("show", "diabetes", usage=FIXTURE)
    assert plain.returncode == 0 and "national usage" not in plain.stdout
    refused = codeset("show", "diabetes", "--usage", usage=None)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "codeset: error: --usage: no snomedct usage file is loaded (usage files found for: none); "
        "name the folder holding them in CODESET_USAGE_PATH"
    )


def test_show_usage_with_a_bad_file_is_one_line_naming_it(tmp_path: Path):
    path = write_usage(tmp_path, "SNOMED_code_usage_2023-24.txt", ["44054006\tDM2\t4l0\t1\t1"])
    result = codeset("show", "diabetes", "--usage", usage=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"codeset: error: {path}:2: Usage: '4l0' is not a count: expected a whole number or * "
        "(suppressed)"
    ]


def code_tables(card: str) -> list[tuple[list[str], list[list[str]]]]:
    codes = card[card.index("## Codes (") : card.index("## Codes removed")]
    parser = _Tables()
    parser.feed(codes)
    return [(header, rows) for _, header, rows in parser.tables]


def test_the_card_shows_a_usage_column_per_year(usage_path: Path, tmp_path: Path):
    card = codeset_card(DIABETES)
    [(header, rows)] = code_tables(card)
    assert header[-2:] == ["Usage 2022-23", "Usage 2023-24"]
    shown = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert shown["44054006"]["Usage 2023-24"] == "412,330"
    assert shown["609561005"]["Usage 2022-23"] == "1–4"
    assert shown["190372001"]["Usage 2023-24"] == "0"
    text = re.sub(r"\s+", " ", card)
    assert "already rounded by it, not counts of this study's patients" in text
    assert "'1–4' stands for the '*' published for 1 to 4 uses" in text
    # National published figures are no study counts: the record's disclosure scan passes them.
    page = tmp_path / "diabetes.html"
    page.write_text(card, encoding="utf-8")
    assert scan_page(page, DisclosureSettings()) == []


def test_the_card_has_no_usage_column_without_usage_files(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CODESET_USAGE_PATH", raising=False)
    card = codeset_card(DIABETES)
    [(header, _)] = code_tables(card)
    assert not [h for h in header if h.startswith("Usage")]
    assert "National usage" not in card


def test_the_builder_shows_usage_beside_search_results_and_codes(usage_path: Path):
    builder = CodesetBuilder.open("snomedct-teaching-20240401")
    found = concepts_table(builder.search("gestational diabetes"))
    row = found.set_index("Code").loc["11687002"]
    assert (row["Usage 2022-23"], row["Usage 2023-24"]) == ("21,450", "24,300")
    builder.include("73211009")
    codes = builder.patients_per_code().set_index("Code")
    assert codes.loc["609561005", "Usage 2023-24"] == "1–4"
    assert codes.loc["11687002", "Usage 2023-24"] == "24,300"


def test_the_builder_is_unchanged_without_usage_files(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CODESET_USAGE_PATH", raising=False)
    builder = CodesetBuilder.open("snomedct-teaching-20240401")
    assert list(concepts_table(builder.search("diabetes")).columns) == [
        "Code",
        "Term",
        "Fully specified name",
        "Active",
    ]
