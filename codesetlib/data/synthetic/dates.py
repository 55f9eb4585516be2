"""Dates as day numbers (days since 1970-01-01), the form every array of the generator uses."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NO_DATE = np.int64(2**31 - 1)  # "never": no death, no end of registration
DEFAULT_DATE = dt.date(1900, 1, 1)  # the date some systems give historic entries without one
DAYS_PER_YEAR = 365.25


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01."""
    return (date - EPOCH).days


def years_to_days(years: np.ndarray | float) -> np.ndarray:
    """A length of time in years as whole days."""
    return np.round(np.asarray(years) * DAYS_PER_YEAR).astype(np.int64)
