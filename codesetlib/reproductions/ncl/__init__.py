"""The North Central London cancer-coding review, reproduced from coded events through codesets.

Bhuiya et al., "Quality of Cancer-Related Clinical Coding in Primary Care in North Central London: Mixed
Methods Quality Improvement Project", JMIR 2026, doi 10.2196/73205: over 1.4 million adults in five
boroughs, 2023-2025. Every measure here is computed from the dataset's coded events through the example
minimum-dataset codesets; nothing reads the parameters the synthetic data were generated with.

The package, by job: `published` (the review's figures), `measures` (each measure as a cohort
definition run by a cohort engine, by practice), `statistics` (estimates, intervals and the
summary), `faults` (classic codeset faults and the bias each causes) and `tables` (what the
record shows, protected). `reproduce` runs them all.

Definitions (each a choice the review's text leaves open, stated so it can be checked):
- Population: adults (18 or over) registered and alive at the end of the period.
- Completeness: the share of the population with any code of the item's codeset on or before the end.
- Screening coverage: eligible people with a screening code within the interval before the end (bowel
  60-74 within 2.5 years; breast women 53-70 within 3 years; cervical women 25-49 within 3.5 years and
  50-64 within 5.5 years).
- New cancers coded, against the registry truth: of people in the population whose cancer (not NMSC)
  began in the period, the share with a cancer diagnosis code by the end plus a grace period for
  recording delay (default 90 days).
- New cancers coded, against expected: people whose first cancer code falls in the period, over the
  new cancers expected from reference incidence rates and the population's person-years.
- Cancer care review (as QOF CAN004): of people whose first cancer code falls 12 to 24 months before
  the end (so each has had 12 months), the share with a review code within 12 months of it.
- Care plan, needs assessment, staging, treatment: of people whose first cancer code falls in the
  period, the share with such a code from 90 days before it to the end plus the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.reproductions.ncl.faults import (
    FAULTS,
    Fault,
    FaultId,
    fault_effects,
    faulty_codeset,
)
from codesetlib.reproductions.ncl.measures import (
    CAPTURE,
    CODESETS,
    SCREENING,
    Period,
    Review,
    all_measures,
    cancer_care_review,
    cancer_coded_expected,
    cancer_coded_truth,
    capture,
    completeness,
    load_codesets,
    open_review,
    read_rates,
    screening,
)
from codesetlib.reproductions.ncl.published import PUBLISHED, Published, label_of
from codesetlib.reproductions.ncl.statistics import clustered_interval, estimate, summary
from codesetlib.reproductions.ncl.tables import (
    by_borough,
    fault_table,
    funnel_ready,
    record_table,
    within_interval,
)


@dataclass(frozen=True)
class Reproduction:
    """Everything the reproduction shows: the measures by practice, the summary and the faults."""

    measures: dict[str, pd.DataFrame]
    summary: pd.DataFrame
    faults: pd.DataFrame


def reproduce(
    dataset_dir: Path,
    codesets_dir: Path,
    rates_file: Path,
    period: Period,
    *,
    versions: dict[str, str] | None = None,
    other_release: str = "snomedct-teaching-20250401",
) -> Reproduction:
    """Run the whole reproduction on a dataset."""
    review = open_review(dataset_dir, load_codesets(codesets_dir, versions=versions), period)
    rates = read_rates(rates_file)
    measures = all_measures(review, rates)
    return Reproduction(measures, summary(measures), fault_effects(review, rates, other_release))


__all__ = [
    "CAPTURE",
    "CODESETS",
    "FAULTS",
    "PUBLISHED",
    "SCREENING",
    "Fault",
    "FaultId",
    "Period",
    "Published",
    "Reproduction",
    "Review",
    "all_measures",
    "by_borough",
    "cancer_care_review",
    "cancer_coded_expected",
    "cancer_coded_truth",
    "capture",
    "clustered_interval",
    "completeness",
    "estimate",
    "fault_effects",
    "fault_table",
    "faulty_codeset",
    "funnel_ready",
    "label_of",
    "load_codesets",
    "open_review",
    "read_rates",
    "record_table",
    "reproduce",
    "screening",
    "summary",
    "within_interval",
]
