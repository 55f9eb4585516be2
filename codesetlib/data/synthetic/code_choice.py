"""The code-choice configuration: which codes a clinician records for each truth item, and when.

Every code is checked at start-up against the release in use on the dates it may be recorded, so a
dataset holds only codes of the shipped terminology, and drift (codes the later release inactivates,
recorded only before it) is written in the configuration, not hidden in the generator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, Field

from codesetlib.core.errors import DatasetError
from codesetlib.core.models import StrictModel
from codesetlib.core.yamlfile import line_of, read_yaml, validate_yaml
from codesetlib.data.synthetic.dates import day_number
from codesetlib.terminology import Terminology, open_release

# The items the generator records; a configuration must give codes for each.
CLINICAL_ITEMS = (
    "breast_cancer",
    "breast_cancer_screen_detected",
    "prostate_cancer",
    "lung_cancer",
    "colorectal_cancer",
    "colorectal_cancer_screen_detected",
    "other_cancer",
    "nmsc",
    "history_of_cancer",
    "suspected_cancer",
    "urgent_referral",
    "family_history_of_cancer",
    "no_family_history_of_cancer",
    "cancer_care_review",
    "cancer_care_review_declined",
    "cancer_support_discussion",
    "cancer_care_plan",
    "holistic_needs_assessment",
    "holistic_needs_assessment_declined",
    "cancer_staging",
    "cancer_treatment",
    "bowel_screening_normal",
    "bowel_screening_abnormal",
    "bowel_screening_declined",
    "breast_screening_normal",
    "breast_screening_abnormal",
    "breast_screening_declined",
    "cervical_screening_normal",
    "cervical_screening_abnormal",
    "cervical_screening_declined",
    "diabetes_type1",
    "diabetes_type2",
    "hba1c",
    "prediabetes",
    "ethnicity_not_stated",
    "interpreter_needed",
)
MEDICATION_ITEMS = ("metformin", "gliclazide", "endocrine_therapy")


class CodeWeight(StrictModel):
    """One code a clinician may record for an item, its relative weight, and when it is usable."""

    model_config = ConfigDict(populate_by_name=True)  # `from` is a keyword: read as `from_`

    code: str = Field(pattern=r"^[0-9]{6,18}$")
    weight: float = Field(gt=0)
    from_: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None


class CodeChoiceFile(StrictModel):
    """The code-choice file: clinical items, medication items, and the codes of truth categories."""

    items: dict[str, list[CodeWeight]]
    medications: dict[str, list[CodeWeight]]
    categories: dict[str, dict[str, list[CodeWeight]]]


@dataclass(frozen=True)
class ItemChoice:
    """A compiled item: on a date in period k (split at `breaks`), code j is chosen with `cumulative[k]`."""

    codes: np.ndarray  # indices into the vocabulary
    breaks: np.ndarray  # day numbers where a new period starts
    cumulative: np.ndarray  # periods x codes, rows end at 1

    def choose(self, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The vocabulary index of the code recorded on each of `days`."""
        period = np.searchsorted(self.breaks, days, side="right")
        draw = rng.random(len(days))
        pick = (draw[:, None] >= self.cumulative[period]).sum(axis=1)
        return self.codes[np.minimum(pick, len(self.codes) - 1)]


@dataclass(frozen=True)
class CodeChoice:
    """Compiled code choices: a sorted vocabulary per coding system and the items over it."""

    snomed_vocabulary: list[str]
    dmd_vocabulary: list[str]
    items: dict[str, ItemChoice]
    medications: dict[str, ItemChoice]
    categories: dict[str, dict[str, ItemChoice]]


@dataclass(frozen=True)
class ReleasePeriod:
    """The release in use from `start` (inclusive) to `stop` (exclusive); None is open."""

    release_id: str
    terminology: Terminology
    start: dt.date | None
    stop: dt.date | None


def release_periods(before: str, after: str, drift_date: dt.date) -> list[ReleasePeriod]:
    """The two releases of a coding system and the dates each is in use."""
    return [
        ReleasePeriod(before, open_release(before), None, drift_date),
        ReleasePeriod(after, open_release(after), drift_date, None),
    ]


def _overlaps(entry: CodeWeight, period: ReleasePeriod) -> bool:
    starts_before_stop = period.stop is None or entry.from_ is None or entry.from_ < period.stop
    stops_after_start = period.start is None or entry.until is None or entry.until > period.start
    return starts_before_stop and stops_after_start


