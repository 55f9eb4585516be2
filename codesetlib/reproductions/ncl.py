"""The North Central London cancer-coding review, reproduced from coded events through codesets.

Bhuiya et al., "Quality of Cancer-Related Clinical Coding in Primary Care in North Central London: Mixed
Methods Quality Improvement Project", JMIR 2026, doi 10.2196/73205: over 1.4 million adults in five
boroughs, 2023-2025. Every measure here is computed from the dataset's coded events through the example
minimum-dataset codesets; nothing reads the parameters the synthetic data were generated with.

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

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import chi2

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import codeset_dir, load_codeset
from codesetlib.codesets.model import Codeset
from codesetlib.cohorts.dates import Offset, add_offset
from codesetlib.cohorts.measures import protect_measure
from codesetlib.core.disclosure import (
    SUPPRESSED_FIGURE,
    Derived,
    DisclosureSettings,
    add_derived,
    protect_counts,
    shown_numbers,
)
from codesetlib.core.intervals import wilson
from codesetlib.data.synthetic.manifest import dataset_tables

CODESETS = [
    "ethnicity",
    "main_spoken_language",
    "employment_status",
    "family_history_recorded",
    "bowel_screening",
    "breast_screening",
    "cervical_screening",
    "cancer_diagnosis",
    "cancer_care_review",
    "cancer_care_plan",
    "holistic_needs_assessment",
    "cancer_staging",
    "cancer_treatment",
]


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
SCREENING = {
    # measure: (codeset, sex or None, youngest, oldest, months looked back)
    "bowel_screening": ("bowel_screening", None, 60, 74, 30),
    "breast_screening": ("breast_screening", "female", 53, 70, 36),
    "cervical_screening_25_49": ("cervical_screening", "female", 25, 49, 42),
    "cervical_screening_50_64": ("cervical_screening", "female", 50, 64, 66),
}
CAPTURE = ["cancer_care_plan", "holistic_needs_assessment", "cancer_staging", "cancer_treatment"]


@dataclass(frozen=True)
class Period:
    """The review period (both ends inclusive) and the grace for recording delay after it."""

    start: dt.date = dt.date(2023, 4, 1)
    end: dt.date = dt.date(2025, 3, 31)
    grace_days: int = 90

    @property
    def years(self) -> float:
        return ((self.end - self.start).days + 1) / 365.25

    def months_before_end(self, months: int) -> dt.date:
        return add_offset(self.end, Offset(amount=-months, unit="months")) + dt.timedelta(days=1)


@dataclass
class Review:
    """The dataset opened in DuckDB with the population and each codeset's codes as tables."""

    con: duckdb.DuckDBPyConnection
    period: Period
    codesets: dict[str, Codeset] = field(default_factory=dict)

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()


def open_review(dataset_dir: Path, codesets: dict[str, Codeset], period: Period) -> Review:
    """Register the dataset's tables, the population at the end of the period and the codes."""
    con = duckdb.connect()
    tables = ("patients", "registrations", "practices", "clinical_events", "truth_conditions")
    for table, path in dataset_tables(Path(dataset_dir), tables).items():
        con.read_parquet(str(path)).create_view(table)
    review = Review(con, period)
    set_codesets(review, codesets)
    con.execute(
        """
        CREATE OR REPLACE TABLE population AS
        SELECT p.patient_id, p.sex, r.practice_id, pr.borough,
               date_diff('year', p.date_of_birth, $end)
                 - CASE WHEN strftime(p.date_of_birth, '%m%d') > strftime($end, '%m%d') THEN 1 ELSE 0 END
                 AS age
        FROM patients p
        JOIN registrations r ON r.patient_id = p.patient_id
             AND r.start_date <= $end AND (r.end_date IS NULL OR r.end_date >= $end)
        JOIN practices pr ON pr.practice_id = r.practice_id
        WHERE (p.date_of_death IS NULL OR p.date_of_death > $end)
        QUALIFY row_number() OVER (PARTITION BY p.patient_id ORDER BY r.start_date DESC) = 1
        """,
        {"end": period.end},
    )
    con.execute("DELETE FROM population WHERE age < 18")
    return review


