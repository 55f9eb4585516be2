"""The figures the North Central London review published, one for each measure the kit reproduces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    """A figure the review published: its value (a share) or, where it gave none, its words."""

    measure: str
    label: str
    value: float | None
    words: str = ""


PUBLISHED = [
    Published("ethnicity", "Ethnicity recorded", 0.865),
    Published("main_spoken_language", "Main language recorded", 0.687),
    Published("employment_status", "Employment status recorded", 0.024),
    Published("family_history_recorded", "Family history of cancer recorded", 0.148),
    Published(
        "bowel_screening",
        "Bowel screening coverage (60-74, 2.5 years)",
        None,
        "aligned with national data",
    ),
    Published(
        "breast_screening", "Breast screening coverage (women 53-70, 3 years)", None, "fragmented"
    ),
    Published(
        "cervical_screening_25_49",
        "Cervical screening coverage (25-49, 3.5 years)",
        None,
        "aligned with national data",
    ),
    Published(
        "cervical_screening_50_64",
        "Cervical screening coverage (50-64, 5.5 years)",
        None,
        "aligned with national data",
    ),
    Published("cancer_coded_truth", "New cancer diagnoses coded (against the registry)", 0.87),
    Published(
        "cancer_coded_expected", "New cancer diagnoses coded (against expected incidence)", 0.87
    ),
    Published("cancer_care_review", "Cancer care review within 12 months (CAN004)", 0.66),
    Published("cancer_care_plan", "Cancer care plan recorded", None, "sparsely recorded"),
    Published(
        "holistic_needs_assessment", "Holistic needs assessment recorded", None, "sparsely recorded"
    ),
    Published("cancer_staging", "Stage recorded", None, "rarely captured"),
    Published("cancer_treatment", "Treatment recorded", None, "rarely captured"),
]


def label_of(measure: str) -> str:
    """The label of the published figure a measure reproduces."""
    return next(p.label for p in PUBLISHED if p.measure == measure)
