"""A cohort definition as data: population, criteria from codesets, ordered rules, output columns.

The definition names codesets by id; the caller passes their codes as data (`CodesetCodes`), each with
its coding system, so the engines join against the codes and never splice them into SQL text.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from codesetlib.codesets.model import CODESET_ID, PATTERN_HINTS
from codesetlib.cohorts.dates import Offset
from codesetlib.core.models import StrictModel

TableName = Literal["clinical_events", "medications"]
# The coding system each event table is recorded in, in primary-care data (a data source may hold
# more: an OMOP CDM's clinical events carry ICD-10 codes too).
TABLE_CODING_SYSTEM = {"clinical_events": "snomedct", "medications": "dmd"}
TABLE_CODING_SYSTEMS: dict[str, tuple[str, ...]] = {
    "clinical_events": ("snomedct",),
    "medications": ("dmd",),
}
# The table events of each coding system are in.
CODING_SYSTEM_TABLE = {
    "snomedct": "clinical_events",
    "icd10": "clinical_events",
    "dmd": "medications",
}
Returns = Literal[
    "exists",
    "count",
    "first_date",
    "last_date",
    "first_value",
    "last_value",
    "first_code",
    "last_code",
    "first_category",
    "last_category",
]
AGE_BANDS = [(0, 17), (18, 39), (40, 59), (60, 79), (80, None)]
# Columns every cohort can output without a criterion, with the tables they come from.
PATIENT_COLUMNS = {
    "patient_id": "patients",
    "index_date": "patients",
    "sex": "patients",
    "age": "patients",
    "age_band": "patients",
    "imd_quintile": "patients",
    "practice_id": "registrations",
    "borough": "practices",
}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
WINDOW_TEXT = re.compile(r"^\s*(\d+)\s*(days?|months?|years?)\s+(before|after)\s*$")


def codeset_id(value: str | None) -> str | None:
    """A codeset named by its id, so it can only be a folder of the study's codesets folder: a path
    such as `../../elsewhere/x` would reach a codeset the study never pinned."""
    if value is not None and not re.fullmatch(CODESET_ID, value):
        raise ValueError(
            f"expected a codeset id naming a folder in the study's codesets folder, "
            f"{PATTERN_HINTS[CODESET_ID]} (found {value!r})"
        )
    return value


class CodesetCodes(StrictModel):
    """One codeset's codes as the caller expanded them, with its coding system.

    `codes` maps each code to a category (e.g. an ethnicity group) or to None; a list is accepted.
    """

    coding_system: str
    codes: dict[str, str | None] = Field(min_length=1)

    @field_validator("codes", mode="before")
    @classmethod
    def _list_of_codes(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return dict.fromkeys(str(code) for code in value)
        return value


class Window(StrictModel):
    """Dates from index date + `start` to index date + `end`, both inclusive; None is unbounded.

    In YAML a window may be written `ever before`, `15 months before`, `30 days after`, `any time`,
    or as `{start: -12 months, end: 0 days}`. A bound may be measured from the date another
    criterion returns instead of the index date (`start_from`, `end_from`: its name), e.g. a review
    within 12 months of the first diagnosis; a patient without that date has no event in the window.
    """

    start: Offset | None = None
    end: Offset | None = Offset(amount=0)
    start_from: str | None = None
    end_from: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text == "ever before":
            return {"start": None, "end": "0 days"}
        if text == "any time":
            return {"start": None, "end": None}
        if text == "on or after":
            return {"start": "0 days", "end": None}
        match = WINDOW_TEXT.match(text)
        if not match:
            raise ValueError(
                f"not a window like 'ever before', '15 months before' or '30 days after': {value!r}"
            )
        amount, unit = int(match.group(1)), match.group(2).rstrip("s") + "s"
        if match.group(3) == "before":
            return {"start": {"amount": -amount, "unit": unit}, "end": "0 days"}
        return {"start": "0 days", "end": {"amount": amount, "unit": unit}}

    @model_validator(mode="after")
    def _start_not_after_end(self) -> Window:
        for bound, anchor in (("start", self.start_from), ("end", self.end_from)):
            if anchor is not None and getattr(self, bound) is None:
                raise ValueError(f"{bound}_from {anchor!r} needs an offset from it in {bound}")
        # Bounds measured from different dates can only be compared patient by patient.
        same_anchor = self.start_from == self.end_from
        if (
            same_anchor
            and self.start
            and self.end
            and self.start.approximate_days() > self.end.approximate_days()
        ):
            raise ValueError(f"the window starts ({self.start}) after it ends ({self.end})")
        return self

    @property
    def anchors(self) -> list[str]:
        """The criteria whose dates a bound is measured from (none: both from the index date)."""
        return [a for a in dict.fromkeys((self.start_from, self.end_from)) if a is not None]

    def describe(self) -> str:
        start = (
            "any time" if self.start is None else f"{self.start_from or 'index date'} {self.start}"
        )
        end = "any time" if self.end is None else f"{self.end_from or 'index date'} {self.end}"
        return f"from {start} to {end} (inclusive)"


def ever_before() -> Window:
    """Any time up to and including the index date."""
    return Window(start=None, end=Offset(amount=0))


def within_before(amount: int, unit: str = "days") -> Window:
    """From `amount` units before the index date up to and including it."""
    return Window(start=Offset(amount=-amount, unit=unit), end=Offset(amount=0))


def within_after(amount: int, unit: str = "days") -> Window:
    """From the index date up to and including `amount` units after it."""
    return Window(start=Offset(amount=0), end=Offset(amount=amount, unit=unit))


def between(start: str | Offset, end: str | Offset) -> Window:
    """Between two offsets from the index date, e.g. `between("-24 months", "-12 months")`."""
    return Window(start=start, end=end)


class Criterion(StrictModel):
    """A column per patient from events coded in a codeset within a window of the index date."""

    name: str
    codeset: str
    table: TableName = "clinical_events"
    window: Window = Field(default_factory=ever_before)
    returns: Returns = "exists"

    @field_validator("name")
    @classmethod
    def _is_a_column_name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"not a column name (lower case, digits, _): {value!r}")
        return value

    _codeset_is_an_id = field_validator("codeset")(codeset_id)

    @property
    def which(self) -> str:
        """`first` or `last` for the returns that pick one event (else the returns)."""
        return self.returns.split("_")[0]

    @property
    def field(self) -> str:
        """The field of the picked event: date, value, code or category (else the returns)."""
        return self.returns.split("_")[-1]


class ValueFlag(StrictModel):
    """True when another criterion's value is within bounds (inclusive), e.g. latest HbA1c ≤ 58."""

    name: str
    of: str
    at_most: float | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> ValueFlag:
        if self.at_most is None and self.at_least is None:
            raise ValueError("give at_most, at_least or both")
        return self


