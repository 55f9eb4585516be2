"""Statistical disclosure control for every aggregate the record shows.

Counts at or below a threshold are suppressed and the rest rounded to a base, so that no small number
of patients can be recognised from a published table. On by default; the settings travel with the
table so the record can state them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from codesetlib.core.intervals import poisson_ratio, wilson
from codesetlib.core.models import StrictModel

SUPPRESSED = "≤{threshold}"


class DisclosureSettings(StrictModel):
    """How aggregates are protected: suppress counts ≤ `threshold`, round the rest to `rounding`."""

    enabled: bool = True
    threshold: int = Field(default=7, ge=0)
    rounding: int = Field(default=5, ge=1)

    def describe(self) -> str:
        if not self.enabled:
            return "Disclosure control was switched OFF for this output: counts are exact."
        return (
            f"Counts of {self.threshold} or fewer are suppressed (shown as "
            f"'{SUPPRESSED.format(threshold=self.threshold)}'); other counts are rounded to the "
            f"nearest {self.rounding}."
        )


def protect_counts(
    table: pd.DataFrame, columns: list[str], settings: DisclosureSettings | None = None
) -> pd.DataFrame:
    """A copy of `table` with each count column suppressed and rounded as `settings` say.

    Protected columns become text so a suppressed cell reads as such rather than as a number.
    """
    settings = settings or DisclosureSettings()
    out = table.copy()
    if not settings.enabled:
        return out
    label = SUPPRESSED.format(threshold=settings.threshold)
    for column in columns:
        counts = out[column].astype("Int64")
        rounded = (counts / settings.rounding).round().astype("Int64") * settings.rounding
        shown = rounded.astype("string").where(counts > settings.threshold, label)
        out[column] = shown.where(counts > 0, "0")
    return out


def suppressed_cells(
    counts: pd.DataFrame, settings: DisclosureSettings | None = None
) -> pd.DataFrame:
    """Which cells of a table of counts with margins must be hidden: a boolean frame like `counts`.

    `counts` holds the inner cells only (rows × columns); its margins are the row totals, the column
    totals and the grand total. Primary suppression hides every count from 1 to the threshold.
    Secondary suppression then hides the next-smallest cell of any row, column or margin that would
    otherwise hold exactly one hidden cell (which its total would give away by subtraction), and of
    any line whose hidden cells the other equations would still pin down, until no hidden count can
    be recomputed from what is shown.
    """
    settings = settings or DisclosureSettings()
    full = with_margins(counts)
    hidden = (full > 0) & (full <= settings.threshold)
    if not settings.enabled:
        return hidden & False
    lines = margin_equations(full.shape)
    values = full.to_numpy().ravel()
    mask = hidden.to_numpy().ravel().copy()
    while True:
        changed = False
        for line in lines:
            if mask[line].sum() == 1:
                _hide_next_smallest(line, values, mask)
                changed = True
        determined = recoverable_cells(lines, mask, full.size)
        for cell in determined:
            changed |= any(_hide_next_smallest(ln, values, mask) for ln in lines if cell in ln)
        if not changed:
            break
    return pd.DataFrame(mask.reshape(full.shape), index=full.index, columns=full.columns)


def with_margins(counts: pd.DataFrame) -> pd.DataFrame:
    """The table with a `Total` column of row totals and a `Total` row of column totals."""
    full = counts.astype("int64").copy()
    full["Total"] = full.sum(axis=1)
    full.loc["Total"] = full.sum(axis=0)
    return full


def margin_equations(shape: tuple[int, int]) -> list[list[int]]:
    """Each additive relation of a table with margins, as the flat indices of its cells.

    Every row (cells then its total) and every column (cells then its total) sums to its margin.
    """
    n_rows, n_cols = shape
    rows = [[r * n_cols + c for c in range(n_cols)] for r in range(n_rows)]
    cols = [[r * n_cols + c for r in range(n_rows)] for c in range(n_cols)]
    return rows + cols


def equation_matrix(lines: list[list[int]], size: int) -> np.ndarray:
    """The relations as a matrix: each line's cells sum to its last cell (the margin)."""
    matrix = np.zeros((len(lines), size))
    for i, line in enumerate(lines):
        matrix[i, line[:-1]] = 1
        matrix[i, line[-1]] = -1
    return matrix


def recoverable_cells(lines: list[list[int]], hidden: np.ndarray, size: int) -> list[int]:
    """Hidden cells whose value the shown cells and the margin equations determine exactly.

    A hidden cell is determined when every solution of the equations in the hidden cells agrees on
    it, i.e. when every vector of the null space is zero there.
    """
    unknown = np.flatnonzero(hidden)
    if len(unknown) == 0:
        return []
    matrix = equation_matrix(lines, size)[:, unknown]
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    if len(null_space) == 0:
        return [int(c) for c in unknown]
    free = np.abs(null_space).max(axis=0) > 1e-9
    return [int(c) for c, f in zip(unknown, free, strict=True) if not f]


def _hide_next_smallest(line: list[int], values: np.ndarray, hidden: np.ndarray) -> bool:
    """Hide the smallest shown cell of `line`, preferring non-zero counts; False if none is left."""
    shown = [c for c in line if not hidden[c]]
    if not shown:
        return False
    nonzero = [c for c in shown if values[c] > 0] or shown
    hidden[min(nonzero, key=lambda c: (values[c], c))] = True
    return True


