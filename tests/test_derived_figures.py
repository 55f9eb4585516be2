"""Derived figures (proportions, intervals, ratios) come from the counts as shown, and the record's scan
recomputes every one of them from the counts beside it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesetlib.cohorts.measures import outside_limits
from codesetlib.core.disclosure import (
    SUPPRESSED_FIGURE,
    Derived,
    DisclosureSettings,
    add_derived,
    derived_figure,
    protect_counts,
)
from codesetlib.core.intervals import wilson
from codesetlib.record.book.disclosure_scan import scan_derived_page
from codesetlib.record.book.tables import html_table
from codesetlib.validation.report import protected_accuracy

SENSITIVITY = Derived("wilson", "TP", ("TP", "FN"))


def _page(tmp_path: Path, table: pd.DataFrame) -> Path:
    page = tmp_path / "page.html"
    page.write_text(f"<html><body>{html_table(table)}</body></html>", encoding="utf-8")
    return page


def test_a_proportion_is_computed_from_the_rounded_counts():
    exact = pd.DataFrame({"TP": [1423], "FN": [257]})
    shown = protect_counts(exact, ["TP", "FN"])
    add_derived(shown, "Sensitivity", SENSITIVITY)
    low, high = wilson(np.array([1425]), np.array([1425 + 255]))
    assert shown["Sensitivity"][0] == f"{1425 / 1680:.1%} ({low[0]:.1%}–{high[0]:.1%})"
    assert shown["Sensitivity"][0] != derived_figure("wilson", 1423, 1680)


def test_a_figure_using_a_suppressed_count_is_suppressed_and_one_over_nothing_is_blank():
    shown = protect_counts(pd.DataFrame({"TP": [3, 0], "FN": [40, 0]}), ["TP", "FN"])
    add_derived(shown, "Sensitivity", SENSITIVITY)
    assert shown["Sensitivity"].tolist() == [SUPPRESSED_FIGURE, ""]


def test_the_accuracy_table_derives_every_measure_from_its_shown_cells():
    exact = pd.DataFrame({"practice_id": [1, 2], "tp": [62, 200], "fp": [2, 31]})
    exact = exact.assign(fn=[11, 49], tn=[1330, 5000])
    for name, (num, (a, b)) in {
        "sensitivity": ("tp", ("tp", "fn")),
        "specificity": ("tn", ("tn", "fp")),
        "ppv": ("tp", ("tp", "fp")),
        "npv": ("tn", ("tn", "fn")),
    }.items():
        exact[name] = exact[num] / (exact[a] + exact[b])
    shown = protected_accuracy(exact, DisclosureSettings(), ["practice_id"])
    assert shown.loc[0, "FP"] == "≤7"
    assert shown.loc[0, "Specificity"] == SUPPRESSED_FIGURE
    assert shown.loc[0, "PPV"] == SUPPRESSED_FIGURE
    assert shown.loc[0, "Sensitivity"] == derived_figure("wilson", 60, 70)
    assert list(shown.columns[:1]) == ["Practice"]


def test_the_scan_finds_a_proportion_of_exact_counts_beside_rounded_ones(tmp_path: Path):
    """The recovery the scan exists for: 2 false positives hidden as ≤7, given back by a PPV of exact counts."""
    exact = pd.DataFrame({"TP": [195], "FP": [2]})
    shown = protect_counts(exact, ["TP", "FP"])
    shown["PPV"] = [derived_figure("wilson", 195, 197)]
    shown.attrs["derived"] = {"PPV": Derived("wilson", "TP", ("TP", "FP"))}
    leaks = scan_derived_page(_page(tmp_path, shown))
    assert [(leak.column, leak.value) for leak in leaks] == [("PPV", shown["PPV"][0])]
    assert "suppressed" in leaks[0].why


def test_the_scan_accepts_figures_derived_from_shown_counts(tmp_path: Path):
    shown = protect_counts(pd.DataFrame({"TP": [195, 3], "FP": [20, 40]}), ["TP", "FP"])
    add_derived(shown, "PPV", Derived("wilson", "TP", ("TP", "FP")))
    assert scan_derived_page(_page(tmp_path, shown)) == []


def test_the_scan_refuses_a_percentage_nobody_declared(tmp_path: Path):
    table = pd.DataFrame({"Practice": ["1"], "Share": ["42.0%"]})
    leaks = scan_derived_page(_page(tmp_path, table))
    assert [leak.column for leak in leaks] == ["Share"]
    assert "does not declare" in leaks[0].why


def test_published_figures_are_declared_as_references(tmp_path: Path):
    table = pd.DataFrame({"Measure": ["Ethnicity"], "Published": ["86.5%"]})
    table.attrs["reference_columns"] = ["Published"]
    assert scan_derived_page(_page(tmp_path, table)) == []


def test_a_wider_interval_keeps_the_estimate_and_contains_the_wilson_one(tmp_path: Path):
    shown = protect_counts(pd.DataFrame({"N": [300], "D": [1000]}), ["N", "D"])
    shown["Interval"] = ["Wilson"]
    derived = Derived("wilson_or_wider", "N", ("D",), method_column="Interval")
    add_derived(shown, "Estimate", derived, [(0.05, 0.05)])
    assert shown["Estimate"][0] == "30.0% (25.0%–35.0%)"
    assert scan_derived_page(_page(tmp_path, shown)) == []
    shown["Estimate"] = ["30.0% (29.0%–31.0%)"]  # narrower than Wilson's: not honest
    assert len(scan_derived_page(_page(tmp_path, shown))) == 1


@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=1, max_size=8),
    st.integers(0, 10),
    st.integers(1, 10),
)
def test_no_shown_proportion_gives_back_an_exact_count(rows, threshold, rounding):
    """Whatever the counts and settings, every shown figure is the one the shown counts give."""
    settings = DisclosureSettings(threshold=threshold, rounding=rounding)
    exact = pd.DataFrame(rows, columns=["TP", "FN"])
    shown = protect_counts(exact, ["TP", "FN"], settings)
    add_derived(shown, "Sensitivity", SENSITIVITY)
    for row in shown.itertuples():
        tp, fn = (None if "≤" in str(v) else float(v) for v in (row.TP, row.FN))
        n = None if tp is None or fn is None else tp + fn
        assert row.Sensitivity == derived_figure("wilson", tp, n)


def test_practices_outside_the_limits_are_flagged_and_suppressed_ones_are_not_judged():
    table = pd.DataFrame(
        {"numerator": ["90", "50", "≤7", "10"], "denominator": ["100", "100", "20", "100"]}
    )
    flags = outside_limits(table, overall=0.5)
    assert flags.tolist()[:2] == ["above", ""]
    assert pd.isna(flags[2])
    assert flags[3] == "below"


@pytest.mark.parametrize("kind", ["proportion", "ratio"])
def test_a_ratio_and_a_proportion_are_the_share_in_per_cent(kind):
    assert derived_figure(kind, 45, 56.9) == f"{45 / 56.9:.1%}"