def set_codesets(review: Review, codesets: dict[str, Codeset]) -> None:
    """(Re)load the codes table from codesets' expansions: codes reach DuckDB as data, never SQL text."""
    review.codesets = dict(codesets)
    rows = [(cid, row.code) for cid, cs in codesets.items() for row in expand_rules(cs).codes]
    frame = pd.DataFrame(rows, columns=["codeset", "code"])
    review.con.register("codes_frame", frame)
    review.con.execute("CREATE OR REPLACE TABLE codes AS SELECT * FROM codes_frame")
    review.con.unregister("codes_frame")


def load_codesets(
    codesets_dir: Path, ids: list[str] = CODESETS, versions: dict[str, str] | None = None
) -> dict[str, Codeset]:
    """The minimum-dataset codesets at their current (or given) versions."""
    from codesetlib.codesets.versions import version_dir

    versions = versions or {}
    out = {}
    for cid in ids:
        codeset_dir(codesets_dir, cid)
        out[cid] = load_codeset(version_dir(codesets_dir, cid, versions.get(cid)))
    return out


def _by_practice(review: Review, flagged: str) -> pd.DataFrame:
    """Numerator and denominator by practice and borough from a query giving (patient_id, numerator)."""
    return review.sql(
        f"""
        SELECT pop.practice_id, pop.borough, count(*) AS denominator, sum(f.numerator::INT) AS numerator
        FROM ({flagged}) f JOIN population pop USING (patient_id)
        GROUP BY ALL ORDER BY pop.practice_id
        """
    )


def completeness(review: Review, codeset: str) -> pd.DataFrame:
    """The population with any code of `codeset` on or before the end, by practice."""
    flagged = f"""
        SELECT pop.patient_id, EXISTS (
            SELECT 1 FROM clinical_events e JOIN codes c ON c.code = e.code AND c.codeset = '{_name(codeset)}'
            WHERE e.patient_id = pop.patient_id AND e.date <= DATE '{review.period.end}'
        ) AS numerator FROM population pop"""
    return _by_practice(review, flagged)


def screening(review: Review, measure: str) -> pd.DataFrame:
    """Eligible people with a screening code within the look-back before the end, by practice."""
    codeset, sex, youngest, oldest, months = SCREENING[measure]
    since = review.period.months_before_end(months)
    sex_filter = f"AND pop.sex = '{sex}'" if sex else ""
    flagged = f"""
        SELECT pop.patient_id, EXISTS (
            SELECT 1 FROM clinical_events e JOIN codes c ON c.code = e.code AND c.codeset = '{_name(codeset)}'
            WHERE e.patient_id = pop.patient_id AND e.date BETWEEN DATE '{since}' AND DATE '{review.period.end}'
        ) AS numerator FROM population pop
        WHERE pop.age BETWEEN {int(youngest)} AND {int(oldest)} {sex_filter}"""
    return _by_practice(review, flagged)


def _first_cancer_codes(review: Review, codeset: str = "cancer_diagnosis") -> str:
    return f"""
        SELECT e.patient_id, min(e.date) AS first_code FROM clinical_events e
        JOIN codes c ON c.code = e.code AND c.codeset = '{_name(codeset)}'
        WHERE e.date <= DATE '{review.period.end}' GROUP BY e.patient_id"""


def cancer_coded_truth(review: Review, pattern: str = "_cancer$") -> pd.DataFrame:
    """Of true new cancers in the period (in the population), the share coded by the end plus grace."""
    p = review.period
    until = p.end + dt.timedelta(days=p.grace_days)
    flagged = f"""
        SELECT t.patient_id, EXISTS (
            SELECT 1 FROM clinical_events e JOIN codes c ON c.code = e.code AND c.codeset = 'cancer_diagnosis'
            WHERE e.patient_id = t.patient_id AND e.date <= DATE '{until}'
        ) AS numerator
        FROM (SELECT patient_id, min(onset_date) AS onset FROM truth_conditions
              WHERE regexp_matches(condition, ?) GROUP BY patient_id) t
        WHERE t.onset BETWEEN DATE '{p.start}' AND DATE '{p.end}'"""
    return review.sql(
        f"""SELECT pop.practice_id, pop.borough, count(*) AS denominator, sum(f.numerator::INT) AS numerator
            FROM ({flagged}) f JOIN population pop USING (patient_id) GROUP BY ALL ORDER BY pop.practice_id""",
        [pattern],
    )


