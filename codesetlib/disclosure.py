"""Statistical disclosure control for every aggregate the record shows.

Counts at or below a threshold are suppressed and the rest rounded to a base, so that no small number
of patients can be recognised from a published table. On by default; the settings travel with the
table so the record can state them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

SUPPRESSED = "≤{threshold}"


class DisclosureSettings(BaseModel):
    """How aggregates are protected: suppress counts ≤ `threshold`, round the rest to `rounding`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
