"""The truth about patients: conditions with incidence by age and sex, and personal attributes.

Nothing here knows about codes; the coding process (`coding.py`) decides what reaches the record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesetlib.data.synthetic.dates import NO_DATE, years_to_days
from codesetlib.data.synthetic.population import Patients

CANCER_SITES = ("breast", "prostate", "lung", "colorectal", "other")
SITE_SHARES = {  # share of first primary cancers by site (excluding NMSC), England-like
    "female": [0.30, 0.00, 0.12, 0.11, 0.47],
    "male": [0.00, 0.26, 0.13, 0.13, 0.48],
}
# Deaths from the cancer within five years, by site.
SITE_DEATHS = np.array([0.15, 0.12, 0.80, 0.40, 0.45])
# New cancers (excluding NMSC) per 100,000 a year by five-year age band, England-like (~600 overall).
CANCER_INCIDENCE = np.array(
    [15, 10, 12, 25, 40, 60, 85, 125, 200, 320, 480, 680, 950, 1300, 1700, 2100, 2400, 2600, 2600]
)
HOW_CANCER_DIAGNOSED = ("urgent_referral", "screening", "emergency", "routine_referral")

ETHNICITY = {
    "White British": 0.36,
    "White Irish": 0.03,
    "Other White": 0.20,
    "Mixed White and Black Caribbean": 0.015,
    "Mixed White and Black African": 0.01,
    "Mixed White and Asian": 0.015,
    "Other Mixed": 0.02,
    "Indian": 0.035,
    "Pakistani": 0.01,
    "Bangladeshi": 0.025,
    "Chinese": 0.015,
    "Other Asian": 0.045,
    "African": 0.07,
    "Caribbean": 0.04,
    "Other Black": 0.02,
    "Arab": 0.015,
    "Other ethnic group": 0.055,
}
MAIN_LANGUAGE = {
    "English": 0.78,
    "Turkish": 0.03,
    "Polish": 0.02,
    "Bengali": 0.02,
    "Somali": 0.015,
    "Greek": 0.01,
    "Arabic": 0.01,
    "Portuguese": 0.015,
    "Spanish": 0.015,
    "Albanian": 0.01,
    "Romanian": 0.015,
    "Italian": 0.01,
    "French": 0.01,
    "Farsi": 0.008,
    "Kurdish": 0.008,
    "Tamil": 0.006,
    "Gujarati": 0.006,
    "Chinese": 0.008,
    "Irish": 0.004,
}
EMPLOYMENT_BY_AGE = {  # (lowest age, shares over EMPLOYMENT_STATUS)
    16: [0.42, 0.03, 0.10, 0.0, 0.40, 0.02, 0.01, 0.02],
    25: [0.62, 0.10, 0.05, 0.0, 0.03, 0.08, 0.07, 0.05],
    65: [0.07, 0.03, 0.0, 0.86, 0.0, 0.01, 0.02, 0.01],
}
EMPLOYMENT_STATUS = (
    "Employed",
    "Self-employed",
    "Unemployed",
    "Retired",
    "Student",
    "Looking after home or family",
    "Long-term sick or disabled",
    "Not in labour force",
)
FAMILY_HISTORY_OF_CANCER = 0.30
ATTRIBUTE_CATEGORIES = {
    "ethnicity": tuple(ETHNICITY),
    "main_language": tuple(MAIN_LANGUAGE),
    "employment_status": EMPLOYMENT_STATUS,
}


@dataclass(frozen=True)
class Conditions:
    """True conditions of a chunk: each array holds one value per patient (NO_DATE when absent)."""

    cancer_onset: np.ndarray
    cancer_site: np.ndarray  # index into CANCER_SITES, -1 when none
    cancer_how: np.ndarray  # index into HOW_CANCER_DIAGNOSED, -1 when none
    nmsc_onset: np.ndarray
    diabetes_type1_onset: np.ndarray
    diabetes_type2_onset: np.ndarray
    diabetes_type2_by_hba1c: np.ndarray


@dataclass(frozen=True)
class Attributes:
    """True personal attributes (category indices; employment -1 for children)."""

    ethnicity: np.ndarray
    main_language: np.ndarray
    employment_status: np.ndarray
    family_history_of_cancer: np.ndarray


def cancer_rate(age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Annual incidence of a first cancer (excluding NMSC); women higher in mid-life, men later."""
    band = np.clip((age // 5).astype(np.int64), 0, len(CANCER_INCIDENCE) - 1)
    sex = np.where(female, np.where((age >= 25) & (age < 60), 1.35, 0.85), 1.0)
    return CANCER_INCIDENCE[band] / 100_000 * sex


def nmsc_rate(age: np.ndarray) -> np.ndarray:
    """Annual incidence of non-melanoma skin cancer, steep with age."""
    return np.where(age < 40, 0.0, 0.0002 * np.exp(0.06 * (age - 40)))


def diabetes_type2_rate(age: np.ndarray) -> np.ndarray:
    """Annual incidence of type 2 diabetes, about 7% prevalence in adults over a lifetime."""
    return np.select(
        [age < 20, age < 40, age < 60, age < 80], [0.0001, 0.0012, 0.004, 0.007], 0.005
    )


def _first_onsets(
    patients: Patients, history_start: int, end: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first onset of cancer, NMSC and type 2 diabetes, stepping a year at a time."""
    count = len(patients.patient_id)
    dob, female = patients.date_of_birth, patients.female
    onsets = [np.full(count, NO_DATE, dtype=np.int64) for _ in range(3)]
    for year_start in range(history_start, end, 365):
        # Rates by age are applied at the middle of each year (a year's age at its start would
        # understate a schedule that rises with age).
        age = (year_start + 182 - dob) / 365.25
        alive = (dob <= year_start) & (patients.date_of_death > year_start)
        rates = (cancer_rate(age, female), nmsc_rate(age), diabetes_type2_rate(age))
        for onset, rate in zip(onsets, rates, strict=True):
            new = alive & (onset == NO_DATE) & (rng.random(count) < rate)
            day = year_start + rng.integers(0, 365, new.sum())
            onset[new] = np.minimum(day, np.minimum(patients.date_of_death[new] - 1, end))
    return onsets[0], onsets[1], onsets[2]


def draw_conditions(
    patients: Patients,
    history_start: int,
    end: int,
    screening_ages: dict[str, tuple[int, int]],
    rng: np.random.Generator,
) -> Conditions:
    """True conditions, with cancer deaths written back into `patients.date_of_death`."""
    count = len(patients.patient_id)
    cancer, nmsc, type2 = _first_onsets(patients, history_start, end, rng)
    has_cancer = cancer != NO_DATE
    draw = rng.random(count)
    site = np.full(count, -1, dtype=np.int8)
    for sex, mask in (("female", patients.female), ("male", ~patients.female)):
        cumulative = np.cumsum(SITE_SHARES[sex])
        here = has_cancer & mask
        site[here] = np.searchsorted(cumulative / cumulative[-1], draw[here], side="right")
    age_at_onset = (cancer - patients.date_of_birth) / 365.25
    bowel, breast = screening_ages["bowel"], screening_ages["breast"]
    screenable = ((site == 0) & (age_at_onset >= breast[0]) & (age_at_onset <= breast[1])) | (
        (site == 3) & (age_at_onset >= bowel[0]) & (age_at_onset <= bowel[1])
    )
    how = rng.choice(4, count, p=[0.6, 0.0, 0.2, 0.2]).astype(np.int8)
    how = np.where(screenable & (rng.random(count) < 0.3), 1, how)
    how = np.where(has_cancer, how, -1).astype(np.int8)
    dies = has_cancer & (rng.random(count) < SITE_DEATHS[np.maximum(site, 0)])
    death = cancer + rng.integers(30, 5 * 365, count)
    earlier = dies & (death <= end) & (death < patients.date_of_death)
    patients.date_of_death = np.where(earlier, death, patients.date_of_death)
    nmsc = np.where(nmsc < patients.date_of_death, nmsc, NO_DATE)
    type2 = np.where(type2 < patients.date_of_death, type2, NO_DATE)
    type1_age = 2 + rng.random(count) * 28
    type1 = patients.date_of_birth + years_to_days(type1_age)
    type1_happens = (rng.random(count) < 0.005) & (type1 < np.minimum(patients.date_of_death, end))
    type1 = np.where(type1_happens, type1, NO_DATE)
    type2 = np.where(type1_happens, NO_DATE, type2)
    return Conditions(
        cancer_onset=cancer,
        cancer_site=site,
        cancer_how=how,
        nmsc_onset=nmsc,
        diabetes_type1_onset=type1,
        diabetes_type2_onset=type2,
        diabetes_type2_by_hba1c=rng.random(count) < 0.7,
    )


def _categorical(shares: dict[str, float] | list[float], count: int, rng) -> np.ndarray:
    weights = np.array(list(shares.values()) if isinstance(shares, dict) else shares, dtype=float)
    cumulative = np.cumsum(weights) / weights.sum()
    return np.searchsorted(cumulative, rng.random(count), side="right").astype(np.int16)


def draw_attributes(patients: Patients, end: int, rng: np.random.Generator) -> Attributes:
    """Ethnicity, main language, employment status (by age, at the end) and family history."""
    count = len(patients.patient_id)
    age = (np.minimum(patients.date_of_death, end) - patients.date_of_birth) / 365.25
    employment = np.full(count, -1, dtype=np.int16)
    bounds = sorted(EMPLOYMENT_BY_AGE)
    for low, high in zip(bounds, [*bounds[1:], 200], strict=True):
        here = (age >= low) & (age < high)
        employment[here] = _categorical(EMPLOYMENT_BY_AGE[low], int(here.sum()), rng)
    return Attributes(
        ethnicity=_categorical(ETHNICITY, count, rng),
        main_language=_categorical(MAIN_LANGUAGE, count, rng),
        employment_status=employment,
        family_history_of_cancer=rng.random(count) < FAMILY_HISTORY_OF_CANCER,
    )


def condition_rows(patients: Patients, conditions: Conditions) -> dict[str, np.ndarray]:
    """The `truth_conditions` table of a chunk, sorted by patient and condition.

    String columns are (indices, names) pairs, turned into Arrow strings by the writer."""
    c = conditions
    parts = []
    site_names = np.array([f"{s}_cancer" for s in CANCER_SITES])
    how_names = np.array(HOW_CANCER_DIAGNOSED)
    who = np.flatnonzero(c.cancer_onset != NO_DATE)
    parts.append(
        (who, site_names[c.cancer_site[who]], c.cancer_onset[who], how_names[c.cancer_how[who]])
    )
    for name, onset, how in (
        ("nmsc", c.nmsc_onset, np.full(len(c.nmsc_onset), "routine_referral")),
        ("diabetes_type1", c.diabetes_type1_onset, np.full(len(c.nmsc_onset), "symptoms")),
        (
            "diabetes_type2",
            c.diabetes_type2_onset,
            np.where(c.diabetes_type2_by_hba1c, "hba1c", "symptoms"),
        ),
    ):
        who = np.flatnonzero(onset != NO_DATE)
        parts.append((who, np.full(len(who), name), onset[who], how[who]))
    index = np.concatenate([p[0] for p in parts])
    condition = np.concatenate([p[1] for p in parts])
    order = np.lexsort((condition, index))
    condition_names, condition_index = np.unique(condition[order], return_inverse=True)
    how = np.concatenate([p[3] for p in parts])[order]
    how_names_all, how_index = np.unique(how, return_inverse=True)
    return {
        "patient_id": patients.patient_id[index[order]],
        "condition": (condition_index, condition_names.tolist()),
        "onset_date": np.concatenate([p[2] for p in parts])[order],
        "how_diagnosed": (how_index, how_names_all.tolist()),
    }


def attribute_rows(patients: Patients, attributes: Attributes) -> dict[str, np.ndarray]:
    """The `truth_attributes` table of a chunk: one row per patient."""
    employment = [*EMPLOYMENT_STATUS, "Not applicable (child)"]
    status = np.where(
        attributes.employment_status < 0, len(EMPLOYMENT_STATUS), attributes.employment_status
    )
    return {
        "patient_id": patients.patient_id,
        "ethnicity": (attributes.ethnicity, list(ETHNICITY)),
        "main_language": (attributes.main_language, list(MAIN_LANGUAGE)),
        "employment_status": (status, employment),
        "family_history_of_cancer": attributes.family_history_of_cancer,
    }
