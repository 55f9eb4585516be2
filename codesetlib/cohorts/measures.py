"""Practice-level measures: a numerator over a denominator per interval and group, in one query.

Funnel plots put each practice's proportion against its denominator with 95% and 99.8% control
limits around the overall proportion p. The limits are exact binomial ones, interpolated as in
Spiegelhalter (2005, "Funnel plots for comparing institutional performance", Stat Med 24:1185):
for probability q (0.025/0.975, 0.001/0.999), r_q is the smallest count r with P(R ≤ r) ≥ q for
R ~ Binomial(n, p), α = (P(R ≤ r_q) − q) / (P(R ≤ r_q) − P(R ≤ r_q − 1)), and the limit is
(r_q − α) / n. The normal approximation p ± z·√(p(1−p)/n), clipped to [0, 1], is kept as an option;
it is too narrow for small denominators (n·p < 5). Decile charts show the 10th to 90th percentiles of
the practices' proportions over time, with the median bold.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from codesetlib.cohorts.dates import Offset, add_offset, interval_starts
from codesetlib.cohorts.model import CodesetCodes, CohortDefinition
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.models import StrictModel

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CONTROL_LIMITS = {"95%": 1.959964, "99.8%": 3.090232}
# The lower and upper tail probabilities of each control limit.
CONTROL_PROBABILITIES = {"95%": (0.025, 0.975), "99.8%": (0.001, 0.999)}


class Intervals(StrictModel):
    """Calendar intervals from `start` to `end`: monthly, quarterly or yearly."""

    start: dt.date
    end: dt.date
    frequency: Literal["monthly", "quarterly", "yearly"] = "monthly"

    @model_validator(mode="after")
    def _start_before_end(self) -> Intervals:
        if self.start > self.end:
            raise ValueError(f"intervals start {self.start} after they end {self.end}")
        return self

    def bounds(self) -> tuple[list[dt.date], list[dt.date]]:
        """The first and last day of each interval."""
        starts = interval_starts(self.start, self.end, self.frequency)
        months = {"monthly": 1, "quarterly": 3, "yearly": 12}[self.frequency]
        ends = [
            add_offset(s, Offset(amount=months, unit="months")) - dt.timedelta(days=1)
            for s in starts
        ]
        return starts, ends


class Measure(StrictModel):
    """A measure: of the definition's population, the share with `numerator` true, by group."""

    id: str
    definition: CohortDefinition
    numerator: str
    denominator: str | None = None
    group_by: list[str] = Field(default_factory=lambda: ["practice_id"])
    intervals: Intervals


class MeasureEngine(Protocol):
    def measure(
        self,
        definition: CohortDefinition,
        codesets: Mapping[str, CodesetCodes],
        *,
        numerator: str,
        denominator: str | None,
        group_by: list[str],
        interval_starts: list[dt.date],
        interval_ends: list[dt.date],
    ) -> pd.DataFrame: ...


def compute_measure(
    measure: Measure, codesets: Mapping[str, CodesetCodes], engine: MeasureEngine
) -> pd.DataFrame:
    """Numerator, denominator and ratio per interval and group, every interval in one pass."""
    starts, ends = measure.intervals.bounds()
    table = engine.measure(
        measure.definition,
        codesets,
        numerator=measure.numerator,
        denominator=measure.denominator,
        group_by=list(measure.group_by),
        interval_starts=starts,
        interval_ends=ends,
    )
    table["ratio"] = table["numerator"] / table["denominator"]
    return table


def protect_measure(
    table: pd.DataFrame, settings: DisclosureSettings | None = None
) -> pd.DataFrame:
    """The measure with numerator and denominator protected; the ratio from the rounded counts.

    The ratio is hidden (NaN) wherever either count is suppressed, so it cannot give one back.
    """
    settings = settings or DisclosureSettings()
    shown = protect_counts(table, ["numerator", "denominator"], settings)
    if not settings.enabled:
        return shown
    numerator = pd.to_numeric(shown["numerator"], errors="coerce")
    denominator = pd.to_numeric(shown["denominator"], errors="coerce")
    shown["ratio"] = (numerator / denominator.where(denominator > 0)).astype("float64")
    return shown


def exact_binomial_limit(
    probability: float, overall: float, denominators: np.ndarray
) -> np.ndarray:
    """The proportion below which a share `probability` of Binomial(n, overall) counts fall, at
    each n, interpolated between counts as Spiegelhalter (2005) does so the funnel is smooth."""
    from scipy.stats import binom

    n = np.asarray(denominators, dtype="float64")
    r = binom.ppf(probability, n, overall)
    at = binom.cdf(r, n, overall)
    below = binom.cdf(r - 1, n, overall)
    step = at - below
    alpha = np.divide(at - probability, step, out=np.zeros_like(n), where=step > 0)
    return np.clip((r - alpha) / n, 0, 1)


