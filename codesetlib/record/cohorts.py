"""Cohorts for the record: expand the codesets a definition names at the versions the study pins, run
it in DuckDB, and describe it.

The notebooks call these so that each cohort page shows its definition in words, its attrition table and
flow chart, Table 1 and the SQL that ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.cohorts import CohortDefinition, load_definition
from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.measures import (
    Intervals,
    Measure,
    compute_measure,
    outside_limits,
    protect_measure,
)
from codesetlib.core.disclosure import Derived, DisclosureSettings, add_derived
from codesetlib.core.errors import CohortError
from codesetlib.core.paths import project_root, resolve


def definition_in_words(definition: CohortDefinition) -> list[str]:
    """The definition as sentences a reader can check against the protocol."""
    index = definition.index_date
    if index.per_patient:
        when = f"each patient's first event of {index.first_event_of}"
        if index.on_or_after or index.on_or_before:
            when += (
                f" between {index.on_or_after or 'any date'} and {index.on_or_before or 'any date'}"
            )
    else:
        when = str(index.date)
    population = definition.population
    parts = [f"Index date: {when}."]
    who = ["registered" if population.registered else None, "alive" if population.alive else None]
    ages = ""
    if population.age_min is not None or population.age_max is not None:
        ages = f", aged {population.age_min if population.age_min is not None else 0}"
        ages += f" to {population.age_max}" if population.age_max is not None else " or over"
    sexes = f", {' or '.join(population.sex)}" if population.sex else ""
    parts.append(
        f"Population: patients {' and '.join(w for w in who if w)} on the index date{ages}{sexes}."
    )
    for c in definition.criteria:
        parts.append(
            f"Criterion `{c.name}`: {c.returns.replace('_', ' ')} of {c.codeset} in {c.table}, {c.window.describe()}."
        )
    for f in definition.flags:
        bounds = " and ".join(
            b
            for b in [
                f"≥ {f.at_least}" if f.at_least is not None else "",
                f"≤ {f.at_most}" if f.at_most is not None else "",
            ]
            if b
        )
        parts.append(f"Flag `{f.name}`: {f.of} {bounds}.")
    for n, rule in enumerate(definition.rules, start=1):
        parts.append(f"Rule {n}: {rule.describe()}.")
    return parts


@dataclass(frozen=True)
class CohortRun:
    """A cohort definition run on a dataset: its rows, attrition and SQL."""

    definition: CohortDefinition
    cohort: pd.DataFrame
    attrition: pd.DataFrame
    sql: str


def run_cohort(
    definition_path: str | Path,
    *,
    codesets_dir: str,
    dataset_dir: str,
    codeset_versions: Mapping[str, str | None] | None = None,
) -> CohortRun:
    """Load a cohort definition, expand its codesets at the versions the study pins
    (`codeset_versions`, by id) and run it in DuckDB over the dataset."""
    path = resolve(definition_path)
    if not path.is_file():
        raise CohortError("cohort definition not found", path=path)
    definition = load_definition(path)
    codesets = codeset_codes(codesets_dir, definition.codesets_used(), codeset_versions)
    engine = open_engine(dataset_dir, root=project_root())
    return CohortRun(
        definition=definition,
        cohort=engine.cohort(definition, codesets),
        attrition=engine.attrition(definition, codesets),
        sql=engine.cohort_sql(definition, codesets),
    )


@dataclass(frozen=True)
class PracticeMeasure:
    """A measure by practice and interval, protected, with the latest interval and borough totals."""

    title: str
    by_practice: pd.DataFrame
    protected: pd.DataFrame
    latest: pd.DataFrame
    latest_table: pd.DataFrame
    by_borough: pd.DataFrame
    interval_word: str
    findings: str


def practice_measure(
    definition_path: str | Path,
    *,
    numerator: str,
    start: str,
    end: str,
    frequency: str,
    codesets_dir: str,
    dataset_dir: str,
    disclosure: DisclosureSettings,
    codeset_versions: Mapping[str, str | None] | None = None,
) -> PracticeMeasure:
    """The share of the cohort meeting `numerator`, by practice and interval, every interval in one query,
    with its codesets at the versions the study pins (`codeset_versions`, by id).

    Everything shown derives from the protected counts: the proportions, the overall proportion the
    funnel is drawn around, and which practices lie outside its limits."""
    definition = load_definition(resolve(definition_path))
    measure = Measure(
        id=f"{definition.id}_{numerator}",
        definition=definition,
        numerator=numerator,
        group_by=["practice_id", "borough"],
        intervals=Intervals(start=start, end=end, frequency=frequency),
    )
    codesets = codeset_codes(codesets_dir, definition.codesets_used(), codeset_versions)
    table = compute_measure(measure, codesets, open_engine(dataset_dir, root=project_root()))
    protected = protect_measure(table, disclosure)
    last = protected["interval_start"].max()
    latest = protected[protected["interval_start"] == last].reset_index(drop=True)
    # Plotted: practices whose counts are shown (suppressed ones cannot be placed without disclosing them).
    plotted = latest.assign(
        numerator=pd.to_numeric(latest["numerator"], errors="coerce"),
        denominator=pd.to_numeric(latest["denominator"], errors="coerce"),
    ).dropna(subset=["numerator", "denominator"])
    overall = plotted["numerator"].sum() / plotted["denominator"].sum()
    latest = latest.assign(flag=outside_limits(latest, overall).fillna("not plotted"))
    boroughs = table.groupby(["interval_start", "borough"], as_index=False)[
        ["numerator", "denominator"]
    ].sum()
    boroughs = boroughs[boroughs["interval_start"] == boroughs["interval_start"].max()]
    by_borough = protect_measure(
        boroughs.assign(ratio=boroughs["numerator"] / boroughs["denominator"]), disclosure
    )
    return PracticeMeasure(
        title=definition.title or definition.id,
        by_practice=table,
        protected=protected,
        latest=plotted,
        latest_table=_percent(
            latest[["practice_id", "borough", "numerator", "denominator", "flag"]]
        ),
        by_borough=_percent(by_borough[["borough", "numerator", "denominator"]]),
        interval_word={"monthly": "month", "quarterly": "quarter", "yearly": "year"}[frequency],
        findings=funnel_findings(plotted, latest, overall, len(latest)),
    )


MEASURE_NAMES = {
    "practice_id": "Practice",
    "borough": "Borough",
    "numerator": "Numerator",
    "denominator": "Denominator",
    "flag": "Outside the 99.8% limits",
}


def _percent(table: pd.DataFrame) -> pd.DataFrame:
    """Readable names, and the proportion computed from the counts as shown."""
    out = table.rename(columns=MEASURE_NAMES)
    out.attrs["count_columns"] = ["Numerator", "Denominator"]
    return add_derived(out, "Proportion", Derived("proportion", "Numerator", ("Denominator",)))


def funnel_findings(
    plotted: pd.DataFrame, latest: pd.DataFrame, overall: float, practices: int
) -> str:
    """What the funnel plot flags, in words: the overall proportion and the practices outside the
    99.8% limits (about 1 in 500 practices would lie outside them by chance alone)."""
    above = latest.loc[latest["flag"] == "above", "practice_id"].astype(str).tolist()
    below = latest.loc[latest["flag"] == "below", "practice_id"].astype(str).tolist()
    hidden = practices - len(plotted)
    text = (
        f"Overall proportion {overall:.1%} ({plotted['numerator'].sum():.0f} of "
        f"{plotted['denominator'].sum():.0f} patients, from the counts as shown"
        + (f"; {hidden} practice(s) with a suppressed count are left out" if hidden else "")
        + "). "
    )
    if not above and not below:
        return text + (
            "No practice lies outside the 99.8% limits: the variation between practices is what "
            "chance alone would give."
        )
    named = []
    if above:
        named.append(f"{len(above)} above (practice {', '.join(above)})")
    if below:
        named.append(f"{len(below)} below (practice {', '.join(below)})")
    return text + (
        f"Outside the 99.8% limits: {' and '.join(named)}. About 1 in 500 practices would lie "
        "outside them by chance alone, so these differ by more than chance: look at their coding "
        "and their care before drawing conclusions."
    )


def codeset_links(definition: CohortDefinition) -> str:
    """The codesets a definition uses, each linked to its card in the record."""
    return ", ".join(f"[{cid}](codesets/{cid}.html)" for cid in sorted(definition.codesets_used()))
