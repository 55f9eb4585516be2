"""Scan the built pages' tables for counts that escaped disclosure control.

Every table of counts the record shows should have been protected (`codesetlib.core.disclosure`): a count
column holds 0, a suppression marker, or a number above the threshold that is a multiple of the
rounding base. A column counts when its header names a count (patients, events, n, numerator,
denominator, count) or the table lists it in `data-count-columns`.

Every figure derived from counts (a percentage, an interval, a ratio) must be declared in the table's
`data-derived` (how it follows from the counts in its row) or `data-reference-columns` (a figure not
computed from the data, such as a published value). The scan recomputes each declared figure from the
counts shown beside it: a figure computed from exact counts would disagree with the rounded ones, and
could give a suppressed count back by subtraction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from codesetlib.core.disclosure import (
    INTERVAL_METHODS,
    SUPPRESSED_FIGURE,
    DisclosureSettings,
    derived_figure,
    shown_number,
)

PERCENT = re.compile(r"-?\d+(\.\d+)?%")
FIGURE = re.compile(r"^(?P<estimate>-?[\d.]+%)(?: \((?P<low>-?[\d.]+)%–(?P<high>-?[\d.]+)%\))?$")

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
    why: str = "a count not suppressed or rounded"

    def line(self) -> str:
        return f"{self.page}: table {self.table}, column '{self.column}': {self.value} ({self.why})"


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


def _interval(text: str) -> tuple[str, float, float] | None:
    match = FIGURE.match(text)
    if match is None or match["low"] is None:
        return None
    return match["estimate"], float(match["low"]), float(match["high"])


def _disagrees(kind: str, shown: str, expected: str) -> bool:
    """Whether a shown derived figure differs from the one its row's counts give."""
    if kind not in ("wilson_or_wider", "poisson_or_wider") or expected in ("", SUPPRESSED_FIGURE):
        return shown != expected
    got, want = _interval(shown), _interval(expected)
    if got is None or want is None:
        return True
    # The same estimate; an interval at least as wide as the binomial (or Poisson) one.
    return got[0] != want[0] or got[1] > want[1] or got[2] < want[2]


def scan_derived_page(path: Path, name: str | None = None) -> list[Leak]:
    """Derived figures in one page that are undeclared or disagree with the counts shown beside them."""
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    leaks = []
    for number, (attrs, header, rows) in enumerate(parser.tables, start=1):
        declared = json.loads(attrs.get("data-derived") or "{}")
        references = set(filter(None, attrs.get("data-reference-columns", "").split("|")))
        position = {h: i for i, h in enumerate(header)}
        for i, column in enumerate(header):
            if column in declared or column in references:
                continue
            shown = [row[i] for row in rows if i < len(row) and PERCENT.search(row[i])]
            if shown:
                why = "a derived figure whose counts the table does not declare"
                leaks.append(Leak(name or path.name, number, column, shown[0], why))
        for column, (kind, numerator, denominator, method) in declared.items():
            if column not in position:
                continue
            for row in rows:
                if method is not None:
                    kind = INTERVAL_METHODS.get(row[position[method]])
                    if kind is None:
                        why = f"no known interval named in column '{method}'"
                        leaks.append(Leak(name or path.name, number, column, row[0], why))
                        continue
                cells = [row[position[c]] for c in [column, numerator, *denominator]]
                k = shown_number(cells[1])
                parts = [shown_number(c) for c in cells[2:]]
                n = None if any(p is None for p in parts) else sum(parts)
                expected = derived_figure(kind, k, n)
                if _disagrees(kind, cells[0], expected):
                    why = f"the counts shown beside it give {expected or 'nothing'}"
                    leaks.append(Leak(name or path.name, number, column, cells[0], why))
    return leaks


def scan_book(html_dir: Path, settings: DisclosureSettings) -> list[Leak]:
    """Leaks in every page of a built book: counts that escaped control (when it is on) and derived
    figures that disagree with the counts shown beside them (always)."""
    leaks = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts:
            continue
        name = str(page.relative_to(html_dir))
        if settings.enabled:
            leaks += scan_page(page, settings, name)
        leaks += scan_derived_page(page, name)
    return leaks
