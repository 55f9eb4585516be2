"""Each exercise: the flawed codeset fails with the right feedback, its solution passes, and another
wrong answer fails too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import read_codes
from codesetlib.codesets.lint import lint_codeset
from codesetlib.teaching import BuilderError
from codesetlib.teaching.exercises import (
    EXERCISES,
    SOLUTIONS_DIR,
    GradeResult,
    exercise_folder,
    grade,
    load_exercise,
    rules_as_dicts,
    with_rules,
)

# For each exercise: what the flawed original's feedback must say.
FLAWED_SAYS = {
    "lung_cancer": [
        "254632001 |Small cell carcinoma of lung| is still missing: include 363358000 "
        "|Malignant tumour of lung| with its descendants",
        "in snomedct-teaching-20250401 your rules would miss 79999999109",
    ],
    "breast_cancer_diagnosis": [
        "429087003 |History of malignant neoplasm of breast| (brought in by rule R2) is a "
        "'history of' situation, not a diagnosis",
    ],
    "bladder_cancer": [
        "255108000 |Carcinoma of bladder| (brought in by rule R1) is inactive in "
        "snomedct-teaching-20250401 (REPLACED BY 399326009 |Malignant tumour of urinary bladder|)",
        "99999999108 |Non-muscle-invasive carcinoma of urinary bladder| is still missing",
    ],
    "colorectal_cancer_2025": [
        "pinned to snomedct-teaching-20240401, but it is meant for data coded with "
        "snomedct-teaching-20250401",
        "59999999104 |Early-onset colorectal cancer| is still missing: it was added in "
        "snomedct-teaching-20250401",
        "269533000 |Carcinoma of colon| (brought in by rule R1) is inactive",
    ],
    "cancer_register": [
        "254701007 |Basal cell carcinoma of skin| (brought in by rule R1) is non-melanoma skin "
        "cancer",
        "231832009 |Basal cell carcinoma of eyelid| (brought in by rule R1) is non-melanoma skin "
        "cancer, which the QOF register leaves out: exclude 254701007",
    ],
    "breast_screening_uptake": [
        "469999999101 |Breast cancer screening declined| (brought in by rule R4) records that "
        "screening was declined",
    ],
}

# Another wrong answer for each: the rules (and release) a learner might write, and what it gets.
LUNG = {"id": "R1", "action": "include", "term": "Malignant tumour of lung"}
SINGLE_LUNG_CODES = [
    {"id": f"R{n}", "action": "include", "code": code, "term": "a lung cancer"}
    for n, code in enumerate(
        ["363358000", "93880001", "254632001", "254637007", "254626006", "254629004", "254634000"],
        start=1,
    )
]
SKIN = {"action": "exclude", "concept": "372130007", "term": "Malignant neoplasm of skin"}
NMSC_ONE_BY_ONE = [
    {"id": f"S{n}", "action": "exclude", "code": code, "term": "NMSC"}
    for n, code in enumerate(
        [
            "254701007",
            "231832009",
            "402529002",
            "403914000",
            "254651007",
            "254702000",
            "269582000",
        ]
    )
]
OTHER_WRONG = {
    "lung_cancer": (
        SINGLE_LUNG_CODES,
        None,
        "your rules would miss 79999999109 |Epidermal growth factor receptor",
    ),
    "breast_cancer_diagnosis": (
        [
            {
                "id": "R1",
                "action": "include",
                "concept": "254837009",
                "term": "Malignant neoplasm of breast",
                "descendants": False,
            }
        ],
        None,
        "254840009 |Inflammatory carcinoma of breast| is still missing",
    ),
    "bladder_cancer": (
        None,
        "snomedct-teaching-20240401",
        "meant for data coded with snomedct-teaching-20250401",
    ),
    "cancer_register": (
        "flawed+",
        [{"id": "R3", **SKIN}],
        "93655004 |Malignant melanoma of skin| is removed by rule R3 (exclude 372130007",
    ),
    "breast_screening_uptake": (
        "flawed-",
        ["R3", "R4"],
        "449999999102 |Breast cancer screening finding| (rule R2) is outside what this codeset",
    ),
}


def fix(exercise_id: str, rules, release):
    """A learner's fix: new rules, extra rules ("flawed+") or rules removed ("flawed-")."""
    flawed = load_exercise(exercise_id)
    if rules == "flawed+":
        return with_rules(flawed, [*rules_as_dicts(flawed), *release])
    if rules == "flawed-":
        return with_rules(flawed, [r for r in rules_as_dicts(flawed) if r["id"] not in release])
    return with_rules(flawed, rules or rules_as_dicts(flawed), release)


