"""A window bound measured from another criterion's date is refused when it cannot mean anything:
without an offset, from a criterion that returns no date, or from one measured from another date
itself. What such windows select is specified in tests/spec/windows/test_from_another_criterion.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from codesetlib.cohorts import CohortDefinition, DuckDBEngine, Window
from codesetlib.core.errors import CohortError
from tests.spec import dataset
from tests.spec.windows.test_from_another_criterion import (
    ANCHORED,
    EARLY,
    FIRST_DIABETES,
    FIRST_YEAR,
)


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    return DuckDBEngine(dataset.write_tables(tmp_path / "data"))


def run(engine: DuckDBEngine, criteria: list[dict]) -> object:
    definition = CohortDefinition.model_validate(ANCHORED | {"criteria": criteria})
    return engine.cohort(definition, dataset.CODESETS)


def test_the_anchor_must_return_a_date(engine):
    not_a_date = FIRST_DIABETES | {"returns": "exists"}
    with pytest.raises(
        CohortError, match="'first_diabetes' is not a criterion returning a date"
    ) as e:
        run(engine, [not_a_date, FIRST_YEAR, EARLY])
    assert e.value.field == "criteria[1].window.start_from"


def test_the_anchor_must_be_measured_from_the_index_date(engine):
    later = {
        "name": "later",
        "codeset": "hba1c",
        "returns": "last_date",
        "window": {"start": "0 days", "start_from": "first_diabetes"},
    }
    chain = {
        "name": "chain",
        "codeset": "hba1c",
        "window": {"start": "0 days", "start_from": "later"},
    }
    with pytest.raises(CohortError, match="'later' is measured from another criterion's date"):
        run(engine, [FIRST_DIABETES, later, chain])


def test_an_unknown_anchor_is_named(engine):
    lost = FIRST_YEAR | {"window": FIRST_YEAR["window"] | {"end_from": "first_diabets"}}
    with pytest.raises(CohortError, match="'first_diabets' is not a criterion returning a date"):
        run(engine, [FIRST_DIABETES, lost])


def test_a_bound_from_a_criterion_needs_an_offset():
    with pytest.raises(ValidationError, match="end_from 'first' needs an offset from it in end"):
        Window.model_validate({"start": "0 days", "end": None, "end_from": "first"})


def test_bounds_from_two_dates_are_not_compared_but_from_one_they_are():
    Window.model_validate({"start": "30 days", "start_from": "first", "end": "0 days"})
    with pytest.raises(ValidationError, match="the window starts"):
        Window.model_validate(
            {"start": "30 days", "start_from": "first", "end": "0 days", "end_from": "first"}
        )


def test_the_window_says_what_each_bound_is_measured_from():
    window = Window.model_validate({"start": "-30 days", "start_from": "first", "end": "0 days"})
    assert window.anchors == ["first"]
    assert window.describe() == "from first -30 days to index date +0 days (inclusive)"
    assert Window.model_validate("ever before").anchors == []
