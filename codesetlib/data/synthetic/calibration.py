"""The calibration of the coding process: recording shares, misleading codes, delays, screening.

The calibration file sets the parameters of the coding process; analyses must recover its figures from
the coded events, never by reading it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from codesetlib.core.errors import DatasetError
from codesetlib.core.models import StrictModel
from codesetlib.core.yamlfile import validate_yaml

Share = float


class Recording(StrictModel):
    """The share of each truth item that reaches the record (mean over practices)."""

    ethnicity: Share = Field(ge=0, le=1)
    main_language: Share = Field(ge=0, le=1)
    employment_status: Share = Field(ge=0, le=1)
    family_history_of_cancer: Share = Field(ge=0, le=1)
    cancer_diagnosis: Share = Field(ge=0, le=1)
    cancer_care_review: Share = Field(ge=0, le=1)
    cancer_staging: Share = Field(ge=0, le=1)
    cancer_treatment: Share = Field(ge=0, le=1)
    cancer_care_plan: Share = Field(ge=0, le=1)
    holistic_needs_assessment: Share = Field(ge=0, le=1)
    cancer_support_discussion: Share = Field(ge=0, le=1)
    nmsc_diagnosis: Share = Field(ge=0, le=1)
    diabetes_diagnosis: Share = Field(ge=0, le=1)
    screening_result: Share = Field(ge=0, le=1)
    screening_declined: Share = Field(ge=0, le=1)


class Misleading(StrictModel):
    """Rates of codes that a naive codeset mistakes for the thing itself, and of false positives."""

    history_of_cancer: Share = Field(ge=0, le=1)
    suspected_cancer: Share = Field(ge=0, le=1)
    suspected_before_diagnosis: Share = Field(ge=0, le=1)
    urgent_referral: Share = Field(ge=0, le=1)
    false_positive_cancer: Share = Field(ge=0, le=1)
    ethnicity_not_stated: Share = Field(ge=0, le=1)
    cancer_care_review_declined: Share = Field(ge=0, le=1)
    holistic_needs_assessment_declined: Share = Field(ge=0, le=1)
    interpreter_needed: Share = Field(ge=0, le=1)


class Delays(StrictModel):
    """Recording delays, and the default date some historic entries carry."""

    diagnosis_mean_days: float = Field(ge=0, le=3650)
    historic_default_date: Share = Field(ge=0, le=1)


class ScreeningProgramme(StrictModel):
    """Who is eligible for a screening programme, how often, and how many take it up."""

    sex: Literal["any", "female", "male"]
    ages: tuple[int, int]
    interval_years: float = Field(gt=0, le=20)
    uptake: Share = Field(ge=0, le=1)
    abnormal: Share = Field(ge=0, le=1)


class Calibration(StrictModel):
    """The whole calibration file."""

    source: str
    boroughs: list[str] = Field(min_length=1)
    # The date the recording shares describe (the end of the review period): attributes recorded at all
    # are recorded by then for everyone registered by then.
    recorded_by: dt.date = dt.date(2025, 3, 31)
    recording: Recording
    practice_variation: float = Field(ge=0, le=3)
    misleading: Misleading
    delays: Delays
    screening: dict[
        Literal["bowel", "breast", "cervical_25_49", "cervical_50_64"], ScreeningProgramme
    ]


def load_calibration(path: Path) -> Calibration:
    """Read and validate a calibration file; errors name the file, line and field."""
    calibration = validate_yaml(path, Calibration, DatasetError)
    missing = {"bowel", "breast", "cervical_25_49", "cervical_50_64"} - set(calibration.screening)
    if missing:
        raise DatasetError(
            f"missing programmes: {', '.join(sorted(missing))}", path=path, field="screening"
        )
    return calibration


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def practice_shares(
    target: float, weights: np.ndarray, spread: float, rng: np.random.Generator
) -> np.ndarray:
    """Each practice's own recording share, drawn around `target` on the log-odds scale.

    The shifts are centred (by bisection) so that the mean over practices, weighted by their expected
    list shares, is exactly `target`: practice comparisons mean something, and the overall rate is the
    calibrated one."""
    shift = rng.normal(0.0, spread, len(weights))
    if target in (0.0, 1.0):
        return np.full(len(weights), target)
    low, high = -20.0, 20.0
    base = _logit(np.array(target))
    for _ in range(80):
        middle = (low + high) / 2
        mean = float(np.dot(weights, _expit(base + shift + middle)))
        low, high = (middle, high) if mean < target else (low, middle)
    return _expit(base + shift + (low + high) / 2)