def funnel_limits(
    overall: float, denominators: np.ndarray, method: Literal["exact", "normal"] = "exact"
) -> pd.DataFrame:
    """Lower and upper 95% and 99.8% control limits at each (whole) denominator.

    `exact` gives the interpolated exact binomial limits; `normal` the normal approximation.
    """
    n = np.asarray(denominators, dtype="float64")
    columns = {"denominator": n}
    for label, (low, high) in CONTROL_PROBABILITIES.items():
        if method == "exact":
            columns[f"lower_{label}"] = exact_binomial_limit(low, overall, n)
            columns[f"upper_{label}"] = exact_binomial_limit(high, overall, n)
        else:
            spread = CONTROL_LIMITS[label] * np.sqrt(overall * (1 - overall) / n)
            columns[f"lower_{label}"] = np.clip(overall - spread, 0, 1)
            columns[f"upper_{label}"] = np.clip(overall + spread, 0, 1)
    return pd.DataFrame(columns)


def outside_limits(table: pd.DataFrame, overall: float, limit: str = "99.8%") -> pd.Series:
    """For each group with shown counts: "above" or "below" where its proportion lies outside the
    exact control limits at its denominator, "" inside them, NaN where a count is not shown."""
    numerator = pd.to_numeric(table["numerator"], errors="coerce")
    denominator = pd.to_numeric(table["denominator"], errors="coerce")
    known = numerator.notna() & denominator.notna() & (denominator > 0)
    limits = funnel_limits(overall, denominator[known].to_numpy(float))
    share = (numerator[known] / denominator[known]).to_numpy(float)
    flags = np.select(
        [share > limits[f"upper_{limit}"], share < limits[f"lower_{limit}"]], ["above", "below"], ""
    )
    out = pd.Series(np.nan, index=table.index, dtype="object")
    out[known] = flags
    return out


def funnel_plot(table: pd.DataFrame, title: str, *, unit: str = "patients") -> Figure:
    """Each group's proportion (%) against its denominator, with exact 95% and 99.8% limits."""
    counts = table.dropna(subset=["numerator", "denominator"])
    counts = counts[pd.to_numeric(counts["denominator"], errors="coerce") > 0]
    numerator = pd.to_numeric(counts["numerator"]).to_numpy(float)
    denominator = pd.to_numeric(counts["denominator"]).to_numpy(float)
    overall = numerator.sum() / denominator.sum()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    # Whole denominators only: the exact binomial limits are defined at counts of patients.
    grid = np.unique(np.linspace(max(denominator.min(), 1), denominator.max() * 1.05, 200).round())
    limits = funnel_limits(overall, grid)
    for label, style in (("95%", "--"), ("99.8%", ":")):
        axes.plot(
            grid, 100 * limits[f"lower_{label}"], "k" + style, label=f"{label} limits (exact)"
        )
        axes.plot(grid, 100 * limits[f"upper_{label}"], "k" + style)
    axes.axhline(100 * overall, color="grey", label=f"overall {100 * overall:.1f}%")
    axes.scatter(denominator, 100 * numerator / denominator, zorder=3, label="practice")
    axes.set(
        title=textwrap.fill(title, 64), xlabel=f"Denominator ({unit})", ylabel="Proportion (%)"
    )
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


def deciles(table: pd.DataFrame, by: str = "interval_start") -> pd.DataFrame:
    """The 10th, 20th, …, 90th percentiles of the groups' ratios in each interval."""
    ratios = table.dropna(subset=["ratio"]).groupby(by)["ratio"]
    quantiles = ratios.quantile([q / 10 for q in range(1, 10)]).unstack()
    quantiles.columns = [f"p{round(q * 100)}" for q in quantiles.columns]
    return quantiles.reset_index()


def decile_chart(table: pd.DataFrame, title: str) -> Figure:
    """Deciles of the practices' ratios (%) over time; the median solid, the others dashed."""
    quantiles = deciles(table)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    x = pd.to_datetime(quantiles["interval_start"])
    for column in quantiles.columns[1:]:
        median = column == "p50"
        axes.plot(
            x,
            100 * quantiles[column],
            color="tab:blue",
            linestyle="-" if median else "--",
            linewidth=2 if median else 0.8,
            label="median" if median else ("deciles" if column == "p10" else None),
        )
    axes.set(
        title=textwrap.fill(title, 64),
        xlabel="Interval start (date)",
        ylabel="Proportion of patients (%)",
    )
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure
