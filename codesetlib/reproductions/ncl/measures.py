"""Each measure of the review as a cohort definition run by a cohort engine, by practice.

Every definition has one index date, the end of the review period, so the population (adults
registered and alive then, at the practice they are registered with) and each window are those of
the cohort model (`codesetlib.cohorts.model`); a measure is a numerator over that population
grouped by practice and borough (`engine.measure`). New cancers are people whose first cancer code
falls in a span: a cancer code in the span and none before it, as the QOF business rules write it;
what a review or a care plan is looked for around is that first code (a window measured from it).

Two measures reach past the cohort model, each said where it is computed: the coding of true new
cancers restricts the engine's cohort to the patients whose cancer truly began in the period, read
from the synthetic truth by the validation layer; and new cancers against expected incidence count
person-time at risk over registration spells, which no cohort definition expresses yet, so the
engine answers it by its own entry point (`person_time`, on every engine) and the reference rates
turn it into the number expected here. No query is built in this package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import codeset_dir, load_codeset
from codesetlib.codesets.model import Codeset
from codesetlib.codesets.versions import version_dir
from codesetlib.cohorts.dates import Offset, add_offset
from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine
from codesetlib.cohorts.engines.ibis_engine import CohortEngine
from codesetlib.cohorts.model import (
    CodesetCodes,
    CohortDefinition,
    CohortRule,
    Criterion,
    IndexDate,
    Population,
    Window,
)
from codesetlib.core.errors import DatasetError
from codesetlib.validation.data import truth_patients

CODESETS = [
    "ethnicity",
    "main_spoken_language",
    "employment_status",
    "family_history_recorded",
    "bowel_screening",
    "breast_screening",
    "cervical_screening",
    "cancer_diagnosis",
    "cancer_care_review",
    "cancer_care_plan",
    "holistic_needs_assessment",
    "cancer_staging",
    "cancer_treatment",
]
COMPLETENESS = ["ethnicity", "main_spoken_language", "employment_status", "family_history_recorded"]
SCREENING = {
    # measure: (codeset, sex or None, youngest, oldest, months looked back)
    "bowel_screening": ("bowel_screening", None, 60, 74, 30),
    "breast_screening": ("breast_screening", "female", 53, 70, 36),
    "cervical_screening_25_49": ("cervical_screening", "female", 25, 49, 42),
    "cervical_screening_50_64": ("cervical_screening", "female", 50, 64, 66),
}
CAPTURE = ["cancer_care_plan", "holistic_needs_assessment", "cancer_staging", "cancer_treatment"]
ADULT = 18
# Cancer codes this soon after registering are mostly past diagnoses entered when the record was set up.
SETTLED_DAYS = 90
CANCER = "cancer_diagnosis"
# What each by-practice table holds, in this order, one row per practice with anyone to count.
PRACTICE_COLUMNS = ["practice_id", "borough"]


@dataclass(frozen=True)
class Period:
    """The review period (both ends inclusive) and the grace for recording delay after it."""

    start: dt.date = dt.date(2023, 4, 1)
    end: dt.date = dt.date(2025, 3, 31)
    grace_days: int = 90

    @property
    def years(self) -> float:
        return ((self.end - self.start).days + 1) / 365.25

    def months_before_end(self, months: int) -> dt.date:
        return add_offset(self.end, Offset(amount=-months, unit="months")) + dt.timedelta(days=1)

    def offset_to(self, day: dt.date) -> Offset:
        """`day` as an offset from the end, the index date of every definition."""
        return Offset(amount=(day - self.end).days)


@dataclass(frozen=True)
class Review:
    """A dataset opened in a cohort engine, the period, and the codesets with their codes."""

    engine: CohortEngine
    dataset_dir: Path
    period: Period
    codesets: Mapping[str, Codeset]
    codes: Mapping[str, CodesetCodes]

    def with_codeset(self, codeset: Codeset) -> Review:
        """The same review with one codeset (named by its id) replaced, e.g. by a faulty one."""
        return replace(
            self,
            codesets={**self.codesets, codeset.id: codeset},
            codes={**self.codes, codeset.id: codes_of(codeset)},
        )


def codes_of(codeset: Codeset) -> CodesetCodes:
    """A codeset's codes, expanded from its rules in its release, as the data an engine joins."""
    rows = expand_rules(codeset).codes
    return CodesetCodes(
        coding_system=codeset.coding_system, codes=dict.fromkeys(r.code for r in rows)
    )


def open_review(
    dataset_dir: Path,
    codesets: Mapping[str, Codeset],
    period: Period,
    engine: CohortEngine | None = None,
) -> Review:
    """The dataset in a cohort engine (DuckDB unless another is given) with each codeset's codes."""
    engine = DuckDBEngine(Path(dataset_dir)) if engine is None else engine
    codes = {cid: codes_of(codeset) for cid, codeset in codesets.items()}
    return Review(engine, Path(dataset_dir), period, dict(codesets), codes)


def load_codesets(
    codesets_dir: Path, ids: list[str] = CODESETS, versions: dict[str, str] | None = None
) -> dict[str, Codeset]:
    """The minimum-dataset codesets at their current (or given) versions."""
    versions = versions or {}
    out = {}
    for cid in ids:
        codeset_dir(codesets_dir, cid)
        out[cid] = load_codeset(version_dir(codesets_dir, cid, versions.get(cid)))
    return out


def read_rates(path: Path) -> pd.DataFrame:
    """Reference incidence rates (age_from, age_to, sex, rate_per_100k)."""
    rates = pd.read_csv(path)
    expected = {"age_from", "age_to", "sex", "rate_per_100k"}
    missing = expected - set(rates.columns)
    if missing:
        raise DatasetError(f"missing column(s) {', '.join(sorted(missing))}", path=path, line=1)
    return rates


# The definitions: data only, from the period and the measure's parameters.


def population_definition(
    measure: str,
    period: Period,
    criteria: list[Criterion],
    rules: list[CohortRule] | None = None,
    *,
    youngest: int = ADULT,
    oldest: int | None = None,
    sex: str | None = None,
) -> CohortDefinition:
    """People registered and alive at the end of the period, aged `youngest` (an adult) to
    `oldest` then, of `sex` if given, with the measure's criteria and rules."""
    return CohortDefinition(
        id=measure,
        index_date=IndexDate(date=period.end),
        population=Population(age_min=youngest, age_max=oldest, sex=None if sex is None else [sex]),
        criteria=criteria,
        rules=rules or [],
    )


def new_cancers(low: dt.date, high: dt.date, period: Period) -> tuple[list[Criterion], list]:
    """Criteria and rules for people whose first cancer code falls from `low` to `high`: a cancer
    code then and none before, with the date of that first code as `first_cancer`."""
    criteria = [
        Criterion(name="first_cancer", codeset=CANCER, returns="first_date"),
        Criterion(
            name="cancer_in_span",
            codeset=CANCER,
            window=Window(start=period.offset_to(low), end=period.offset_to(high)),
        ),
        Criterion(
            name="cancer_before_span",
            codeset=CANCER,
            window=Window(start=None, end=period.offset_to(low - dt.timedelta(days=1))),
        ),
    ]
    rules = [
        CohortRule(action="include", criterion="cancer_in_span"),
        CohortRule(action="exclude", criterion="cancer_before_span"),
    ]
    return criteria, rules


def completeness_definition(codeset: str, period: Period) -> CohortDefinition:
    """Adults with any code of `codeset` on or before the end (numerator `recorded`)."""
    return population_definition(codeset, period, [Criterion(name="recorded", codeset=codeset)])


def screening_definition(measure: str, period: Period) -> CohortDefinition:
    """The eligible, with a screening code in the look-back before the end (`screened`)."""
    codeset, sex, youngest, oldest, months = SCREENING[measure]
    since = period.months_before_end(months)
    screened = Criterion(
        name="screened", codeset=codeset, window=Window(start=period.offset_to(since))
    )
    return population_definition(
        measure, period, [screened], youngest=youngest, oldest=oldest, sex=sex
    )


def cancer_care_review_definition(period: Period) -> CohortDefinition:
    """First cancer code 12 to 24 months before the end; a review within 12 months (`reviewed`)."""
    low = period.months_before_end(24)
    high = period.months_before_end(12) - dt.timedelta(days=1)
    criteria, rules = new_cancers(low, high, period)
    reviewed = Criterion(
        name="reviewed",
        codeset="cancer_care_review",
        window=Window(
            start=Offset(amount=0),
            start_from="first_cancer",
            end=Offset(amount=12, unit="months"),
            end_from="first_cancer",
        ),
    )
    return population_definition("cancer_care_review", period, [*criteria, reviewed], rules)


def capture_definition(codeset: str, period: Period) -> CohortDefinition:
    """First cancer code in the period; a code of `codeset` from 90 days before it to the end plus
    the grace period (`recorded`)."""
    criteria, rules = new_cancers(period.start, period.end, period)
    recorded = Criterion(
        name="recorded",
        codeset=codeset,
        window=Window(
            start=Offset(amount=-90),
            start_from="first_cancer",
            end=Offset(amount=period.grace_days),
        ),
    )
    return population_definition(codeset, period, [*criteria, recorded], rules)


def cancer_coded_definition(period: Period) -> CohortDefinition:
    """Adults, each with whether a cancer code is recorded by the end plus the grace period."""
    coded = Criterion(
        name="coded",
        codeset=CANCER,
        window=Window(start=None, end=Offset(amount=period.grace_days)),
    )
    definition = population_definition("cancer_coded_truth", period, [coded])
    return definition.model_copy(update={"columns": ["patient_id", *PRACTICE_COLUMNS, "coded"]})


# The measures: each definition run by the review's engine.


