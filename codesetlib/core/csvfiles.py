"""The CSV files the kit writes and reads: cells a spreadsheet would run are escaped, reading undoes it.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before
one) as a formula, so a term such as `=HYPERLINK(...)` in a downloaded codelist could act when opened
(CSV injection). Every CSV file the kit writes goes through `csv_text`, which puts an apostrophe in
front of such a cell, as spreadsheets expect; `read_csv` takes it off again, so the kit reads back
exactly what it wrote. A cell that starts with apostrophes and then one of those characters gets one
apostrophe more, so that escaping can always be undone: every text survives the round trip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from codesetlib.core.errors import CodesetError
from codesetlib.core.textfiles import read_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Cells holding one of these are quoted, so that the cell reads back as one cell of one row.
_NEEDS_QUOTES = (",", '"', "\n", "\r")


def _looks_like_formula(cell: str) -> bool:
    return cell.lstrip("'").startswith(FORMULA_STARTS)


def require_columns(
    header: Sequence[str] | None,
    required: Sequence[str],
    path: Path,
    error: type[CodesetError],
) -> None:
    """Refuse a header (line 1 of `path`) that lacks a required column, naming the missing ones and
    every column expected."""
    missing = [c for c in required if c not in (header or [])]
    if missing:
        raise error(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(required)}",
            path=path,
            line=1,
        )


def escape_cell(cell: str) -> str:
    """`cell` as a spreadsheet shows it and never runs it: an apostrophe before a formula's start."""
    return "'" + cell if _looks_like_formula(cell) else cell


def unescape_cell(cell: str) -> str:
    """The cell `escape_cell` was given: one leading apostrophe off a cell that it escaped."""
    return cell[1:] if cell.startswith("'") and _looks_like_formula(cell) else cell


def csv_line(cells: Iterable[str]) -> str:
    """One CSV row (no line ending): each cell escaped, and quoted only where it must be."""
    out = []
    for cell in map(escape_cell, cells):
        quoted = any(c in cell for c in _NEEDS_QUOTES)
        out.append('"' + cell.replace('"', '""') + '"' if quoted else cell)
    return ",".join(out)


def csv_text(header: list[str], rows: Iterable[Iterable[str]]) -> str:
    """A whole CSV file as text, one row per line, ending with a newline."""
    return "".join(csv_line(cells) + "\n" for cells in [header, *rows])


def read_csv(
    path: Path, error: type[CodesetError], *, escaped: bool = True
) -> list[tuple[int, list[str]]]:
    """Every non-blank row of the CSV file `path` with the line it starts on, each cell unescaped
    unless the file is not `escaped` (a file of another tool's, e.g. a terminology release).

    A file that cannot be read, is not UTF-8 or does not parse (e.g. a cell longer than the 131,072
    characters the csv module allows) is one `error` naming the file and the line.
    """
    reader = csv.reader(io.StringIO(read_text(path, error), newline=""))
    rows = []
    start = 1
    try:
        for cells in reader:
            if cells:
                rows.append((start, [unescape_cell(c) for c in cells] if escaped else cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        message = str(exc)
        if "field limit" in message:
            message = f"a cell is longer than {csv.field_size_limit():,} characters"
        raise error(f"not valid CSV: {message}", path=path, line=reader.line_num) from None
    return rows
