"""The documented date arithmetic, and that the DuckDB plan does the same."""

import datetime as dt

import ibis
import pandas as pd
import pytest

from codesetlib.cohorts.dates import Offset, add_offset, age_on, interval_starts
from codesetlib.cohorts.model import Window
from codesetlib.cohorts.plan import shifted

D = dt.date

CASES = [
    (D(2023, 1, 31), "1 month", D(2023, 2, 28)),
    (D(2024, 1, 31), "1 month", D(2024, 2, 29)),
    (D(2024, 3, 31), "-1 month", D(2024, 2, 29)),
    (D(2024, 2, 29), "1 year", D(2025, 2, 28)),
    (D(2024, 2, 29), "-4 years", D(2020, 2, 29)),
    (D(2024, 3, 31), "-13 months", D(2023, 2, 28)),
    (D(2024, 12, 31), "2 months", D(2025, 2, 28)),
    (D(2024, 3, 1), "-1 day", D(2024, 2, 29)),
    (D(2023, 3, 1), "-1 day", D(2023, 2, 28)),
]


@pytest.mark.parametrize(("date", "offset", "expected"), CASES)
def test_months_and_years_clamp_to_the_month_end(date, offset, expected):
    assert add_offset(date, Offset.model_validate(offset)) == expected


def test_duckdb_does_the_same_arithmetic():
    frame = pd.DataFrame({"date": [c[0] for c in CASES]})
    table = ibis.memtable(frame, schema={"date": "date"})
    shifts = {
        f"s{i}": shifted(table.date, Offset.model_validate(c[1])) for i, c in enumerate(CASES)
    }
    row = ibis.duckdb.connect().execute(table.mutate(**shifts))
    for i, (_, _, expected) in enumerate(CASES):
        assert row[f"s{i}"].dt.date.iloc[i] == expected


def test_a_leap_day_birthday_comes_on_1_march_in_other_years():
    assert age_on(D(2000, 2, 29), D(2023, 2, 28)) == 22
    assert age_on(D(2000, 2, 29), D(2023, 3, 1)) == 23
    assert age_on(D(2000, 2, 29), D(2024, 2, 29)) == 24


def test_windows_read_as_written():
    assert Window.model_validate("15 months before") == Window(start="-15 months", end="0 days")
    assert Window.model_validate("30 days after") == Window(start="0 days", end="30 days")
    assert Window.model_validate("ever before") == Window(start=None, end="0 days")
    with pytest.raises(ValueError, match="starts"):
        Window(start="1 month", end="-1 month")
    with pytest.raises(ValueError, match="not a window"):
        Window.model_validate("recently")


def test_interval_starts_step_by_calendar_months():
    starts = interval_starts(D(2024, 1, 1), D(2024, 12, 31), "quarterly")
    assert starts == [D(2024, 1, 1), D(2024, 4, 1), D(2024, 7, 1), D(2024, 10, 1)]
    assert len(interval_starts(D(2024, 1, 1), D(2024, 12, 1), "monthly")) == 12
