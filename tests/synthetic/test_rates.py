"""Realised rates, recovered from coded events through codesets, match the calibrated ones.

The expected figures are the published NCL figures written here, not read from the calibration file:
the test checks that the generator's coding process delivers them."""

from __future__ import annotations

import math

import duckdb
import pytest

from tests.synthetic.conftest import descendants

NMSC = ("254701007", "254651007", "254702000", "269582000", "253001006")
CANCER = descendants("363346000", minus=(*NMSC, "128462008"))


def _share_with_code(
    db: duckdb.DuckDBPyConnection, codes: set[str], population: str
) -> tuple[float, int]:
    """The share of patients in `population` (a query of patient_id) with any of `codes`."""
    db.execute("create or replace temp table wanted as select unnest(?) as code", [sorted(codes)])
    n, k = db.execute(
        f"""select count(*), count(*) filter (where patient_id in (
                select patient_id from clinical_events join wanted using (code)))
            from ({population})"""
    ).fetchone()
    return k / n, n


def _assert_close(observed: float, expected: float, n: int) -> None:
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) <= 4 * se, f"{observed:.4f} vs {expected} (n={n}, se={se:.4f})"


@pytest.mark.parametrize(
    ("roots", "minus", "expected", "population"),
    [
        (
            ("599999999109", "372148003"),
            ("639999999109", "649999999104"),
            0.865,
            "select patient_id from patients",
        ),
        (("679999999106",), (), 0.687, "select patient_id from patients"),
        (
            ("719999999107",),
            (),
            0.024,
            "select patient_id from truth_attributes where employment_status not like 'Not applicable%'",
        ),
        (("275937001", "389999999100"), (), 0.148, "select patient_id from patients"),
    ],
    ids=["ethnicity", "main_language", "employment_status", "family_history_of_cancer"],
)
def test_context_recording_matches_the_ncl_figures(db, roots, minus, expected, population):
    observed, n = _share_with_code(db, descendants(*roots, minus=minus), population)
    _assert_close(observed, expected, n)


NEW_CANCERS = """
    with spans as (
        select patient_id, min(start_date) as registered,
               max(coalesce(end_date, date '2025-12-31')) as record_end
        from registrations group by 1)
    select t.patient_id, t.onset_date from truth_conditions t join spans using (patient_id)
    where t.condition like '%_cancer' and t.onset_date >= date '2015-01-01'
      and t.onset_date <= date '2025-06-30' and t.onset_date >= spans.registered
      and t.onset_date <= spans.record_end - 30
"""


def test_expected_new_cancers_are_coded_at_the_calibrated_rate(db):
    observed, n = _share_with_code(db, CANCER, f"select patient_id from ({NEW_CANCERS})")
    assert n > 500
    _assert_close(observed, 0.87, n)


def _care_share(db, codes: set[str]) -> tuple[float, int]:
    """Among new coded cancers followed for a year, the share with one of `codes` within 12 months."""
    db.execute("create or replace temp table cancer as select unnest(?) as code", [sorted(CANCER)])
    db.execute("create or replace temp table care as select unnest(?) as code", [sorted(codes)])
    return db.execute(
        f"""
        with new as ({NEW_CANCERS}),
        first_code as (
            select e.patient_id, min(e.date) as coded from clinical_events e
            join cancer using (code) join new using (patient_id) group by 1),
        spans as (
            select patient_id, max(coalesce(end_date, date '2025-12-31')) as record_end
            from registrations group by 1),
        eligible as (
            select f.* from first_code f join spans using (patient_id)
            where f.coded >= date '2015-01-01' and f.coded + 365 <= spans.record_end)
        select avg(case when exists (
                select 1 from clinical_events e join care using (code)
                where e.patient_id = eligible.patient_id
                  and e.date between eligible.coded and eligible.coded + 365) then 1.0 else 0 end),
               count(*)
        from eligible
        """
    ).fetchone()


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (descendants("720006006"), 0.66),
        (descendants("399390009", "559999999100"), 0.075),
        (descendants("736252007"), 0.125),
        ({"529999999106"}, 0.125),
    ],
    ids=["cancer_care_review", "staging", "care_plan", "holistic_needs_assessment"],
)
def test_cancer_care_is_recorded_at_the_calibrated_rate(db, codes, expected):
    observed, n = _care_share(db, codes)
    assert n > 300
    _assert_close(observed, expected, n)


def test_practices_differ_in_their_recording(db):
    """Each practice draws its own completeness: practice rates spread wider than chance alone."""
    db.execute(
        "create or replace temp table eth as select unnest(?) as code",
        [sorted(descendants("599999999109", "372148003", minus=("639999999109", "649999999104")))],
    )
    rates = db.execute(
        """
        with first_practice as (
            select patient_id, arg_min(practice_id, start_date) as practice_id
            from registrations group by 1),
        coded as (select distinct patient_id from clinical_events join eth using (code))
        select practice_id, count(*) as n, avg((c.patient_id is not null)::int) as rate
        from first_practice f left join coded c using (patient_id) group by 1
        """
    ).fetchall()
    mean = sum(n * r for _, n, r in rates) / sum(n for _, n, _ in rates)
    chi2 = sum(n * (r - mean) ** 2 / (mean * (1 - mean)) for _, n, r in rates)
    assert chi2 > 5 * (len(rates) - 1)
