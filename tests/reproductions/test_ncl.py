"""The NCL reproduction: each measure on a constructed practice worked out by hand, and the full-scale
calibrated population recovering every published figure within its interval."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.reproductions import ncl

ROOT = Path(__file__).resolve().parents[2]
D = dt.date
ETHNICITY = "315236000"  # White British
BOWEL = None  # filled from the codeset below
CANCER = "254837009"  # Malignant neoplasm of breast
REVIEW = "720006006"  # Cancer care review


def first_code(codeset: str) -> str:
    return (ROOT / "codesets" / codeset / "codes.csv").read_text().splitlines()[1].split(",")[0]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """One practice, six patients (all adults on 2025-03-31 except patient 6, aged 10).

    1: ethnicity coded; a cancer first coded 2023-06-01 and reviewed 2023-12-01 (within 12 months).
    2: ethnicity coded after the end (does not count); cancer first coded 2023-09-01, reviewed 2024-12-01
       (too late). 3: bowel screening 2024-01-01, aged 65. 4: aged 70, screened 2021-01-01 (too early).
    5: died 2024-12-31 (not in the population). 6: a child (not in the population).
    """
    bowel = first_code("bowel_screening")
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4, 5, 6],
            "sex": ["female", "female", "male", "male", "female", "male"],
            "date_of_birth": [
                D(1960, 1, 1),
                D(1970, 1, 1),
                D(1959, 6, 1),
                D(1954, 6, 1),
                D(1950, 1, 1),
                D(2014, 6, 1),
            ],
            "date_of_death": [None, None, None, None, D(2024, 12, 31), None],
            "imd_quintile": [1, 2, 3, 4, 5, 1],
        }
    )
    registrations = pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4, 5, 6],
            "practice_id": [1] * 6,
            "start_date": [D(2000, 1, 1)] * 6,
            "end_date": [None] * 6,
        }
    )
    practices = pd.DataFrame({"practice_id": [1], "borough": ["Camden"], "list_size": [6]})
    events = pd.DataFrame(
        {
            "patient_id": [1, 2, 1, 1, 2, 2, 3, 4],
            "date": [
                D(2010, 1, 1),
                D(2025, 6, 1),
                D(2023, 6, 1),
                D(2023, 12, 1),
                D(2023, 9, 1),
                D(2024, 12, 1),
                D(2024, 1, 1),
                D(2021, 1, 1),
            ],
            "code": [ETHNICITY, ETHNICITY, CANCER, REVIEW, CANCER, REVIEW, bowel, bowel],
            "value": [np.nan] * 8,
        }
    )
    truth = pd.DataFrame(
        {
            "patient_id": [1, 2, 3],
            "condition": ["breast_cancer", "breast_cancer", "lung_cancer"],
            "onset_date": [D(2023, 5, 20), D(2023, 8, 20), D(2024, 2, 1)],
            "how_diagnosed": ["screening"] * 3,
        }
    )
    for name, frame in {
        "patients": patients,
        "registrations": registrations,
        "practices": practices,
        "clinical_events": events,
        "truth_conditions": truth,
    }.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


@pytest.fixture
def review(dataset: Path) -> ncl.Review:
    return ncl.open_review(dataset, ncl.load_codesets(ROOT / "codesets"), ncl.Period())


def totals(table: pd.DataFrame) -> tuple[int, int]:
    return int(table["numerator"].sum()), int(table["denominator"].sum())


def test_the_population_is_adults_registered_and_alive_at_the_end(review):
    assert sorted(review.sql("SELECT patient_id FROM population")["patient_id"]) == [1, 2, 3, 4]


def test_completeness_counts_codes_up_to_the_end_only(review):
    assert totals(ncl.completeness(review, "ethnicity")) == (1, 4)


def test_bowel_screening_counts_the_eligible_screened_within_two_and_a_half_years(review):
    # Eligible (60-74): patients 1 (65), 3 (65) and 4 (70); only 3 was screened within the interval.
    assert totals(ncl.screening(review, "bowel_screening")) == (1, 3)


def test_new_cancers_coded_against_the_truth(review):
    # Three true cancers began in the period; patients 1 and 2 are coded, patient 3 is not.
    assert totals(ncl.cancer_coded_truth(review)) == (2, 3)


def test_the_care_review_must_come_within_twelve_months(review):
    # First codes 2023-06-01 and 2023-09-01 fall 12-24 months before 2025-03-31; only 1 is reviewed in time.
    assert totals(ncl.cancer_care_review(review)) == (1, 2)


def test_observed_against_expected_uses_person_years_at_risk(review):
    rates = pd.DataFrame(
        {
            "age_from": [0, 0],
            "age_to": [120, 120],
            "sex": ["female", "male"],
            "rate_per_100k": [100_000.0] * 2,
        }
    )
    table = ncl.cancer_coded_expected(review, rates)
    # Five adults at risk (patient 5 until death): two first codes in the period; expected is one a year
    # per person-year.
    assert int(table["observed"].sum()) == 2
    person_years = (
        4 * ((D(2025, 3, 31) - D(2023, 4, 1)).days + 1) + (D(2024, 12, 31) - D(2023, 4, 1)).days + 1
    ) / 365.25
    assert table["expected"].sum() == pytest.approx(person_years)


def test_the_clustered_interval_is_wider_when_practices_differ():
    same = ncl.clustered_interval(np.array([50, 50]), np.array([100, 100]))
    apart = ncl.clustered_interval(np.array([20, 80]), np.array([100, 100]))
    assert same[0] == apart[0] == 0.5
    assert same[2] - same[1] == 0
    assert apart[2] - apart[1] > 0.5


@pytest.mark.slow
def test_the_calibrated_population_recovers_every_published_figure(tmp_path: Path):
    """About 1.4 million adults in five boroughs: every published figure inside its 95% interval."""
    params = SynthParams(patients=2_050_000, practices=250, seed=42)
    generate_dataset(params, tmp_path / "ncl")
    result = ncl.reproduce(
        tmp_path / "ncl",
        ROOT / "codesets",
        ROOT / "data/reference/cancer_incidence.csv",
        ncl.Period(),
    )
    adults = result.summary.loc[result.summary["measure"] == "ethnicity", "denominator"].item()
    assert adults > 1_400_000
    figures = result.summary[result.summary["published"].notna()]
    assert figures["recovered"].all(), figures[
        ["measure", "published", "reproduced", "low", "high"]
    ]
    faults = result.faults.set_index("fault")["bias (points)"]
    assert faults["descendants left out"] < -50
    assert faults["'history of' and 'suspected' codes included"] > 10
    assert faults["a codeset from the wrong release"] < -5
