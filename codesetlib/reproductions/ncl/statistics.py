"""Each measure's estimate over practices and its 95% interval, and the summary beside the
published figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from codesetlib.core.intervals import wilson
from codesetlib.reproductions.ncl.published import PUBLISHED


def clustered_interval(
    numerator: np.ndarray, denominator: np.ndarray
) -> tuple[float, float, float]:
    """A ratio of sums over practices with a 95% interval that allows for practices differing.

    Patients of one practice are coded alike, so a proportion over many practices varies more than a
    binomial one would; the variance is the ratio estimator's over practices (a cluster-robust
    interval), never narrower than the binomial (Wilson or exact Poisson) one."""
    k, n = np.asarray(numerator, float), np.asarray(denominator, float)
    ratio = k.sum() / n.sum()
    clusters = len(k)
    spread = np.sum((k - ratio * n) ** 2) * clusters / max(clusters - 1, 1)
    half = 1.959963984540054 * np.sqrt(spread) / n.sum()
    return ratio, max(ratio - half, 0.0), ratio + half


def estimate(table: pd.DataFrame) -> tuple[float, float, float, float, float]:
    """Numerator, denominator, estimate and 95% interval of a measure given by practice.

    The interval is the wider of a cluster-robust one over practices and the binomial one (Wilson for
    proportions, exact Poisson for observed over expected)."""
    if "expected" in table:
        k, n = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
        o, e = k.sum(), n.sum()
        simple = (
            (chi2.ppf(0.025, 2 * o) / 2 if o else 0.0) / e,
            chi2.ppf(0.975, 2 * (o + 1)) / 2 / e,
        )
    else:
        k, n = table["numerator"].to_numpy(float), table["denominator"].to_numpy(float)
        lo, hi = wilson(np.array([k.sum()]), np.array([n.sum()]))
        simple = (float(lo[0]), float(hi[0]))
    ratio, c_low, c_high = clustered_interval(k, n)
    return k.sum(), n.sum(), ratio, min(c_low, simple[0]), max(c_high, simple[1])


def summary(measures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each published figure beside the reproduced one with its 95% interval (see `estimate`), and
    whether the interval holds the published value."""
    rows = []
    for fig in PUBLISHED:
        table = measures[fig.measure]
        k, n, ratio, low, high = estimate(table)
        recovered = None if fig.value is None else bool(low <= fig.value <= high)
        rows.append(
            {
                "measure": fig.measure,
                "label": fig.label,
                "published": fig.value,
                "published_words": fig.words,
                "numerator": k,
                "denominator": n,
                "practices": len(table),
                "reproduced": ratio,
                "low": low,
                "high": high,
                "interval": "exact Poisson" if "expected" in table else "Wilson",
                "recovered": recovered,
            }
        )
    return pd.DataFrame(rows)