def cancer_coded_expected(review: Review, rates: pd.DataFrame) -> pd.DataFrame:
    """New cancer codes in the period against the number expected from reference rates, by practice.

    At risk: adults registered at some time in the period with no cancer code before it. Person-years run
    from the later of the period's start, registration and the 18th birthday to the earliest of the
    period's end, deregistration and death; the rate is that of the person's age band (at the period's
    middle) and sex. Observed: those whose first cancer code falls in their time at risk, at least 90 days
    after registering (earlier codes are mostly past diagnoses entered when the record was set up)."""
    p = review.period
    middle = p.start + (p.end - p.start) / 2
    review.con.register("rates_frame", rates)
    table = review.sql(
        f"""
        WITH firsts AS ({_first_cancer_codes(review)}),
        at_risk AS (
            SELECT r.patient_id, r.practice_id, pt.sex, r.start_date AS registered,
                   greatest(r.start_date, DATE '{p.start}', pt.date_of_birth + INTERVAL 18 YEAR)::DATE AS since,
                   least(coalesce(r.end_date, DATE '{p.end}'), coalesce(pt.date_of_death, DATE '{p.end}'),
                         DATE '{p.end}')::DATE AS until,
                   date_diff('year', pt.date_of_birth, DATE '{middle}') AS age
            FROM registrations r JOIN patients pt USING (patient_id)
            LEFT JOIN firsts f USING (patient_id)
            WHERE f.first_code IS NULL OR f.first_code >= DATE '{p.start}'
        )
        SELECT a.practice_id, pr.borough,
               sum(CASE WHEN f.first_code BETWEEN a.since AND a.until
                         AND f.first_code >= a.registered + INTERVAL 90 DAY THEN 1 ELSE 0 END) AS observed,
               sum(r.rate_per_100k / 100000.0 * (date_diff('day', a.since, a.until) + 1) / 365.25) AS expected
        FROM at_risk a
        JOIN practices pr USING (practice_id)
        LEFT JOIN firsts f USING (patient_id)
        JOIN rates_frame r ON a.sex = r.sex AND a.age BETWEEN r.age_from AND r.age_to
        WHERE a.until >= a.since
        GROUP BY ALL ORDER BY a.practice_id
        """
    )
    review.con.unregister("rates_frame")
    return table


def cancer_care_review(review: Review) -> pd.DataFrame:
    """As CAN004: first cancer code 12-24 months before the end, with a review within 12 months of it."""
    p = review.period
    low, high = p.months_before_end(24), p.months_before_end(12) - dt.timedelta(days=1)
    flagged = f"""
        WITH firsts AS ({_first_cancer_codes(review)})
        SELECT f.patient_id, EXISTS (
            SELECT 1 FROM clinical_events e JOIN codes c ON c.code = e.code AND c.codeset = 'cancer_care_review'
            WHERE e.patient_id = f.patient_id AND e.date BETWEEN f.first_code AND f.first_code + INTERVAL 12 MONTH
        ) AS numerator FROM firsts f WHERE f.first_code BETWEEN DATE '{low}' AND DATE '{high}'"""
    return _by_practice(review, flagged)


def capture(review: Review, codeset: str) -> pd.DataFrame:
    """Of people first coded with cancer in the period, the share with a code of `codeset` around it."""
    p = review.period
    until = p.end + dt.timedelta(days=p.grace_days)
    flagged = f"""
        WITH firsts AS ({_first_cancer_codes(review)})
        SELECT f.patient_id, EXISTS (
            SELECT 1 FROM clinical_events e JOIN codes c ON c.code = e.code AND c.codeset = '{_name(codeset)}'
            WHERE e.patient_id = f.patient_id AND e.date BETWEEN f.first_code - INTERVAL 90 DAY AND DATE '{until}'
        ) AS numerator FROM firsts f WHERE f.first_code BETWEEN DATE '{p.start}' AND DATE '{p.end}'"""
    return _by_practice(review, flagged)