def code_problem(entry: CodeWeight, periods: list[ReleasePeriod]) -> str | None:
    """Why `entry` may not be recorded on some date it allows, or None when it may."""
    if entry.from_ is not None and entry.until is not None and entry.from_ >= entry.until:
        return "'from' must come before 'until'"
    for period in periods:
        if not _overlaps(entry, period):
            continue
        concept = period.terminology.lookup(entry.code)
        when = f"from {period.start}" if period.start else f"before {period.stop}"
        if concept is None:
            hint = f" (give `from: {period.stop}`)" if period.stop else ""
            return f"code {entry.code} is not in {period.release_id}, in use {when}{hint}"
        if not concept.active:
            hint = f" (give `until: {period.start}`)" if period.start else ""
            return f"code {entry.code} |{concept.term}| is inactive in {period.release_id}, in use {when}{hint}"
    return None


def _check_entries(
    entries: list[CodeWeight], periods: list[ReleasePeriod], location: tuple, path: Path, tree
) -> None:
    """Refuse the first code that is unknown or inactive where it would be used."""
    if not entries:
        raise DatasetError(
            "give at least one code",
            path=path,
            line=line_of(tree, location),
            field=_field(location),
        )
    for i, entry in enumerate(entries):
        problem = code_problem(entry, periods)
        if problem:
            where = (*location, i, "code")
            raise DatasetError(problem, path=path, line=line_of(tree, where), field=_field(where))
    for period in periods:
        if not any(_overlaps(e, period) for e in entries):
            when = f"from {period.start}" if period.start else f"before {period.stop}"
            raise DatasetError(
                f"no code is usable {when}",
                path=path,
                line=line_of(tree, location),
                field=_field(location),
            )


def _field(location: tuple) -> str:
    out = ""
    for key in location:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _compile(entries: list[CodeWeight], vocabulary: dict[str, int]) -> ItemChoice:
    """The cumulative choice table of an item, one row per period between its dates."""
    edges = sorted({d for e in entries for d in (e.from_, e.until) if d is not None})
    breaks = np.array([day_number(d) for d in edges], dtype=np.int64)
    starts = [None, *edges]
    rows = []
    for start in starts:
        day = day_number(start) if start else -(10**9)
        weights = np.array(
            [
                e.weight
                if (e.from_ is None or day_number(e.from_) <= day)
                and (e.until is None or day < day_number(e.until))
                else 0.0
                for e in entries
            ]
        )
        total = weights.sum()
        rows.append(np.cumsum(weights) / total if total > 0 else np.ones(len(entries)))
    codes = np.array([vocabulary[e.code] for e in entries], dtype=np.int32)
    return ItemChoice(codes, breaks, np.array(rows))


def load_code_choice(
    path: Path,
    snomed_periods: list[ReleasePeriod],
    dmd_periods: list[ReleasePeriod],
    categories: dict[str, tuple[str, ...]],
) -> CodeChoice:
    """Read, check and compile a code-choice file; refuse it clearly (file, line, field) when bad.

    `categories` names the truth categories the generator draws, which the file must give codes for."""
    config = validate_yaml(path, CodeChoiceFile, DatasetError)
    _, tree = read_yaml(path, DatasetError)
    for section, names in (("items", CLINICAL_ITEMS), ("medications", MEDICATION_ITEMS)):
        missing = [n for n in names if n not in getattr(config, section)]
        if missing:
            raise DatasetError(
                f"no codes for {', '.join(missing)}",
                path=path,
                line=line_of(tree, (section,)),
                field=section,
            )
    for attribute, names in categories.items():
        given = config.categories.get(attribute, {})
        missing = [n for n in names if n not in given]
        if missing:
            where = ("categories", attribute)
            raise DatasetError(
                f"no codes for {', '.join(missing)}",
                path=path,
                line=line_of(tree, where),
                field=_field(where),
            )
    for name, entries in config.items.items():
        _check_entries(entries, snomed_periods, ("items", name), path, tree)
    for name, entries in config.medications.items():
        _check_entries(entries, dmd_periods, ("medications", name), path, tree)
    for attribute, groups in config.categories.items():
        for name, entries in groups.items():
            _check_entries(entries, snomed_periods, ("categories", attribute, name), path, tree)
    snomed = sorted(
        {e.code for es in config.items.values() for e in es}
        | {e.code for groups in config.categories.values() for es in groups.values() for e in es}
    )
    dmd = sorted({e.code for es in config.medications.values() for e in es})
    snomed_index = {c: i for i, c in enumerate(snomed)}
    dmd_index = {c: i for i, c in enumerate(dmd)}
    return CodeChoice(
        snomed_vocabulary=snomed,
        dmd_vocabulary=dmd,
        items={n: _compile(es, snomed_index) for n, es in config.items.items()},
        medications={n: _compile(es, dmd_index) for n, es in config.medications.items()},
        categories={
            a: {n: _compile(es, snomed_index) for n, es in groups.items()}
            for a, groups in config.categories.items()
        },
    )
