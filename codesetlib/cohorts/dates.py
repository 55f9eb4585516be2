"""Date arithmetic for cohort windows, defined once so that every engine agrees with it.

- An offset is a whole number of days, months or years added to a date.
- Adding months or years keeps the day of the month, clamped to the last day of the target month:
  31 Jan + 1 month = 28 Feb (29 Feb in a leap year); 29 Feb 2024 + 1 year = 28 Feb 2025;
  31 Mar − 1 month = 28/29 Feb. (This is what DuckDB, Spark SQL and pandas' DateOffset all do.)
- A window runs from index date + start to index date + end, INCLUSIVE at both ends, so an event on
  the index date is "before" it and "after" it; an open end is unbounded.
- Age is in whole years on the index date; someone born on 29 Feb turns a year older on 1 Mar in a
  year without a 29 Feb.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

from pydantic import model_validator

from codesetlib.core.models import StrictModel

Unit = Literal["days", "months", "years"]
# Average lengths, only to check that a window's start does not come after its end.
APPROXIMATE_DAYS = {"days": 1.0, "months": 30.44, "years": 365.25}
OFFSET_TEXT = re.compile(r"^\s*([+-]?\d+)\s*(day|days|month|months|year|years)\s*$")


class Offset(StrictModel):
    """A signed number of days, months or years from the index date, written e.g. `-15 months`."""

    amount: int
    unit: Unit = "days"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            match = OFFSET_TEXT.match(value)
            if not match:
                raise ValueError(f"not an offset like '-15 months' or '30 days': {value!r}")
            unit = match.group(2) if match.group(2).endswith("s") else match.group(2) + "s"
            return {"amount": int(match.group(1)), "unit": unit}
        return value

    def approximate_days(self) -> float:
        return self.amount * APPROXIMATE_DAYS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.unit}"


def add_offset(date: dt.date, offset: Offset) -> dt.date:
    """`date` moved by `offset`, clamping the day to the end of the month for months and years."""
    if offset.unit == "days":
        return date + dt.timedelta(days=offset.amount)
    months = offset.amount * (12 if offset.unit == "years" else 1)
    month_index = date.year * 12 + date.month - 1 + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(date.day, last_day))


def age_on(date_of_birth: dt.date, date: dt.date) -> int:
    """Whole years from `date_of_birth` to `date`."""
    before_birthday = (date.month, date.day) < (date_of_birth.month, date_of_birth.day)
    return date.year - date_of_birth.year - int(before_birthday)


def interval_starts(start: dt.date, end: dt.date, frequency: str) -> list[dt.date]:
    """The first day of each interval (`monthly`, `quarterly`, `yearly`) that begins in [start, end]."""
    step = {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
    starts, k = [], 0
    while (next_start := add_offset(start, Offset(amount=k * step, unit="months"))) <= end:
        starts.append(next_start)
        k += 1
    return starts