def _name(codeset_id: str) -> str:
    """A codeset id as it appears in the codes table (ids are lower-case words by the model's pattern)."""
    if not codeset_id.replace("_", "").isalnum():
        raise ValueError(f"not a codeset id: {codeset_id!r}")
    return codeset_id


def all_measures(review: Review, rates: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every measure of the review, each by practice (numerator, denominator; observed, expected)."""
    out = {
        m: completeness(review, m)
        for m in [
            "ethnicity",
            "main_spoken_language",
            "employment_status",
            "family_history_recorded",
        ]
    }
    out |= {m: screening(review, m) for m in SCREENING}
    out["cancer_coded_truth"] = cancer_coded_truth(review)
    out["cancer_coded_expected"] = cancer_coded_expected(review, rates)
    out["cancer_care_review"] = cancer_care_review(review)
    out |= {m: capture(review, m) for m in CAPTURE}
    return out


def clustered_interval(
    numerator: np.ndarray, denominator: np.ndarray
) -> tuple[float, float, float]:
    """A ratio of sums over practices with a 95% interval that allows for practices differing.

    Patients of one practice are coded alike, so a proportion over many practices varies more than a
    binomial one would; the variance is the ratio estimator's over practices (a cluster-robust
    interval), never narrower than the binomial (Wilson or exact Poisson) one."""
    k, n = np.asarray(numerator, float), np.asarray(denominator, float)
    ratio = k.sum() / n.sum()
    clusters = len(k)
    spread = np.sum((k - ratio * n) ** 2) * clusters / max(clusters - 1, 1)
    half = 1.959963984540054 * np.sqrt(spread) / n.sum()
    return ratio, max(ratio - half, 0.0), ratio + half


def estimate(table: pd.DataFrame) -> tuple[float, float, float, float, float]:
    """Numerator, denominator, estimate and 95% interval of a measure given by practice.

    The interval is the wider of a cluster-robust one over practices and the binomial one (Wilson for
    proportions, exact Poisson for observed over expected)."""
    if "expected" in table:
        k, n = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
        o, e = k.sum(), n.sum()
        simple = (
            (chi2.ppf(0.025, 2 * o) / 2 if o else 0.0) / e,
            chi2.ppf(0.975, 2 * (o + 1)) / 2 / e,
        )
    else:
        k, n = table["numerator"].to_numpy(float), table["denominator"].to_numpy(float)
        lo, hi = wilson(np.array([k.sum()]), np.array([n.sum()]))
        simple = (float(lo[0]), float(hi[0]))
    ratio, c_low, c_high = clustered_interval(k, n)
    return k.sum(), n.sum(), ratio, min(c_low, simple[0]), max(c_high, simple[1])


def summary(measures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each published figure beside the reproduced one with its 95% interval (see `estimate`), and
    whether the interval holds the published value."""
    rows = []
    for fig in PUBLISHED:
        table = measures[fig.measure]
        k, n, ratio, low, high = estimate(table)
        recovered = None if fig.value is None else bool(low <= fig.value <= high)
        rows.append(
            {
                "measure": fig.measure,
                "label": fig.label,
                "published": fig.value,
                "published_words": fig.words,
                "numerator": k,
                "denominator": n,
                "practices": len(table),
                "reproduced": ratio,
                "low": low,
                "high": high,
                "interval": "exact Poisson" if "expected" in table else "Wilson",
                "recovered": recovered,
            }
        )
    return pd.DataFrame(rows)


def read_rates(path: Path) -> pd.DataFrame:
    """Reference incidence rates (age_from, age_to, sex, rate_per_100k)."""
    rates = pd.read_csv(path)
    expected = {"age_from", "age_to", "sex", "rate_per_100k"}
    missing = expected - set(rates.columns)
    if missing:
        from codesetlib.core.errors import DatasetError

        raise DatasetError(f"missing column(s) {', '.join(sorted(missing))}", path=path, line=1)
    return rates


@dataclass(frozen=True)
class Fault:
    """A classic codeset fault, the codeset it breaks, the measure it biases and how it is made."""

    name: str
    description: str
    codeset: str
    measure: str