def test_there_are_at_least_five_exercises_each_with_a_solution() -> None:
    assert len(EXERCISES) >= 5
    assert set(FLAWED_SAYS) == set(EXERCISES)
    for exercise_id in EXERCISES:
        assert (exercise_folder(exercise_id) / "codes.csv").is_file()
        assert (exercise_folder(exercise_id, SOLUTIONS_DIR) / "codes.csv").is_file()


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_flawed_codeset_fails_with_specific_feedback(exercise_id: str) -> None:
    result = grade(exercise_id, exercise_folder(exercise_id))
    assert not result.passed
    for expected in FLAWED_SAYS[exercise_id]:
        assert any(expected in message for message in result.feedback), (
            expected,
            result.feedback,
        )


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_flawed_codeset_fails_as_a_model_too(exercise_id: str) -> None:
    assert not grade(exercise_id, load_exercise(exercise_id)).passed


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_reference_solution_passes(exercise_id: str) -> None:
    result = grade(exercise_id, exercise_folder(exercise_id, SOLUTIONS_DIR))
    assert result.passed, result.feedback
    assert len(result.feedback) == 1


@pytest.mark.parametrize("exercise_id", list(OTHER_WRONG))
def test_another_wrong_answer_fails(exercise_id: str) -> None:
    rules, release, expected = OTHER_WRONG[exercise_id]
    result = grade(exercise_id, fix(exercise_id, rules, release))
    assert not result.passed
    assert any(expected in message for message in result.feedback), result.feedback


def test_a_new_release_with_old_codes_csv_fails_on_drift(tmp_path: Path) -> None:
    folder = tmp_path / "colorectal_cancer_2025"
    shutil.copytree(exercise_folder("colorectal_cancer_2025"), folder)
    path = folder / "codeset.yaml"
    data = yaml.safe_load(path.read_text())
    data["terminology_release"] = "snomedct-teaching-20250401"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = grade("colorectal_cancer_2025", folder)
    assert not result.passed
    assert any("codes.csv lacks 59999999104" in m for m in result.feedback), result.feedback
    assert any("codeset expand --write" in m for m in result.feedback)


def test_nmsc_excluded_code_by_code_fails_for_the_next_release() -> None:
    flawed = load_exercise("cancer_register")
    fixed = with_rules(flawed, [*rules_as_dicts(flawed), *NMSC_ONE_BY_ONE])
    result = grade("cancer_register", fixed)
    assert not result.passed
    assert any(
        "would let in 179999999100 |Basal cell carcinoma of skin of face|" in m
        for m in result.feedback
    )


def test_excluding_the_unspecified_skin_code_alone_is_accepted() -> None:
    solution = load_exercise("cancer_register", SOLUTIONS_DIR)
    skin_alone = {"id": "R7", **SKIN, "descendants": False}
    assert grade(
        "cancer_register", with_rules(solution, [*rules_as_dicts(solution), skin_alone])
    ).passed


def test_a_fix_that_does_not_expand_fails_without_raising() -> None:
    flawed = load_exercise("lung_cancer")
    unknown = {"id": "R1", "action": "include", "concept": "12345", "term": "Not a concept"}
    result = grade("lung_cancer", with_rules(flawed, [unknown]))
    assert not result.passed
    assert "does not expand" in result.feedback[0]


def test_invalid_rules_and_unknown_exercises_are_refused() -> None:
    with pytest.raises(BuilderError, match="not valid"):
        with_rules(load_exercise("lung_cancer"), [{"id": "R1", "action": "include"}])
    with pytest.raises(BuilderError, match="no exercise 'nope'"):
        grade("nope", load_exercise("lung_cancer"))


def test_feedback_is_capped_and_reads_well() -> None:
    flawed = load_exercise("cancer_register")
    result = grade("cancer_register", with_rules(flawed, [{**LUNG, "concept": "363358000"}]))
    assert any(m.startswith("... and ") for m in result.feedback)
    assert str(result).startswith("cancer_register: NOT YET\n- ")
    assert GradeResult("x", True, ["ok"])._repr_markdown_().startswith("**Passed**")


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_exercise_and_solution_files_match_their_rules(exercise_id: str) -> None:
    """codes.csv of each flawed codeset and each solution is its rules' expansion (the fault is in
    the rules or the release, never in a hand-edited list)."""
    for root in ("notebooks/teaching/exercises", SOLUTIONS_DIR):
        folder = exercise_folder(exercise_id, root)
        assert read_codes(folder) == expand_rules(load_exercise(exercise_id, root)).codes


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_each_solution_lints_clean(exercise_id: str) -> None:
    findings = lint_codeset(exercise_folder(exercise_id, SOLUTIONS_DIR))
    assert [f.line() for f in findings] == []
