"""Measures in one pass, their protection, funnel limits and the figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from codesetlib.cohorts import CohortDefinition, DuckDBEngine, PandasReference
from codesetlib.cohorts.measures import (
    Intervals,
    Measure,
    compute_measure,
    decile_chart,
    deciles,
    funnel_limits,
    funnel_plot,
    protect_measure,
)
from codesetlib.core.disclosure import DisclosureSettings
from tests.spec import dataset
from tests.spec.measures.test_intervals import CONTROL_MEASURE

D = dt.date


@pytest.fixture
def measure() -> Measure:
    return Measure(
        id="hba1c_control",
        definition=CohortDefinition.model_validate(CONTROL_MEASURE),
        numerator="hba1c_controlled",
        group_by=["practice_id"],
        intervals=Intervals(start=D(2024, 1, 1), end=D(2024, 3, 31)),
    )


def test_monthly_intervals_end_on_the_last_day_of_each_month():
    starts, ends = Intervals(start=D(2024, 1, 1), end=D(2024, 3, 31)).bounds()
    assert starts == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert ends == [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31)]
    _, yearly = Intervals(start=D(2023, 1, 1), end=D(2024, 12, 31), frequency="yearly").bounds()
    assert yearly == [D(2023, 12, 31), D(2024, 12, 31)]


def test_every_interval_is_computed_in_one_query(tmp_path, measure):
    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    queries = []
    run = engine.run_sql
    engine.run_sql = lambda sql: queries.append(sql) or run(sql)
    table = compute_measure(measure, dataset.CODESETS, engine)
    assert len(queries) == 1
    assert "interval_start" in queries[0]
    march = table[table["interval_start"] == pd.Timestamp(2024, 3, 1)]
    assert march["ratio"].tolist() == [1.0, 0.5]


def test_the_reference_gives_the_same_measure(tmp_path, measure):
    data = dataset.write_tables(tmp_path)
    duck = compute_measure(measure, dataset.CODESETS, DuckDBEngine(data))
    ref = compute_measure(measure, dataset.CODESETS, PandasReference.from_dataset(data))
    assert dataset.records(duck) == dataset.records(ref)


def test_protected_ratios_come_from_shown_counts_and_hide_with_them():
    table = pd.DataFrame({"numerator": [3, 40, 12], "denominator": [50, 80, 12]})
    shown = protect_measure(table)
    assert shown["numerator"].tolist() == ["≤7", "40", "10"]
    assert np.isnan(shown["ratio"].iloc[0])
    assert shown["ratio"].iloc[1] == 0.5
    assert shown["ratio"].iloc[2] == 1.0
    assert protect_measure(table, DisclosureSettings(enabled=False))["numerator"].tolist() == [
        3,
        40,
        12,
    ]


def test_normal_funnel_limits_narrow_with_the_denominator():
    limits = funnel_limits(0.5, np.array([100, 10000]), method="normal")
    # 0.5 ± 1.96·√(0.25/100) = 0.5 ± 0.098
    assert limits["upper_95%"].iloc[0] == pytest.approx(0.598, abs=1e-3)
    assert limits["lower_99.8%"].iloc[1] == pytest.approx(0.5 - 3.090232 * 0.005, abs=1e-6)
    assert funnel_limits(0.01, np.array([10]), method="normal")["lower_95%"].iloc[0] == 0.0


def test_exact_funnel_limits_match_the_interpolated_binomial_worked_by_hand():
    # R ~ Binomial(10, 0.5): P(R ≤ r) = (1, 11, 56, 176, 386, 638, 848, 968, 1013, 1023) / 1024.
    # 97.5%: r = 8 (1013/1024 ≥ 0.975 > 968/1024); α = (1013 − 998.4) / 45; (8 − α) / 10.
    # 2.5%: r = 2 (56/1024 ≥ 0.025 > 11/1024); α = (56 − 25.6) / 45; (2 − α) / 10.
    # 99.9%: r = 9 (1023/1024 ≥ 0.999 > 1013/1024); α = (1023 − 1022.976) / 10.
    # 0.1%: r = 1 (11/1024 ≥ 0.001 > 1/1024); α = (11 − 1.024) / 10.
    limits = funnel_limits(0.5, np.array([10])).iloc[0]
    assert limits["upper_95%"] == pytest.approx((8 - 14.6 / 45) / 10)
    assert limits["lower_95%"] == pytest.approx((2 - 30.4 / 45) / 10)
    assert limits["upper_99.8%"] == pytest.approx((9 - 0.024 / 10) / 10)
    assert limits["lower_99.8%"] == pytest.approx((1 - 9.976 / 10) / 10)


def test_exact_funnel_limits_are_wider_than_normal_ones_for_rare_outcomes():
    # n·p = 2: the normal lower limit is 0 and its upper limit too low.
    exact = funnel_limits(0.02, np.array([100])).iloc[0]
    normal = funnel_limits(0.02, np.array([100]), method="normal").iloc[0]
    assert exact["lower_95%"] == 0.0
    assert exact["upper_99.8%"] > normal["upper_99.8%"]
    # With large denominators the two agree closely.
    big = np.array([100_000])
    assert funnel_limits(0.3, big)["upper_95%"].iloc[0] == pytest.approx(
        funnel_limits(0.3, big, method="normal")["upper_95%"].iloc[0], abs=2e-4
    )


def test_figures_are_titled_and_labelled():
    table = pd.DataFrame(
        {
            "interval_start": [D(2024, 1, 1)] * 3 + [D(2024, 2, 1)] * 3,
            "numerator": [10, 20, 30, 12, 22, 28],
            "denominator": [40, 50, 60, 40, 50, 60],
        }
    )
    table["ratio"] = table["numerator"] / table["denominator"]
    funnel = funnel_plot(table, "HbA1c control by practice").axes[0]
    assert funnel.get_title() == "HbA1c control by practice"
    assert "patients" in funnel.get_xlabel() and "%" in funnel.get_ylabel()
    chart = decile_chart(table, "HbA1c control over time").axes[0]
    assert chart.get_xlabel() and "%" in chart.get_ylabel()
    assert deciles(table)["p50"].tolist() == pytest.approx([0.4, 0.44])
