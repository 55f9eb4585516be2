"""Confidence intervals the record uses: Wilson for proportions, exact Poisson for observed/expected."""

from __future__ import annotations

import numpy as np


def wilson(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score intervals for k successes of n (NaN where n is 0)."""
    from statsmodels.stats.proportion import proportion_confint

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    safe = np.where(n > 0, n, 1)
    low, high = proportion_confint(k, safe, alpha=0.05, method="wilson")
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def poisson_ratio(observed: float, expected: float) -> tuple[float, float]:
    """The exact 95% Poisson interval of observed/expected (Garwood, via chi-square)."""
    from scipy.stats import chi2

    low = chi2.ppf(0.025, 2 * observed) / 2 if observed > 0 else 0.0
    high = chi2.ppf(0.975, 2 * (observed + 1)) / 2
    return float(low / expected), float(high / expected)