def protect_table(counts: pd.DataFrame, settings: DisclosureSettings | None = None) -> pd.DataFrame:
    """A table of counts with margins, as text, with primary and secondary suppression and rounding.

    Shown counts (margins included) are rounded independently; hidden ones read `≤threshold` for a
    primary suppression and `[c]` (complementary) for a secondary one, so the reader can tell them
    apart without learning anything about the value.
    """
    settings = settings or DisclosureSettings()
    full = with_margins(counts)
    if not settings.enabled:
        return full.astype("string")
    hidden = suppressed_cells(counts, settings)
    primary = (full > 0) & (full <= settings.threshold)
    rounded = (full / settings.rounding).round().astype("int64") * settings.rounding
    shown = rounded.astype("string")
    shown = shown.mask(hidden, "[c]")
    return shown.mask(primary, SUPPRESSED.format(threshold=settings.threshold))


# Figures derived from counts (proportions, intervals, ratios) are computed from the counts as shown,
# never from the exact ones: a proportion of exact counts next to rounded counts gives the exact counts
# back, and a suppressed cell with them. A table declares how each derived column follows from its
# count columns (`Derived`), and the record's scan recomputes every one from what the page shows.

SUPPRESSED_FIGURE = "suppressed"
DerivedKind = Literal[
    "proportion", "wilson", "wilson_or_wider", "ratio", "poisson_or_wider", "change"
]


@dataclass(frozen=True)
class Derived:
    """How a shown figure follows from count columns shown in the same row.

    `proportion`: numerator / sum(denominator) in per cent; `wilson`: the same with its 95% Wilson
    interval; `wilson_or_wider`: an interval at least as wide as Wilson's (e.g. cluster-robust);
    `ratio`: observed / expected; `poisson_or_wider`: that ratio with an interval at least as wide as
    the exact Poisson one; `change`: the relative change from the denominator (before) to the
    numerator (after), signed. Each is blank where the denominator is 0 and suppressed where a count it
    uses is.
    """

    kind: DerivedKind
    numerator: str
    denominator: tuple[str, ...]
    # Where rows differ in their interval: a column naming it per row (a key of INTERVAL_METHODS).
    method_column: str | None = None

    def as_json(self) -> list:
        return [self.kind, self.numerator, list(self.denominator), self.method_column]


# The interval a row's method column names, as the derived kind it gives.
INTERVAL_METHODS: dict[str, DerivedKind] = {
    "Wilson": "wilson_or_wider",
    "exact Poisson": "poisson_or_wider",
}


def shown_number(text: object) -> float | None:
    """The number a reader sees in a shown cell; None where it is suppressed or not a number."""
    value = str(text).replace(",", "").strip()
    try:
        return float(value)
    except ValueError:
        return None


def shown_numbers(column: pd.Series) -> pd.Series:
    """A shown (protected) count column as numbers, NaN where a cell is suppressed."""
    numbers = pd.to_numeric(column.astype("string").str.replace(",", ""), errors="coerce")
    return numbers.astype("float64")


def percent(value: float) -> str:
    return f"{value:.1%}"


def with_interval(estimate: float, low: float, high: float) -> str:
    return f"{percent(estimate)} ({percent(low)}–{percent(high)})"


def derived_figure(
    kind: DerivedKind,
    numerator: float | None,
    denominator: float | None,
    widen: tuple[float, float] | None = None,
) -> str:
    """A derived figure as the record shows it, from shown counts (None where suppressed).

    `widen` gives the lower and upper half-widths of a wider interval (e.g. cluster-robust) to apply
    around the estimate when it is wider than the Wilson or Poisson one.
    """
    if numerator is None or denominator is None or pd.isna(numerator) or pd.isna(denominator):
        return SUPPRESSED_FIGURE
    if denominator == 0:
        return ""
    estimate = numerator / denominator
    if kind == "change":
        return f"{estimate - 1:+.1%}"
    if kind in ("proportion", "ratio"):
        return percent(estimate)
    if kind in ("wilson", "wilson_or_wider"):
        low, high = (float(v[0]) for v in wilson(np.array([numerator]), np.array([denominator])))
    else:
        low, high = poisson_ratio(numerator, denominator)
    if widen is not None and kind in ("wilson_or_wider", "poisson_or_wider"):
        low = max(min(low, estimate - widen[0]), 0.0)
        high = max(high, estimate + widen[1])
    return with_interval(estimate, low, high)


def add_derived(
    shown: pd.DataFrame, column: str, derived: Derived, widen: list | None = None
) -> pd.DataFrame:
    """Add `column` to a table of shown counts, computed from them as `derived` says, and declare it.

    The declaration travels in the frame's `attrs` to `html_table`, which writes it into the page for
    the disclosure scan.
    """
    numerators = shown_numbers(shown[derived.numerator])
    denominators = sum(shown_numbers(shown[c]) for c in derived.denominator)
    widths = widen if widen is not None else [None] * len(shown)
    kinds = (
        shown[derived.method_column].map(INTERVAL_METHODS)
        if derived.method_column
        else [derived.kind] * len(shown)
    )
    shown[column] = [
        derived_figure(kind, k, n, w)
        for kind, k, n, w in zip(kinds, numerators, denominators, widths, strict=True)
    ]
    shown.attrs["derived"] = {**shown.attrs.get("derived", {}), column: derived}
    return shown
