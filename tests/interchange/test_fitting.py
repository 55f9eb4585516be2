"""Fitting hierarchy rules to a flat list of codes, worked by hand on the teaching release."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesetlib.codesets.fitting import expand_fitted, fit_codes
from codesetlib.terminology import Terminology, open_release

TEACHING = "snomedct-teaching-20240401"
DIABETES = "73211009"
TYPE_1, TYPE_2 = "46635009", "44054006"
RETINOPATHY = "4855003"  # Diabetic retinopathy, whose one child is also under type 2 diabetes
RETINOPATHY_TYPE_2 = "422034002"


@pytest.fixture(scope="module")
def teaching() -> Terminology:
    return open_release(TEACHING)


def subtree(terminology: Terminology, code: str) -> set[str]:
    return {code} | set(terminology.descendants_of(code))


def targets(rules) -> list[tuple[str, str]]:
    return [(r.action, r.target) for r in rules]


def test_a_whole_subtree_is_one_rule(teaching):
    fit = fit_codes(subtree(teaching, DIABETES), teaching)
    assert targets(fit.rules) == [("include", "73211009 |Diabetes mellitus| and descendants")]
    assert fit.exact and len(fit.codes) == 14


def test_a_subtree_with_a_hole_is_an_include_and_an_exclude(teaching):
    codes = subtree(teaching, DIABETES) - subtree(teaching, TYPE_1)
    fit = fit_codes(codes, teaching)
    assert targets(fit.rules) == [
        ("include", "73211009 |Diabetes mellitus| and descendants"),
        ("exclude", "46635009 |Diabetes mellitus type 1| and descendants"),
    ]
    assert fit.exact


def test_a_hole_with_listed_codes_below_it_is_excluded_alone(teaching):
    # Retinopathy due to type 2 diabetes stays (it is under type 2 diabetes too), so the hole at
    # diabetic retinopathy cannot be excluded with its descendants.
    fit = fit_codes(subtree(teaching, DIABETES) - {RETINOPATHY}, teaching)
    assert targets(fit.rules) == [
        ("include", "73211009 |Diabetes mellitus| and descendants"),
        ("exclude", "4855003 |Diabetic retinopathy| only"),
    ]
    assert fit.exact


def test_two_sibling_subtrees_are_two_includes(teaching):
    fit = fit_codes(subtree(teaching, TYPE_1) | subtree(teaching, TYPE_2), teaching)
    assert targets(fit.rules) == [
        ("include", "44054006 |Diabetes mellitus type 2| and descendants"),
        ("include", "46635009 |Diabetes mellitus type 1| and descendants"),
    ]


def test_a_code_whose_descendants_are_not_listed_is_a_single_code(teaching):
    fit = fit_codes([TYPE_2, RETINOPATHY_TYPE_2], teaching)
    assert targets(fit.rules) == [
        ("include", "422034002 |Retinopathy due to type 2 diabetes mellitus| and descendants"),
        ("include", "44054006 |Diabetes mellitus type 2| only"),
    ]
    assert fit.counts() == {
        "include with descendants": 1,
        "include single code": 1,
        "exclude": 0,
    }


def test_unknown_and_inactive_codes_are_reported_not_dropped(teaching):
    fit = fit_codes([DIABETES, "29999999105", "1234567890", " 73211009"], teaching)
    assert fit.not_in_release == ["1234567890"]
    assert fit.inactive == ["29999999105"]
    assert ("include", "29999999105 |Malignant neoplasm of large bowel NOS| only") in targets(
        fit.rules
    )
    assert fit.codes == {DIABETES, "29999999105"} and fit.exact
    summary = "\n".join(fit.summary())
    assert "1 code(s) inactive" in summary and "29999999105" in summary
    assert "1 code(s) not in snomedct-teaching-20240401, left out: 1234567890" in summary


def test_the_fit_of_every_shipped_codeset_is_exact_and_no_longer_than_its_rules(teaching):
    from pathlib import Path

    from codesetlib.codesets.files import available_codesets, load_codeset, read_codes

    root = Path(__file__).parents[2] / "codesets"
    for codeset_id in available_codesets(root):
        codeset = load_codeset(root / codeset_id)
        terminology = open_release(codeset.terminology_release)
        codes = [row.code for row in read_codes(root / codeset_id)]
        fit = fit_codes(codes, terminology)
        assert fit.exact, codeset_id
        assert len(fit.rules) <= len(codeset.rules), codeset_id


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), root=st.sampled_from(["363346000", DIABETES, "254837009"]))
def test_fitted_rules_expand_to_exactly_any_subset_of_a_subtree(teaching, data, root):
    pool = sorted(subtree(teaching, root))
    chosen = data.draw(st.sets(st.sampled_from(pool), min_size=1))
    fit = fit_codes(chosen, teaching)
    assert expand_fitted(fit.rules, teaching) == chosen
    assert fit.exact and len(fit.rules) <= len(chosen)