def by_practice(review: Review, definition: CohortDefinition, numerator: str) -> pd.DataFrame:
    """Numerator and denominator by practice and borough, the index date the end of the period."""
    p = review.period
    table = review.engine.measure(
        definition,
        review.codes,
        numerator=numerator,
        denominator=None,
        group_by=PRACTICE_COLUMNS,
        interval_starts=[p.start],
        interval_ends=[p.end],
    )
    columns = [*PRACTICE_COLUMNS, "denominator", "numerator"]
    return table[columns].sort_values("practice_id").reset_index(drop=True)


def completeness(review: Review, codeset: str) -> pd.DataFrame:
    """The population with any code of `codeset` on or before the end, by practice."""
    return by_practice(review, completeness_definition(codeset, review.period), "recorded")


def screening(review: Review, measure: str) -> pd.DataFrame:
    """Eligible people with a screening code within the look-back before the end, by practice."""
    return by_practice(review, screening_definition(measure, review.period), "screened")


def cancer_care_review(review: Review) -> pd.DataFrame:
    """As CAN004: first cancer code 12-24 months before the end, with a review within 12 months of it."""
    return by_practice(review, cancer_care_review_definition(review.period), "reviewed")


def capture(review: Review, codeset: str) -> pd.DataFrame:
    """Of people first coded with cancer in the period, the share with a code of `codeset` around it."""
    return by_practice(review, capture_definition(codeset, review.period), "recorded")


def cancer_coded_truth(review: Review, pattern: str = "_cancer$") -> pd.DataFrame:
    """Of true new cancers in the period (in the population), the share coded by the end plus grace.

    The engine gives the population and whether each is coded; the synthetic truth (conditions
    matching `pattern`, read by the validation layer) says whose cancer began in the period."""
    p = review.period
    population = review.engine.cohort(cancer_coded_definition(p), review.codes)
    _, onsets = truth_patients(review.dataset_dir, pattern, p.end)
    began = onsets.loc[pd.to_datetime(onsets["onset_date"]) >= pd.Timestamp(p.start), "patient_id"]
    cases = population[population["patient_id"].isin(set(began))]
    table = cases.groupby(PRACTICE_COLUMNS, as_index=False).agg(
        denominator=("coded", "size"), numerator=("coded", "sum")
    )
    table["numerator"] = table["numerator"].astype("int64")
    return table.sort_values("practice_id").reset_index(drop=True)


def cancer_coded_expected(review: Review, rates: pd.DataFrame) -> pd.DataFrame:
    """New cancer codes in the period against the number expected from reference rates, by practice.

    At risk: adults registered at some time in the period with no cancer code before it. Person-years run
    from the later of the period's start, registration and the 18th birthday to the earliest of the
    period's end, deregistration and death; the rate is that of the person's age band (at the period's
    middle) and sex. Observed: those whose first cancer code falls in their time at risk, at least 90 days
    after registering (earlier codes are mostly past diagnoses entered when the record was set up).

    Person-time over registration spells is not a cohort definition; the engine gives it by practice,
    sex and age (`person_time`, on every engine), and the rates turn each stratum's days into the
    number expected."""
    p = review.period
    middle = p.start + (p.end - p.start) / 2
    strata = review.engine.person_time(
        review.codes[CANCER].codes,
        p.start,
        p.end,
        min_age=ADULT,
        age_in_year=middle.year,
        settled_days=SETTLED_DAYS,
    )
    rate = rate_of_each(strata, rates)
    table = strata.assign(expected=rate / 100000.0 * strata["person_days"] / 365.25)
    counts = table.groupby(PRACTICE_COLUMNS, as_index=False, dropna=False).agg(
        observed=("first_codes", "sum"), expected=("expected", "sum")
    )
    counts["observed"] = counts["observed"].astype("int64")
    return counts.sort_values("practice_id").reset_index(drop=True)


def rate_of_each(strata: pd.DataFrame, rates: pd.DataFrame) -> pd.Series:
    """The reference rate (per 100,000 a year) of each stratum's sex and age; a DatasetError names a
    sex and age with time at risk that no band of the rates covers, or that two bands cover."""
    found = {}
    for sex, age in sorted(set(zip(strata["sex"], strata["age"], strict=True))):
        band = rates[(rates["sex"] == sex) & (rates["age_from"] <= age) & (rates["age_to"] >= age)]
        if len(band) != 1:
            how = "no band of the reference rates covers" if band.empty else "two bands cover"
            raise DatasetError(f"{how} {sex} patients aged {age}", field="age_from, age_to, sex")
        found[sex, age] = float(band["rate_per_100k"].iloc[0])
    keys = zip(strata["sex"], strata["age"], strict=True)
    return pd.Series([found[key] for key in keys], index=strata.index, dtype="float64")


def all_measures(review: Review, rates: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every measure of the review, each by practice (numerator, denominator; observed, expected)."""
    out = {m: completeness(review, m) for m in COMPLETENESS}
    out |= {m: screening(review, m) for m in SCREENING}
    out["cancer_coded_truth"] = cancer_coded_truth(review)
    out["cancer_coded_expected"] = cancer_coded_expected(review, rates)
    out["cancer_care_review"] = cancer_care_review(review)
    out |= {m: capture(review, m) for m in CAPTURE}
    return out
