"""Code validation for each coding system: SNOMED CT and dm+d identifiers, ICD-10 codes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import verhoeff

from codesetlib.terminology.identifiers import (
    dmd_id_problem,
    first_bad_sctid,
    icd10_problem,
    normalise_icd10,
    sctid_problem,
    verhoeff_valid_many,
)


@given(st.lists(st.integers(min_value=1, max_value=10**17), min_size=1, max_size=50))
def test_the_vectorised_check_digit_agrees_with_stdnum(numbers):
    codes = [str(n) for n in numbers]
    assert verhoeff_valid_many(codes).tolist() == [verhoeff.is_valid(c) for c in codes]


def test_the_first_bad_identifier_is_found():
    assert first_bad_sctid(["138875005", "404684003"]) is None
    assert first_bad_sctid(["138875005", "404684004", "12"]) == 2
    assert first_bad_sctid(["138875005", "404684004"]) == 1


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("109081006", None),  # a VTM in the core namespace
        ("10179999999107", None),  # a VTM in the UK drug extension
        ("319996000", None),
        ("10179999999108", "check digit"),
        ("10179999999117", "partition identifier 11"),
        ("0109081006", "digits"),
        ("VTM1", "digits"),
    ],
)
def test_dmd_identifiers_are_sctids(code, problem):
    found = dmd_id_problem(code)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("C50", "C50"),
        ("C50.9", "C50.9"),
        ("C509", "C50.9"),
        ("c50.9 ", "C50.9"),
        ("I10X", "I10"),
        ("M80.08", "M80.08"),
        ("C00-C97", "C00-C97"),
        ("ii", "II"),
    ],
)
def test_icd10_codes_are_normalised(written, normal):
    assert normalise_icd10(written) == normal
    assert icd10_problem(written) is None


@pytest.mark.parametrize("code", ["50.9", "C5", "CC50", "C50.999", "C50-", ""])
def test_malformed_icd10_codes_are_refused(code):
    assert "expected a letter and two digits" in icd10_problem(code)


def test_snomed_identifiers_keep_their_partition_rules():
    assert sctid_problem("12011", partitions={"01"}) is not None  # too short
    assert sctid_problem(f"12301{verhoeff.calc_check_digit('12301')}", partitions={"01"}) is None
    assert "partition" in sctid_problem(f"12301{verhoeff.calc_check_digit('12301')}")


@pytest.mark.parametrize("code", ["138875005\n", " 138875005", "１38875005"])
def test_an_identifier_is_ascii_digits_and_nothing_else(code):
    assert sctid_problem(code) == "expected 6 to 18 digits with no leading zero"
    assert first_bad_sctid(["138875005", code]) == 1
