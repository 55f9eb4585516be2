import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesetlib.core.disclosure import (
    DisclosureSettings,
    protect_counts,
    protect_table,
    with_margins,
)


def test_small_counts_are_suppressed_and_the_rest_rounded():
    table = pd.DataFrame({"code": list("abcdef"), "patients": [0, 1, 7, 8, 12, 13]})
    shown = protect_counts(table, ["patients"])
    assert shown["patients"].tolist() == ["0", "≤7", "≤7", "10", "10", "15"]
    assert table["patients"].tolist() == [0, 1, 7, 8, 12, 13], "the input is left alone"


def test_the_threshold_and_rounding_are_configurable():
    table = pd.DataFrame({"n": [3, 4, 11]})
    shown = protect_counts(table, ["n"], DisclosureSettings(threshold=3, rounding=10))
    assert shown["n"].tolist() == ["≤3", "0", "10"]


def test_switching_it_off_is_stated():
    settings = DisclosureSettings(enabled=False)
    table = pd.DataFrame({"n": [1, 2]})
    assert protect_counts(table, ["n"], settings)["n"].tolist() == [1, 2]
    assert "OFF" in settings.describe()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="rounding"):
        DisclosureSettings(rounding=0)


def subtraction_attack(shown: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Recover hidden cells as an intruder would: any row or column with one unknown gives it away.

    Works on exact counts (rounding 1) and repeats until nothing more falls out.
    """
    known = {
        (r, c): int(shown.loc[r, c])
        for r in shown.index
        for c in shown.columns
        if str(shown.loc[r, c]).isdigit()
    }
    inner_rows = [r for r in shown.index if r != "Total"]
    inner_cols = [c for c in shown.columns if c != "Total"]
    lines = [([(r, c) for c in inner_cols], (r, "Total")) for r in shown.index]
    lines += [([(r, c) for r in inner_rows], ("Total", c)) for c in shown.columns]
    recovered: dict[tuple[str, str], int] = {}
    progress = True
    while progress:
        progress = False
        for parts, total in lines:
            unknown = [cell for cell in [*parts, total] if cell not in known]
            if len(unknown) != 1:
                continue
            (cell,) = unknown
            value = (
                sum(known[p] for p in parts)
                if cell == total
                else known[total] - sum(known[p] for p in parts if p != cell)
            )
            known[cell] = recovered[cell] = value
            progress = True
    return recovered


EXACT = DisclosureSettings(threshold=7, rounding=1)


def test_a_lone_small_cell_takes_the_next_smallest_of_its_row_and_column_with_it():
    counts = pd.DataFrame({"female": [3, 40, 50], "male": [20, 30, 60]}, index=["A", "B", "C"])
    shown = protect_table(counts, EXACT)
    assert shown.loc["A", "female"] == "≤7"
    # Row A would give 3 back as 23 − 20, column female as 93 − 40 − 50: both need a partner.
    assert shown.loc["A", "male"] == "[c]"
    assert shown.loc["B", "female"] == "[c]"
    assert shown.loc["B", "male"] == "[c]"
    assert subtraction_attack(shown) == {}


def test_a_table_without_small_counts_is_shown_whole():
    counts = pd.DataFrame({"x": [10, 20], "y": [30, 40]}, index=["A", "B"])
    shown = protect_table(counts, EXACT)
    assert shown.loc["Total", "Total"] == "100"
    assert not shown.isin(["[c]", "≤7"]).any().any()


def test_small_margins_are_protected_too():
    counts = pd.DataFrame({"x": [2, 30], "y": [3, 40]}, index=["A", "B"])
    shown = protect_table(counts, EXACT)
    # Row A's total (5) is small, so the row of column totals must not reveal it.
    assert shown.loc["A", "Total"] == "≤7"
    assert subtraction_attack(shown) == {}


@given(
    st.integers(1, 5).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(0, 40), min_size=cols, max_size=cols), min_size=1, max_size=6
        )
    )
)
def test_no_suppressed_cell_can_be_recomputed_by_subtraction(rows):
    counts = pd.DataFrame(
        rows,
        index=[f"r{i}" for i in range(len(rows))],
        columns=[f"c{j}" for j in range(len(rows[0]))],
    )
    shown = protect_table(counts, EXACT)
    assert subtraction_attack(shown) == {}
    full = with_margins(counts)
    small = (full > 0) & (full <= 7)
    assert shown[small].isin(["≤7"]).to_numpy()[small.to_numpy()].all()


def test_rounding_applies_to_shown_cells_and_margins():
    counts = pd.DataFrame({"x": [12, 23], "y": [31, 44]}, index=["A", "B"])
    shown = protect_table(counts)
    assert shown.loc["A", "x"] == "10"
    assert shown.loc["Total", "Total"] == "110"