class CohortRule(StrictModel):
    """Keep (include) or drop (exclude) the patients for whom a yes/no criterion is true."""

    action: Literal["include", "exclude"]
    criterion: str
    description: str = ""

    def describe(self) -> str:
        return self.description or f"{self.action} {self.criterion}"


class Population(StrictModel):
    """Who may enter: registered and alive on the index date, of an age (inclusive), of a sex."""

    registered: bool = True
    alive: bool = True
    age_min: int | None = Field(default=None, ge=0)
    age_max: int | None = Field(default=None, ge=0)
    sex: list[str] | None = None


class IndexDate(StrictModel):
    """Either one date for everyone, or each patient's first event of a codeset in a period."""

    date: dt.date | None = None
    first_event_of: str | None = None
    table: TableName = "clinical_events"
    on_or_after: dt.date | None = None
    on_or_before: dt.date | None = None

    _first_event_of_is_an_id = field_validator("first_event_of")(codeset_id)

    @model_validator(mode="before")
    @classmethod
    def _from_date(cls, value: object) -> object:
        if isinstance(value, dt.date | str):
            return {"date": value}
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> IndexDate:
        if (self.date is None) == (self.first_event_of is None):
            raise ValueError("give either a date or first_event_of (a codeset), not both")
        if self.on_or_after and self.on_or_before and self.on_or_after > self.on_or_before:
            raise ValueError(
                f"on_or_after {self.on_or_after} is after on_or_before {self.on_or_before}"
            )
        return self

    @property
    def per_patient(self) -> bool:
        return self.first_event_of is not None


class CohortDefinition(StrictModel):
    """A cohort: index date, population, criteria, flags, ordered rules and the columns to output."""

    id: str
    title: str = ""
    index_date: IndexDate
    population: Population = Field(default_factory=Population)
    criteria: list[Criterion] = Field(default_factory=list)
    flags: list[ValueFlag] = Field(default_factory=list)
    rules: list[CohortRule] = Field(default_factory=list)
    columns: list[str] | None = None

    # Where the definition was read from, so errors can name its file and line.
    _path: Path | None = PrivateAttr(default=None)
    _tree: Any = PrivateAttr(default=None)

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.criteria if c.name == name), None)

    def output_columns(self) -> list[str]:
        """The requested columns, or the patient columns and every criterion and flag."""
        if self.columns is not None:
            return list(self.columns)
        default = ["patient_id", "index_date", "sex", "age", "practice_id"]
        return default + [c.name for c in self.criteria] + [f.name for f in self.flags]

    def codeset_names(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Each codeset the definition names, with where in the definition it names it."""
        names: list[tuple[tuple[str | int, ...], str]] = [
            (("criteria", i, "codeset"), c.codeset) for i, c in enumerate(self.criteria)
        ]
        if self.index_date.first_event_of:
            names.insert(0, (("index_date", "first_event_of"), self.index_date.first_event_of))
        return names

    def codesets_used(self) -> set[str]:
        used = {c.codeset for c in self.criteria}
        if self.index_date.first_event_of:
            used.add(self.index_date.first_event_of)
        return used

    def located(self, path: Path | None, tree: yaml.Node | None) -> CohortDefinition:
        """This definition, remembering the file (and YAML tree) it came from."""
        self._path, self._tree = path, tree
        return self
