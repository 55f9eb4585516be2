"""The NCL reproduction: each measure on a constructed practice worked out by hand, the same
definitions giving the same counts on the pandas reference engine, faults chosen by their id, and the
full-scale calibrated population recovering every published figure within its interval."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from codesetlib.codesets.concept_lists import NON_MELANOMA_SKIN_CANCER
from codesetlib.codesets.expand import expand_rules
from codesetlib.cohorts import PandasReference
from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.reproductions import ncl
from codesetlib.reproductions.ncl import measures

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

    1: ethnicity coded; a cancer first coded 2023-06-01 and reviewed 2023-12-01 (within 12 months);
       a care plan 2023-03-10 (within 90 days before the first cancer code).
    2: ethnicity coded after the end (does not count); cancer first coded 2023-09-01, reviewed 2024-12-01
       (too late); a care plan 2023-06-01 (92 days before the first cancer code: too early).
    3: bowel screening 2024-01-01, aged 65. 4: aged 70, screened 2021-01-01 (too early).
    5: died 2024-12-31 (not in the population). 6: a child (not in the population).
    """
    bowel = first_code("bowel_screening")
    plan = first_code("cancer_care_plan")
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
            # Typed as the kit's datasets type it: a column of nulls alone has no type.
            "end_date": pd.Series([None] * 6, dtype=pd.ArrowDtype(pa.date32())),
        }
    )
    practices = pd.DataFrame({"practice_id": [1], "borough": ["Camden"], "list_size": [6]})
    events = pd.DataFrame(
        {
            "patient_id": [1, 2, 1, 1, 2, 2, 3, 4, 1, 2],
            "date": [
                D(2010, 1, 1),
                D(2025, 6, 1),
                D(2023, 6, 1),
                D(2023, 12, 1),
                D(2023, 9, 1),
                D(2024, 12, 1),
                D(2024, 1, 1),
                D(2021, 1, 1),
                D(2023, 3, 10),
                D(2023, 6, 1),
            ],
            "code": [
                ETHNICITY,
                ETHNICITY,
                CANCER,
                REVIEW,
                CANCER,
                REVIEW,
                bowel,
                bowel,
                plan,
                plan,
            ],
            "value": [np.nan] * 10,
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
    definition = measures.completeness_definition("ethnicity", review.period)
    found = review.engine.cohort(definition, review.codes)
    assert sorted(found["patient_id"]) == [1, 2, 3, 4]


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


def test_a_care_plan_counts_from_90_days_before_the_first_cancer_code(review):
    # First codes 2023-06-01 and 2023-09-01 fall in the period; plans 83 and 92 days before them.
    assert totals(ncl.capture(review, "cancer_care_plan")) == (1, 2)


def test_every_measure_is_a_definition_the_pandas_reference_runs_alike(dataset, review):
    """The engine-independent measures: the same definitions on the reference engine, written
    apart from the Ibis plan, give the same counts by practice."""
    reference = ncl.open_review(
        dataset, review.codesets, review.period, engine=PandasReference.from_dataset(dataset)
    )
    runs = [
        lambda r: ncl.completeness(r, "ethnicity"),
        lambda r: ncl.screening(r, "bowel_screening"),
        lambda r: ncl.screening(r, "cervical_screening_25_49"),
        ncl.cancer_coded_truth,
        ncl.cancer_care_review,
        lambda r: ncl.capture(r, "cancer_care_plan"),
    ]
    for run in runs:
        ours, theirs = run(review), run(reference)
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_expected_incidence_is_the_same_on_the_pandas_reference(dataset, review):
    """Person-time at risk is an engine's entry point, so the reference engine answers it too."""
    reference = ncl.open_review(
        dataset, review.codesets, review.period, engine=PandasReference.from_dataset(dataset)
    )
    rates = pd.read_csv(ROOT / "data/reference/cancer_incidence.csv")
    ours, theirs = (
        ncl.cancer_coded_expected(review, rates),
        ncl.cancer_coded_expected(reference, rates),
    )
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    assert int(ours["observed"].sum()) == 2


def test_expected_incidence_names_an_age_the_rates_leave_out(review):
    rates = pd.DataFrame(
        {
            "age_from": [0, 0],
            "age_to": [60, 120],
            "sex": ["female", "male"],
            "rate_per_100k": [1.0] * 2,
        }
    )
    with pytest.raises(
        DatasetError, match="no band of the reference rates covers female patients aged 64"
    ):
        ncl.cancer_coded_expected(review, rates)
    overlapping = pd.concat([rates.assign(age_to=120), rates.iloc[[1]]], ignore_index=True)
    with pytest.raises(DatasetError, match="two bands cover male patients aged"):
        ncl.cancer_coded_expected(review, overlapping)


def test_each_fault_is_made_by_its_id(review):
    good = review.codesets["cancer_diagnosis"]
    made = {f.id: ncl.faulty_codeset(f, good, "snomedct-teaching-20250401") for f in ncl.FAULTS}
    assert set(made) == set(ncl.FaultId)
    assert made[ncl.FaultId.DESCENDANTS_LEFT_OUT].rules[0].descendants is False
    kept = {r.concept for r in made[ncl.FaultId.NMSC_KEPT].rules}
    assert not kept & set(NON_MELANOMA_SKIN_CANCER)
    assert len(made[ncl.FaultId.NMSC_KEPT].rules) == len(good.rules) - 4
    assert made[ncl.FaultId.WRONG_RELEASE].terminology_release == "snomedct-teaching-20250401"
    codes = {f: set(expand_rules(c).code_set) for f, c in made.items()}
    good_codes = set(expand_rules(good).code_set)
    assert all(codes[f] != good_codes for f in ncl.FaultId)
    # A fault renamed for readers is still the same fault: the id chooses it.
    renamed = ncl.Fault(
        ncl.FaultId.NMSC_KEPT,
        "skin cancer left in",
        "",
        "cancer_diagnosis",
        "cancer_coded_expected",
    )
    assert ncl.faulty_codeset(renamed, good, "x").rules == made[ncl.FaultId.NMSC_KEPT].rules


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
    faults = result.faults.set_index("id")["bias (points)"]
    assert faults[ncl.FaultId.DESCENDANTS_LEFT_OUT] < -50
    assert faults[ncl.FaultId.HISTORY_AND_SUSPECTED_INCLUDED] > 10
    assert faults[ncl.FaultId.WRONG_RELEASE] < -5
