"""Classic codeset faults made in the cancer diagnosis codeset, and how each biases the figure it
affects when that figure is computed again on the same data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import pandas as pd

from codesetlib.codesets.concept_lists import NON_MELANOMA_SKIN_CANCER
from codesetlib.codesets.model import Codeset, CodesetRule
from codesetlib.reproductions.ncl.measures import (
    Review,
    cancer_coded_expected,
    cancer_coded_truth,
)
from codesetlib.reproductions.ncl.statistics import estimate


class FaultId(StrEnum):
    """Which fault: what code chooses a fault by (its name is for readers)."""

    DESCENDANTS_LEFT_OUT = "descendants_left_out"
    HISTORY_AND_SUSPECTED_INCLUDED = "history_and_suspected_included"
    NMSC_KEPT = "nmsc_kept"
    INACTIVE_CODE = "inactive_code"
    WRONG_RELEASE = "wrong_release"


@dataclass(frozen=True)
class Fault:
    """A classic codeset fault, the codeset it breaks, the measure it biases and how it is made."""

    id: FaultId
    name: str
    description: str
    codeset: str
    measure: Literal["cancer_coded_truth", "cancer_coded_expected"]


FAULTS = [
    Fault(
        FaultId.DESCENDANTS_LEFT_OUT,
        "descendants left out",
        "the cancer root included without its descendants, so site codes are missed",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
    Fault(
        FaultId.HISTORY_AND_SUSPECTED_INCLUDED,
        "'history of' and 'suspected' codes included",
        "'History of malignant neoplasm' and 'Suspected malignant neoplasm' added, with descendants",
        "cancer_diagnosis",
        "cancer_coded_expected",
    ),
    Fault(
        FaultId.NMSC_KEPT,
        "non-melanoma skin cancer kept",
        "the exclusions of basal and squamous cell carcinoma of skin left out",
        "cancer_diagnosis",
        "cancer_coded_expected",
    ),
    Fault(
        FaultId.INACTIVE_CODE,
        "an inactive code",
        "a code list that kept 'Malignant neoplasm of large bowel NOS' (inactive, replaced by "
        "'Malignant tumour of large intestine') instead of its replacement",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
    Fault(
        FaultId.WRONG_RELEASE,
        "a codeset from the wrong release",
        "the same rules expanded in the 2025 release, which inactivates codes "
        "that practices used throughout the period",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
]


def faulty_codeset(fault: Fault, good: Codeset, other_release: str) -> Codeset:
    """The codeset with the fault made in it (rules changed as a careless author would)."""
    rules = list(good.rules)
    match fault.id:
        case FaultId.DESCENDANTS_LEFT_OUT:
            rules[0] = rules[0].model_copy(update={"descendants": False})
        case FaultId.HISTORY_AND_SUSPECTED_INCLUDED:
            rules += [
                CodesetRule(
                    id="FAULT1",
                    action="include",
                    concept="266987004",
                    term="History of malignant neoplasm",
                ),
                CodesetRule(
                    id="FAULT2",
                    action="include",
                    concept="299999999107",
                    term="Suspected malignant neoplasm",
                ),
            ]
        case FaultId.NMSC_KEPT:
            rules = [
                r
                for r in rules
                if not (r.action == "exclude" and r.concept in NON_MELANOMA_SKIN_CANCER)
            ]
        case FaultId.INACTIVE_CODE:
            rules += [
                CodesetRule(
                    id="FAULT1",
                    action="exclude",
                    code="363510005",
                    term="Malignant tumour of large intestine",
                ),
                CodesetRule(
                    id="FAULT2",
                    action="include",
                    code="29999999105",
                    term="Malignant neoplasm of large bowel NOS",
                ),
            ]
        case FaultId.WRONG_RELEASE:
            return good.model_copy(update={"terminology_release": other_release})
        case _:
            raise ValueError(f"no way to make the fault {fault.id!r}")
    return good.model_copy(update={"rules": rules})


def fault_effects(review: Review, rates: pd.DataFrame, other_release: str) -> pd.DataFrame:
    """Each fault's effect on the figure it biases: the correct and faulty estimates and the bias."""
    measures: dict[str, Callable[[Review], pd.DataFrame]] = {
        "cancer_coded_truth": cancer_coded_truth,
        "cancer_coded_expected": lambda r: cancer_coded_expected(r, rates),
    }
    correct_by_measure: dict[str, tuple[float, float, float, float, float]] = {}
    rows = []
    for fault in FAULTS:
        if fault.measure not in correct_by_measure:
            correct_by_measure[fault.measure] = estimate(measures[fault.measure](review))
        correct = correct_by_measure[fault.measure]
        broken = faulty_codeset(fault, review.codesets[fault.codeset], other_release)
        faulty = estimate(measures[fault.measure](review.with_codeset(broken)))
        rows.append(
            {
                "id": fault.id.value,
                "fault": fault.name,
                "how it is made": fault.description,
                "measure": fault.measure,
                "correct": correct[2],
                "faulty": faulty[2],
                "faulty_low": faulty[3],
                "faulty_high": faulty[4],
                "bias (points)": 100 * (faulty[2] - correct[2]),
                "correct_numerator": correct[0],
                "correct_denominator": correct[1],
                "faulty_numerator": faulty[0],
                "faulty_denominator": faulty[1],
            }
        )
    return pd.DataFrame(rows)
