"""Scan the built pages' tables for counts that escaped disclosure control.

Every table of counts the record shows should have been protected (`codesetlib.disclosure`): a count
column holds 0, a suppression marker, or a number above the threshold that is a multiple of the
rounding base. A column counts when its header names a count (patients, events, n, numerator,
denominator, count) or the table lists it in `data-count-columns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from codesetlib.disclosure import DisclosureSettings

COUNT_HEADER = re.compile(
    r"^(patients?|events?|n|count|numerator|denominator|people|registered|"
    r"patients with .*|coded|expected|observed)$",
    re.I,
)


@dataclass(frozen=True)
class Leak:
    """A count shown in the book that disclosure control should have suppressed or rounded."""

    page: str
    table: int
    column: str
    value: str

    def line(self) -> str:
        return f"{self.page}: table {self.table}, column '{self.column}': {self.value}"


class _Tables(HTMLParser):
    """Collect every table as (attributes, header cells, body rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[dict, list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append((dict(attrs), [], []))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            _, header, rows = self.tables[-1]
            if self._in_head and not header:
                header.extend(self._row)
            elif not self._in_head:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _unprotected(value: str, settings: DisclosureSettings) -> bool:
    text = value.replace(",", "").strip()
    if not text.isdigit():
        return False
    number = int(text)
    return number != 0 and (number <= settings.threshold or number % settings.rounding != 0)


def scan_page(path: Path, settings: DisclosureSettings, name: str | None = None) -> list[Leak]:
    """Leaks in one HTML page."""
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    leaks = []
    for number, (attrs, header, rows) in enumerate(parser.tables, start=1):
        declared = set(filter(None, attrs.get("data-count-columns", "").split("|")))
        columns = [i for i, h in enumerate(header) if h in declared or COUNT_HEADER.match(h)]
        for row in rows:
            for i in columns:
                if i < len(row) and _unprotected(row[i], settings):
                    leaks.append(Leak(name or path.name, number, header[i], row[i]))
    return leaks


def scan_book(html_dir: Path, settings: DisclosureSettings) -> list[Leak]:
    """Leaks in every page of a built book (nothing to scan when control is switched off)."""
    if not settings.enabled:
        return []
    leaks = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts:
            continue
        leaks += scan_page(page, settings, str(page.relative_to(html_dir)))
    return leaks
