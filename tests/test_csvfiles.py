"""The CSV files the kit writes: formula cells escaped, every cell read back as it was written."""

import csv
from pathlib import Path

import pytest

from codesetlib.core.csvfiles import csv_text, escape_cell, read_csv, unescape_cell
from codesetlib.core.errors import CodesetFormatError


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=HYPERLINK(A1)", "'=HYPERLINK(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("'plain", "'plain"),
        ("plain - text", "plain - text"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(cell: str, written: str):
    assert escape_cell(cell) == written
    assert unescape_cell(written) == cell


def test_a_csv_file_is_escaped_and_quoted_so_any_reader_gets_the_cells(tmp_path: Path):
    rows = [["1", "=1+1"], ["2", "a, b"], ["3", 'say "x"'], ["4", "two\nlines"], ["5", "cr\rhere"]]
    text = csv_text(["code", "term"], rows)
    assert list(csv.reader(text.splitlines(keepends=True)))[1][1] == "'=1+1"
    path = tmp_path / "out.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert [cells for _, cells in read_csv(path, CodesetFormatError)] == [["code", "term"], *rows]


def test_each_row_knows_the_line_it_starts_on(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text('code,term\n\n1,"two\nlines"\n2,x\n', encoding="utf-8")
    assert [line for line, _ in read_csv(path, CodesetFormatError)] == [1, 3, 5]


def test_a_file_of_another_tool_is_read_as_it_is(tmp_path: Path):
    path = tmp_path / "release.csv"
    path.write_text("code,description\nC50,'-x\n", encoding="utf-8")
    assert read_csv(path, CodesetFormatError, escaped=False)[1][1] == ["C50", "'-x"]


def test_a_cell_over_the_csv_limit_is_named_by_line(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text("code,term\n1,x\n2," + "y" * 140_000 + "\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError, match="longer than 131,072 characters") as raised:
        read_csv(path, CodesetFormatError)
    assert raised.value.line == 3
