"""Truth and coding differ where the model says they do, and codes follow the terminology releases."""

from __future__ import annotations

import datetime as dt

from codesetlib.terminology import open_release
from tests.synthetic.conftest import descendants
from tests.synthetic.test_rates import CANCER

DRIFT = dt.date(2025, 4, 1)


def _codes(db, sql: str) -> set[str]:
    return {row[0] for row in db.execute(sql).fetchall()}


def _patients_with(db, codes: set[str]) -> set[int]:
    db.execute("create or replace temp table wanted as select unnest(?) as code", [sorted(codes)])
    return _codes(db, "select distinct patient_id from clinical_events join wanted using (code)")


def test_some_true_cancers_have_no_code_and_some_codes_have_no_cancer(db):
    truth = _codes(db, "select patient_id from truth_conditions where condition like '%_cancer'")
    coded = _patients_with(db, CANCER)
    assert len(truth - coded) > 50  # true cancer, never coded
    assert 0 < len(coded - truth) < 0.2 * len(coded)  # codes without truth, rare


def test_misleading_codes_are_present(db):
    used = _codes(db, "select distinct code from clinical_events")
    for label, root in [
        ("history of", "266987004"),
        ("suspected", "299999999107"),
        ("family history of", "275937001"),
        ("no family history", "389999999100"),
        ("negative cervical screening", "888091000000108"),
        ("declined bowel screening", "429999999105"),
        ("non-melanoma skin cancer", "254701007"),
    ]:
        assert used & descendants(root), label
    assert "363346000" in used  # the vague code itself, not a site


def test_some_historic_entries_carry_the_default_date(db):
    (count,) = db.execute(
        "select count(*) from clinical_events where date = date '1900-01-01'"
    ).fetchone()
    assert count > 0


def test_inactivated_codes_are_used_only_before_the_later_release(db):
    before, after = (open_release(f"snomedct-teaching-{d}") for d in ("20240401", "20250401"))
    rows = db.execute(
        "select code, min(date), max(date) from clinical_events group by 1"
    ).fetchall()
    drifted = 0
    for code, first, last in rows:
        concept_after = after.lookup(code)
        assert concept_after is not None, code
        if not concept_after.active:
            drifted += 1
            assert last < DRIFT, code
        if before.lookup(code) is None:
            assert first >= DRIFT, code
    assert drifted >= 8
    # Their replacements carry on after the change.
    (count,) = db.execute(
        "select count(*) from clinical_events where code = '254837009' and date >= ?", [DRIFT]
    ).fetchone()
    assert count > 0


def test_medications_use_dmd_codes_valid_on_their_dates(db):
    before, after = (open_release(f"dmd-teaching-{d}") for d in ("20240401", "20250401"))
    for code, first, last in db.execute(
        "select code, min(date), max(date) from medications group by 1"
    ).fetchall():
        if first < DRIFT:
            assert before.lookup(code) is not None and before.lookup(code).active, code
        if last >= DRIFT:
            assert after.lookup(code) is not None and after.lookup(code).active, code


def test_hba1c_values_are_plausible(db):
    low, high, missing = db.execute(
        "select min(value), max(value), count(*) filter (where value is null) "
        "from clinical_events where code = '999791000000106'"
    ).fetchone()
    assert 20 <= low < 40 and 48 < high <= 150 and missing == 0


def test_events_fall_in_life(db):
    (bad,) = db.execute(
        """select count(*) from clinical_events e join patients p using (patient_id)
           where e.date <> date '1900-01-01' and (e.date < p.date_of_birth
                 or e.date > coalesce(p.date_of_death, date '2025-12-31'))"""
    ).fetchone()
    assert bad == 0
