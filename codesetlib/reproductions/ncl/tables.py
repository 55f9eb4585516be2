"""The reproduction's tables for the record: counts protected, every figure computed from the counts
as shown (`codesetlib.core.disclosure`), so no shown number can give back a suppressed one."""

from __future__ import annotations

import re

import pandas as pd

from codesetlib.cohorts.measures import protect_measure
from codesetlib.core.disclosure import (
    SUPPRESSED_FIGURE,
    Derived,
    DisclosureSettings,
    add_derived,
    protect_counts,
    shown_numbers,
)
from codesetlib.reproductions.ncl.published import label_of


def _shown_counts(
    table: pd.DataFrame, columns: dict[str, str], settings: DisclosureSettings
) -> pd.DataFrame:
    """Counts (possibly sums of expected, so rounded to whole numbers first) protected for the record."""
    exact = pd.DataFrame(
        {name: table[source].round().astype(int) for source, name in columns.items()}
    )
    return protect_counts(exact, list(columns.values()), settings)


def record_table(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The summary for the record: counts protected, each reproduced figure computed from the counts
    as shown, with a 95% interval at least as wide as the binomial (or Poisson) one on them (the
    cluster-robust half-widths of `estimate` are kept where wider)."""
    shown = pd.DataFrame({"Measure": table["label"]})
    shown["Published"] = [
        f"{v:.1%}" if pd.notna(v) else w
        for v, w in zip(table["published"], table["published_words"], strict=True)
    ]
    counts = _shown_counts(
        table, {"numerator": "Numerator", "denominator": "Denominator"}, settings
    )
    shown["Numerator"] = counts["Numerator"]
    shown["Denominator"] = counts["Denominator"]
    shown["Interval"] = table["interval"]
    widen = [
        (r - lo, hi - r)
        for r, lo, hi in zip(table["reproduced"], table["low"], table["high"], strict=True)
    ]
    shown.attrs["count_columns"] = ["Numerator", "Denominator"]
    shown.attrs["reference_columns"] = ["Published"]
    add_derived(
        shown,
        "Reproduced (95% CI)",
        Derived("wilson_or_wider", "Numerator", ("Denominator",), method_column="Interval"),
        widen,
    )
    shown["Published figure in the interval"] = [
        within_interval(published, reproduced)
        for published, reproduced in zip(
            table["published"], shown["Reproduced (95% CI)"], strict=True
        )
    ]
    return shown


def within_interval(published: float | None, reproduced: str) -> str:
    """Whether a published share lies in a shown interval `e% (lo%–hi%)` ("—" with nothing to compare)."""
    match = re.search(r"\((-?[\d.]+)%–(-?[\d.]+)%\)", reproduced)
    if published is None or pd.isna(published) or match is None:
        return "—"
    low, high = float(match[1]) / 100, float(match[2]) / 100
    return "yes" if low - 0.0005 <= published <= high + 0.0005 else "no"


def by_borough(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """One measure by borough, protected, its figure computed from the shown counts (for
    expected-based measures: observed against expected)."""
    if "expected" in table:
        grouped = table.groupby("borough", as_index=False)[["observed", "expected"]].sum()
        shown = protect_counts(
            grouped.assign(observed=grouped["observed"].astype(int)), ["observed"], settings
        )
        shown["expected"] = grouped["expected"].round(1)
        shown = shown.rename(
            columns={"borough": "Borough", "observed": "Observed", "expected": "Expected"}
        )
        shown.attrs["count_columns"] = ["Observed"]
        return add_derived(
            shown, "Observed / expected", Derived("ratio", "Observed", ("Expected",))
        )
    grouped = table.groupby("borough", as_index=False)[["numerator", "denominator"]].sum()
    shown = protect_counts(grouped, ["numerator", "denominator"], settings)
    shown = shown.rename(
        columns={"borough": "Borough", "numerator": "Numerator", "denominator": "Denominator"}
    )
    shown.attrs["count_columns"] = ["Numerator", "Denominator"]
    return add_derived(shown, "Proportion", Derived("proportion", "Numerator", ("Denominator",)))


def funnel_ready(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """Practices whose counts can be shown, as numerator and denominator, for a funnel plot."""
    shown = protect_measure(table, settings)
    numeric = shown.assign(
        numerator=pd.to_numeric(shown["numerator"], errors="coerce"),
        denominator=pd.to_numeric(shown["denominator"], errors="coerce"),
    )
    return numeric.dropna(subset=["numerator", "denominator"])


def fault_table(faults: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The faults' effects for the record: the figure with the correct and the faulty codeset, each
    from its counts as shown, and the bias between the two shown figures in percentage points."""
    shown = pd.DataFrame(
        {
            "Fault": faults["fault"],
            "How it is made": faults["how it is made"],
            "Figure": [label_of(m) for m in faults["measure"]],
        }
    )
    counts = _shown_counts(
        faults,
        {
            "correct_numerator": "Correct: numerator",
            "correct_denominator": "Correct: denominator",
            "faulty_numerator": "Faulty: numerator",
            "faulty_denominator": "Faulty: denominator",
        },
        settings,
    )
    for column in counts:
        shown[column] = counts[column]
    shown.attrs["count_columns"] = list(counts.columns)
    add_derived(
        shown,
        "Correct codeset",
        Derived("proportion", "Correct: numerator", ("Correct: denominator",)),
    )
    add_derived(
        shown,
        "Faulty codeset",
        Derived("proportion", "Faulty: numerator", ("Faulty: denominator",)),
    )
    correct = shown_numbers(counts["Correct: numerator"]) / shown_numbers(
        counts["Correct: denominator"]
    )
    faulty = shown_numbers(counts["Faulty: numerator"]) / shown_numbers(
        counts["Faulty: denominator"]
    )
    shown["Bias (points)"] = [
        f"{100 * (f - c):+.1f}" if pd.notna(f - c) else SUPPRESSED_FIGURE
        for f, c in zip(faulty, correct, strict=True)
    ]
    return shown