FAULTS = [
    Fault(
        "descendants left out",
        "the cancer root included without its descendants, so site codes are missed",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
    Fault(
        "'history of' and 'suspected' codes included",
        "'History of malignant neoplasm' and 'Suspected malignant neoplasm' added, with descendants",
        "cancer_diagnosis",
        "cancer_coded_expected",
    ),
    Fault(
        "non-melanoma skin cancer kept",
        "the exclusions of basal and squamous cell carcinoma of skin left out",
        "cancer_diagnosis",
        "cancer_coded_expected",
    ),
    Fault(
        "an inactive code",
        "a code list that kept 'Malignant neoplasm of large bowel NOS' (inactive, replaced by "
        "'Malignant tumour of large intestine') instead of its replacement",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
    Fault(
        "a codeset from the wrong release",
        "the same rules expanded in the 2025 release, which inactivates codes "
        "that practices used throughout the period",
        "cancer_diagnosis",
        "cancer_coded_truth",
    ),
]


def faulty_codeset(fault: Fault, good: Codeset, other_release: str) -> Codeset:
    """The codeset with the fault made in it (rules changed as a careless author would)."""
    from codesetlib.codesets.model import CodesetRule

    rules = list(good.rules)
    if fault.name == "descendants left out":
        rules[0] = rules[0].model_copy(update={"descendants": False})
    elif fault.name == "'history of' and 'suspected' codes included":
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
    elif fault.name == "non-melanoma skin cancer kept":
        skin = {"254701007", "254651007", "254702000", "269582000"}
        rules = [r for r in rules if not (r.action == "exclude" and r.concept in skin)]
    elif fault.name == "an inactive code":
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
    elif fault.name == "a codeset from the wrong release":
        return good.model_copy(update={"terminology_release": other_release})
    return good.model_copy(update={"rules": rules})


def fault_effects(review: Review, rates: pd.DataFrame, other_release: str) -> pd.DataFrame:
    """Each fault's effect on the figure it biases: the correct and faulty estimates and the bias."""
    good_codesets = dict(review.codesets)
    measures = {
        "cancer_coded_truth": cancer_coded_truth,
        "cancer_coded_expected": lambda r: cancer_coded_expected(r, rates),
    }
    rows = []
    try:
        for fault in FAULTS:
            correct = estimate(measures[fault.measure](review))
            set_codesets(
                review,
                good_codesets
                | {
                    fault.codeset: faulty_codeset(
                        fault, good_codesets[fault.codeset], other_release
                    )
                },
            )
            faulty = estimate(measures[fault.measure](review))
            set_codesets(review, good_codesets)
            rows.append(
                {
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
    finally:
        set_codesets(review, good_codesets)
    return pd.DataFrame(rows)


def _shown_counts(
    table: pd.DataFrame, columns: dict[str, str], settings: DisclosureSettings
) -> pd.DataFrame:
    """Counts (possibly sums of expected, so rounded to whole numbers first) protected for the record."""
    exact = pd.DataFrame(
        {name: table[source].round().astype(int) for source, name in columns.items()}
    )
    return protect_counts(exact, list(columns.values()), settings)


def record_table(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The summary for the record: counts protected, each reproduced figure computed from the counts
    as shown, with a 95% interval at least as wide as the binomial (or Poisson) one on them (the
    cluster-robust half-widths of `estimate` are kept where wider)."""
    shown = pd.DataFrame({"Measure": table["label"]})
    shown["Published"] = [
        f"{v:.1%}" if pd.notna(v) else w
        for v, w in zip(table["published"], table["published_words"], strict=True)
    ]
    counts = _shown_counts(
        table, {"numerator": "Numerator", "denominator": "Denominator"}, settings
    )
    shown["Numerator"] = counts["Numerator"]
    shown["Denominator"] = counts["Denominator"]
    shown["Interval"] = table["interval"]
    widen = [
        (r - lo, hi - r)
        for r, lo, hi in zip(table["reproduced"], table["low"], table["high"], strict=True)
    ]
    shown.attrs["count_columns"] = ["Numerator", "Denominator"]
    shown.attrs["reference_columns"] = ["Published"]
    add_derived(
        shown,
        "Reproduced (95% CI)",
        Derived("wilson_or_wider", "Numerator", ("Denominator",), method_column="Interval"),
        widen,
    )
    shown["Published figure in the interval"] = [
        within_interval(published, reproduced)
        for published, reproduced in zip(
            table["published"], shown["Reproduced (95% CI)"], strict=True
        )
    ]
    return shown


def within_interval(published: float | None, reproduced: str) -> str:
    """Whether a published share lies in a shown interval `e% (lo%–hi%)` ("—" with nothing to compare)."""
    match = re.search(r"\((-?[\d.]+)%–(-?[\d.]+)%\)", reproduced)
    if published is None or pd.isna(published) or match is None:
        return "—"
    low, high = float(match[1]) / 100, float(match[2]) / 100
    return "yes" if low - 0.0005 <= published <= high + 0.0005 else "no"


def by_borough(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """One measure by borough, protected, its figure computed from the shown counts (for
    expected-based measures: observed against expected)."""
    if "expected" in table:
        grouped = table.groupby("borough", as_index=False)[["observed", "expected"]].sum()
        shown = protect_counts(
            grouped.assign(observed=grouped["observed"].astype(int)), ["observed"], settings
        )
        shown["expected"] = grouped["expected"].round(1)
        shown = shown.rename(
            columns={"borough": "Borough", "observed": "Observed", "expected": "Expected"}
        )
        shown.attrs["count_columns"] = ["Observed"]
        return add_derived(
            shown, "Observed / expected", Derived("ratio", "Observed", ("Expected",))
        )
    grouped = table.groupby("borough", as_index=False)[["numerator", "denominator"]].sum()
    shown = protect_counts(grouped, ["numerator", "denominator"], settings)
    shown = shown.rename(
        columns={"borough": "Borough", "numerator": "Numerator", "denominator": "Denominator"}
    )
    shown.attrs["count_columns"] = ["Numerator", "Denominator"]
    return add_derived(shown, "Proportion", Derived("proportion", "Numerator", ("Denominator",)))


def funnel_ready(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """Practices whose counts can be shown, as numerator and denominator, for a funnel plot."""
    shown = protect_measure(table, settings)
    numeric = shown.assign(
        numerator=pd.to_numeric(shown["numerator"], errors="coerce"),
        denominator=pd.to_numeric(shown["denominator"], errors="coerce"),
    )
    return numeric.dropna(subset=["numerator", "denominator"])


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


def fault_table(faults: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The faults' effects for the record: the figure with the correct and the faulty codeset, each
    from its counts as shown, and the bias between the two shown figures in percentage points."""
    shown = pd.DataFrame(
        {
            "Fault": faults["fault"],
            "How it is made": faults["how it is made"],
            "Figure": [
                next(p.label for p in PUBLISHED if p.measure == m) for m in faults["measure"]
            ],
        }
    )
    counts = _shown_counts(
        faults,
        {
            "correct_numerator": "Correct: numerator",
            "correct_denominator": "Correct: denominator",
            "faulty_numerator": "Faulty: numerator",
            "faulty_denominator": "Faulty: denominator",
        },
        settings,
    )
    for column in counts:
        shown[column] = counts[column]
    shown.attrs["count_columns"] = list(counts.columns)
    add_derived(
        shown,
        "Correct codeset",
        Derived("proportion", "Correct: numerator", ("Correct: denominator",)),
    )
    add_derived(
        shown,
        "Faulty codeset",
        Derived("proportion", "Faulty: numerator", ("Faulty: denominator",)),
    )
    correct = shown_numbers(counts["Correct: numerator"]) / shown_numbers(
        counts["Correct: denominator"]
    )
    faulty = shown_numbers(counts["Faulty: numerator"]) / shown_numbers(
        counts["Faulty: denominator"]
    )
    shown["Bias (points)"] = [
        f"{100 * (f - c):+.1f}" if pd.notna(f - c) else SUPPRESSED_FIGURE
        for f, c in zip(faulty, correct, strict=True)
    ]
    return shown
