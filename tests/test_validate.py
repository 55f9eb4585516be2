"""Validation measures on constructed data, each answer worked out by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset
from codesetlib.validation.metrics import (
    AnomalyRules,
    accuracy,
    anomalies,
    code_usage,
    false_negative_reasons,
    false_positive_codes,
    observed_vs_expected,
    orphan_candidates,
    orphan_codes,
    overlap,
    release_drift_effect,
    usage_trend,
    wilson,
)
from tests.conftest import write_codeset
from tests.fixtures.rf2 import write_release

D = dt.date
# Ten patients: 1-4 truly have the condition; 1, 2, 5 are coded. So TP 2 (1, 2), FP 1 (5),
# FN 2 (3, 4), TN 5 (6-10).
POPULATION = pd.DataFrame({"patient_id": range(1, 11), "sex": ["female"] * 5 + ["male"] * 5})
CODED = [1, 2, 5]
TRUTH = [1, 2, 3, 4]


def test_the_two_by_two_table_and_its_measures():
    row = accuracy(POPULATION, CODED, TRUTH).iloc[0]
    assert (row.tp, row.fp, row.fn, row.tn) == (2, 1, 2, 5)
    assert row.sensitivity == pytest.approx(2 / 4)
    assert row.specificity == pytest.approx(5 / 6)
    assert row.ppv == pytest.approx(2 / 3)
    assert row.npv == pytest.approx(5 / 7)


def test_wilson_intervals_match_the_formula():
    # Wilson interval for 2 of 4: centre (k + z²/2)/(n + z²), half-width z/(n+z²)·sqrt(k(n-k)/n + z²/4).
    z = 1.959963984540054
    k, n = 2, 4
    centre = (k + z**2 / 2) / (n + z**2)
    half = z / (n + z**2) * np.sqrt(k * (n - k) / n + z**2 / 4)
    low, high = wilson(np.array([k]), np.array([n]))
    assert (low[0], high[0]) == pytest.approx((centre - half, centre + half))
    low, high = wilson(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_measures_by_group():
    table = accuracy(POPULATION, CODED, TRUTH, by=["sex"]).set_index("sex")
    # Women 1-5: TP 1, 2; FP 5; FN 3, 4. Men 6-10: all true negatives.
    assert table.loc["female", ["tp", "fp", "fn", "tn"]].tolist() == [2, 1, 2, 0]
    assert table.loc["male", ["tp", "fp", "fn", "tn"]].tolist() == [0, 0, 0, 5]
    assert np.isnan(table.loc["male", "sensitivity"])
    assert table.loc["male", "specificity"] == 1.0


def test_false_positives_are_traced_to_codes():
    events = pd.DataFrame({"patient_id": [1, 2, 5, 5], "code": ["a", "h", "h", "h"]})
    table = false_positive_codes(events, TRUTH, {"a": "Cancer", "h": "History of cancer"})
    assert table.to_dict("records")[0] == {
        "code": "h",
        "term": "History of cancer",
        "patients": 2,
        "false_positives": 1,
        "share_false": 0.5,
    }


def test_false_negatives_are_split_into_uncoded_and_coded_elsewhere():
    near = pd.DataFrame({"patient_id": [3, 3, 9], "code": ["x", "y", "x"]})
    split, codes = false_negative_reasons({3, 4}, near, {"x": "X", "y": "Y"})
    assert split.to_dict("records") == [
        {"reason": "coded outside the codeset", "patients": 1},
        {"reason": "not coded", "patients": 1},
    ]
    assert codes["code"].tolist() == ["x", "y"]


def test_code_usage_marks_unused_and_dominant_codes():
    events = pd.DataFrame({"patient_id": [1, 1, 2, 3], "code": ["a", "a", "a", "b"]})
    table = code_usage(events, {"a": "A", "b": "B", "c": "C"}).set_index("code")
    assert table.loc["a", ["patients", "events", "note"]].tolist() == [2, 3, "dominant"]
    assert table.loc["c", ["patients", "events", "note"]].tolist() == [0, 0, "unused"]
    assert table.loc["b", "share_of_events"] == 0.25


def test_orphans_are_near_codes_in_the_data_not_in_the_codeset(tmp_path, terminology):
    folder = write_codeset(tmp_path / "codesets")
    path = folder / "codeset.yaml"
    path.write_text(
        path.read_text().replace(
            '"363346000"\n    term: Malignant neoplastic disease',
            '"254837009"\n    term: Malignant neoplasm of breast',
        )
    )
    codeset = load_codeset(folder)
    expansion = expand_rules(codeset, terminology)
    candidates = orphan_candidates(codeset, expansion, terminology)
    # Siblings of breast (other children of the cancer root) are near; diabetes is not.
    assert candidates["363406005"] == "sibling of 254837009"
    assert "44054006" not in candidates
    events = pd.DataFrame(
        {"patient_id": [1, 2, 2, 3], "code": ["363406005", "363406005", "399068003", "44054006"]}
    )
    table = orphan_codes(events, candidates, {"363406005": "Colon", "399068003": "Prostate"})
    assert table[["code", "patients"]].values.tolist() == [["363406005", 2], ["399068003", 1]]


def test_usage_trend_counts_by_year():
    events = pd.DataFrame(
        {
            "patient_id": [1, 1, 2],
            "code": ["a", "a", "a"],
            "date": [D(2020, 3, 1), D(2020, 9, 1), D(2021, 1, 1)],
        }
    )
    trend = usage_trend(events, "YS")
    assert trend[["events", "patients"]].values.tolist() == [[2, 1], [1, 1]]


def test_anomalies_are_counted_by_kind():
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2],
            "date_of_birth": [D(1950, 1, 1), D(2000, 1, 1)],
            "date_of_death": [None, D(2020, 1, 1)],
        }
    )
    events = pd.DataFrame(
        {
            "patient_id": [1, 1, 2, 2, 2, 1],
            "date": [
                D(1900, 1, 1),
                D(2030, 1, 1),
                D(1999, 1, 1),
                D(2021, 1, 1),
                D(2010, 1, 1),
                D(2010, 1, 1),
            ],
            "code": ["a", "a", "b", "b", "hba1c", "hba1c"],
            "value": [None, None, None, None, 900.0, 48.0],
        }
    )
    rules = AnomalyRules(extract_date=D(2025, 3, 31), value_ranges={"hba1c": (20, 200)})
    table = anomalies(events, patients, rules).set_index("anomaly")
    assert table["events"].to_dict() == {
        "before birth": 2,
        "after death": 1,
        "in the future": 1,
        "placeholder date": 1,
        "repeated": 0,
        "implausible value": 1,
    }


def test_observed_against_expected_with_an_exact_interval():
    population = pd.DataFrame({"sex": ["female", "male"], "person_years": [100_000, 50_000]})
    rates = pd.DataFrame({"sex": ["female", "male"], "rate_per_100k": [500.0, 600.0]})
    observed = pd.DataFrame({"sex": ["female", "male"], "observed": [400, 300]})
    strata, total = observed_vs_expected(observed, population, rates, ["sex"])
    assert strata["expected"].tolist() == [500.0, 300.0]
    row = total.iloc[0]
    assert (row.observed, row.expected, row.ratio) == (700, 800.0, 0.875)
    assert row.ratio_low < 0.875 < row.ratio_high
    assert (row.ratio_low, row.ratio_high) == pytest.approx((0.8116, 0.9424), abs=1e-3)


def test_overlap_of_two_codesets():
    table = overlap({1, 2, 3}, {3, 4}, ("A", "B"))
    assert table["patients"].tolist() == [2, 1, 1]


def test_release_drift_moves_patients(tmp_path):
    from codesetlib.terminology.snomedct import SnomedCT

    old = SnomedCT(write_release(tmp_path / "a", date="20240101"))
    new = SnomedCT(
        write_release(
            tmp_path / "b",
            date="20240701",
            inactive={"363406005": ("900000000000526001", "254837009")},
        )
    )
    codeset = load_codeset(write_codeset(tmp_path / "codesets"))
    events = pd.DataFrame({"patient_id": [1, 2], "code": ["363406005", "254837009"]})
    effect = release_drift_effect(codeset, old, new, events)
    assert effect.codes_removed == ["363406005"]
    assert (effect.patients_before, effect.patients_after, effect.patients_lost) == (2, 1, 1)
