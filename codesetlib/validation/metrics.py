"""How good is a codeset: against a known truth (synthetic data) and without one (as on real data).

With truth: sensitivity, specificity, PPV and NPV with 95% Wilson intervals, overall and by group; which
codes bring in the false positives; which false negatives are not coded at all and which are coded
outside the codeset. Without truth: code usage, orphan codes, trends with release changes marked,
data anomalies, observed against expected counts, overlap of two codesets, and the effect of a release.
Every function returns exact counts; the record protects them with `codesetlib.core.disclosure`.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.model import Codeset
from codesetlib.core.intervals import poisson_ratio, wilson
from codesetlib.terminology import Terminology

MEASURES = {
    # name: (numerator, denominator)
    "sensitivity": ("tp", ("tp", "fn")),
    "specificity": ("tn", ("tn", "fp")),
    "ppv": ("tp", ("tp", "fp")),
    "npv": ("tn", ("tn", "fn")),
}
DEFAULT_DATES = (dt.date(1900, 1, 1), dt.date(1901, 1, 1), dt.date(1800, 1, 1))


def classify(population: pd.DataFrame, coded: Iterable, truth: Iterable) -> pd.DataFrame:
    """The population with `coded` and `true` flags and the cell of the 2×2 table each falls in."""
    out = population.copy()
    out["coded"] = out["patient_id"].isin(set(coded))
    out["true"] = out["patient_id"].isin(set(truth))
    out["cell"] = np.select(
        [out.coded & out.true, out.coded & ~out.true, ~out.coded & out.true],
        ["tp", "fp", "fn"],
        "tn",
    )
    return out


def accuracy(
    population: pd.DataFrame, coded: Iterable, truth: Iterable, by: list[str] | None = None
) -> pd.DataFrame:
    """Sensitivity, specificity, PPV and NPV with Wilson intervals, overall or for each group in `by`."""
    cells = classify(population, coded, truth)
    keys = by or []
    counts = (
        cells.groupby([*keys, "cell"], observed=True).size().unstack("cell", fill_value=0)
        if keys
        else cells["cell"].value_counts().to_frame().T
    )
    counts = counts.reindex(columns=["tp", "fp", "fn", "tn"], fill_value=0).reset_index(
        drop=not keys
    )
    for name, (num, den) in MEASURES.items():
        n = counts[den[0]] + counts[den[1]]
        counts[name] = np.where(n > 0, counts[num] / n.where(n > 0, 1), np.nan)
        counts[f"{name}_low"], counts[f"{name}_high"] = wilson(counts[num], n)
    counts.columns.name = None
    return counts


def false_positive_codes(
    coded_events: pd.DataFrame, truth: Iterable, terms: Mapping[str, str]
) -> pd.DataFrame:
    """For each code, the patients it brings in and how many of them do not truly have the condition."""
    true = set(truth)
    events = coded_events.drop_duplicates(["patient_id", "code"]).copy()
    events["false"] = ~events["patient_id"].isin(true)
    table = (
        events.groupby("code")
        .agg(patients=("patient_id", "size"), false_positives=("false", "sum"))
        .reset_index()
    )
    table["share_false"] = table["false_positives"] / table["patients"]
    table.insert(1, "term", table["code"].map(terms))
    return table.sort_values(["false_positives", "code"], ascending=[False, True]).reset_index(
        drop=True
    )


def false_negative_reasons(
    missed: Iterable, near_events: pd.DataFrame, terms: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split patients the codeset missed into 'not coded' and 'coded outside the codeset'.

    `near_events` are events with codes near the codeset (orphan candidates); a missed patient with one
    was coded, just not with a code the codeset holds. Returns the split and the codes responsible.
    """
    missed = set(missed)
    near = near_events[near_events["patient_id"].isin(missed)].drop_duplicates(
        ["patient_id", "code"]
    )
    outside = set(near["patient_id"])
    split = pd.DataFrame(
        {
            "reason": ["coded outside the codeset", "not coded"],
            "patients": [len(outside), len(missed - outside)],
        }
    )
    codes = near.groupby("code").size().rename("patients").reset_index()
    codes.insert(1, "term", codes["code"].map(terms))
    return split, codes.sort_values(["patients", "code"], ascending=[False, True]).reset_index(
        drop=True
    )


def code_usage(
    events: pd.DataFrame, codes: Mapping[str, str], dominant_share: float = 0.5
) -> pd.DataFrame:
    """Patients and events per code of the codeset, with unused codes and codes that dominate."""
    used = events.groupby("code").agg(
        patients=("patient_id", "nunique"), events=("patient_id", "size")
    )
    table = pd.DataFrame({"code": list(codes), "term": list(codes.values())}).set_index("code")
    table = (
        table.join(used)
        .fillna({"patients": 0, "events": 0})
        .astype({"patients": int, "events": int})
    )
    total = max(int(table["events"].sum()), 1)
    table["share_of_events"] = table["events"] / total
    table["note"] = np.select(
        [table["events"] == 0, table["share_of_events"] > dominant_share],
        ["unused", "dominant"],
        "",
    )
    return (
        table.reset_index()
        .sort_values(["patients", "code"], ascending=[False, True])
        .reset_index(drop=True)
    )


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())} - {
        "disease",
        "disorder",
        "finding",
        "procedure",
    }


def orphan_candidates(
    codeset: Codeset, expansion: Expansion, terminology: Terminology
) -> dict[str, str]:
    """Codes near the codeset but not in it, each with why it is near.

    Near means: a descendant of a concept the rules name, a sibling of a code in it (another child of one
    of its parents), or an active concept whose terms share the distinctive words of the rules' terms.
    """
    inside = expansion.code_set
    near: dict[str, str] = {}
    for rule in codeset.rules:
        if rule.concept and rule.action == "include":
            for code in terminology.descendants_of(rule.concept) - inside:
                near.setdefault(code, f"descendant of {rule.concept}")
    for code in sorted(inside):
        for parent in terminology.parents(code):
            for sibling in terminology.children(parent) - inside:
                near.setdefault(sibling, f"sibling of {code}")
    words = set().union(
        *(_words(r.term or r.search or "") for r in codeset.rules if r.action == "include")
    )
    for word in sorted(words):
        for concept in terminology.search(word):
            if concept.code not in inside:
                near.setdefault(concept.code, f"term shares '{word}'")
    return near


def orphan_codes(
    events: pd.DataFrame, candidates: Mapping[str, str], terms: Mapping[str, str]
) -> pd.DataFrame:
    """Codes in the data near the codeset but not in it, ranked by the patients they would add."""
    found = events[events["code"].isin(candidates)]
    table = (
        found.groupby("code")
        .agg(patients=("patient_id", "nunique"), events=("patient_id", "size"))
        .reset_index()
    )
    table.insert(1, "term", table["code"].map(terms))
    table["why_near"] = table["code"].map(candidates)
    return table.sort_values(["patients", "code"], ascending=[False, True]).reset_index(drop=True)


def usage_trend(events: pd.DataFrame, freq: str = "YS") -> pd.DataFrame:
    """Events and patients per period (`freq` as pandas offsets: YS, QS, MS) and per code."""
    dated = events.assign(period=pd.to_datetime(events["date"]).dt.to_period(freq[0]).dt.start_time)
    return (
        dated.groupby(["period", "code"])
        .agg(events=("patient_id", "size"), patients=("patient_id", "nunique"))
        .reset_index()
    )


def trend_figure(
    trend: pd.DataFrame, releases: Mapping[str, dt.date], title: str, top: int = 6
) -> Figure:
    """Events per period for the most used codes, with terminology release dates marked."""
    figure = Figure(figsize=(8, 4))
    axes = figure.add_subplot()
    leaders = trend.groupby("code")["events"].sum().nlargest(top).index
    for code in leaders:
        series = trend[trend["code"] == code]
        axes.plot(series["period"], series["events"], marker="o", label=code)
    for name, date in releases.items():
        axes.axvline(pd.Timestamp(date), color="grey", linestyle="--", linewidth=1)
        axes.annotate(
            name, (pd.Timestamp(date), axes.get_ylim()[1]), rotation=90, va="top", fontsize=7
        )
    axes.set(title=textwrap.fill(title, 64), xlabel="Period start", ylabel="Events per period")
    axes.legend(fontsize=7, title="Code")
    figure.tight_layout()
    return figure


@dataclass(frozen=True)
class AnomalyRules:
    """What counts as an anomaly: the extraction date, placeholder dates and plausible value ranges."""

    extract_date: dt.date
    default_dates: tuple[dt.date, ...] = DEFAULT_DATES
    value_ranges: Mapping[str, tuple[float, float]] | None = None


def anomalies(events: pd.DataFrame, patients: pd.DataFrame, rules: AnomalyRules) -> pd.DataFrame:
    """Events that cannot be right: before birth, after death, in the future, on a placeholder date,
    with an implausible value, or repeated (same patient, date and code). One row per kind."""
    merged = events.merge(
        patients[["patient_id", "date_of_birth", "date_of_death"]], on="patient_id", how="left"
    )
    date = pd.to_datetime(merged["date"])
    checks = {
        "before birth": date < pd.to_datetime(merged["date_of_birth"]),
        "after death": date > pd.to_datetime(merged["date_of_death"]),
        "in the future": date > pd.Timestamp(rules.extract_date),
        "placeholder date": date.isin([pd.Timestamp(d) for d in rules.default_dates]),
        "repeated": merged.duplicated(["patient_id", "date", "code"], keep="first"),
    }
    if rules.value_ranges and "value" in merged:
        low = merged["code"].map({c: r[0] for c, r in rules.value_ranges.items()})
        high = merged["code"].map({c: r[1] for c, r in rules.value_ranges.items()})
        checks["implausible value"] = (
            merged["value"].notna()
            & low.notna()
            & ((merged["value"] < low) | (merged["value"] > high))
        )
    rows = [
        {
            "anomaly": name,
            "events": int(mask.sum()),
            "patients": int(merged.loc[mask.fillna(False), "patient_id"].nunique()),
        }
        for name, mask in checks.items()
    ]
    return pd.DataFrame(rows)


def observed_vs_expected(
    observed: pd.DataFrame, population: pd.DataFrame, rates: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    """Observed counts against those expected from reference rates (per 100,000 per year).

    `observed` and `population` have a row per stratum (`keys`) with `observed` and `person_years`;
    `rates` has `rate_per_100k` per stratum. The ratio's 95% interval is exact (Poisson, via chi-square).
    """
    table = (
        population.merge(rates, on=keys, how="left")
        .merge(observed, on=keys, how="left")
        .fillna({"observed": 0})
    )
    table["expected"] = table["person_years"] * table["rate_per_100k"] / 100_000
    total = pd.DataFrame(
        {"observed": [table["observed"].sum()], "expected": [table["expected"].sum()]},
        index=["all"],
    )
    o, e = total["observed"].to_numpy(), total["expected"].to_numpy()
    total["ratio"] = o / e
    total["ratio_low"], total["ratio_high"] = poisson_ratio(float(o[0]), float(e[0]))
    return table, total.reset_index(drop=True)


def overlap(first: Iterable, second: Iterable, names: tuple[str, str]) -> pd.DataFrame:
    """Patients found by one codeset only, by both, and by the other only."""
    a, b = set(first), set(second)
    return pd.DataFrame(
        {
            "group": [f"{names[0]} only", "both", f"{names[1]} only"],
            "patients": [len(a - b), len(a & b), len(b - a)],
        }
    )


def overlap_figure(table: pd.DataFrame, title: str) -> Figure:
    """The overlap of two codesets' patients as one stacked bar."""
    figure = Figure(figsize=(7, 1.8))
    axes = figure.add_subplot()
    left = 0
    for (group, value), colour in zip(
        table[["group", "patients"]].itertuples(index=False),
        ["#4c72b0", "#8c8c8c", "#dd8452"],
        strict=True,
    ):
        shown = float(value) if str(value).replace(".", "").isdigit() else 0.0
        axes.barh([0], [shown], left=left, color=colour, label=f"{group}: {value}")
        left += shown
    axes.set(title=textwrap.fill(title, 64), xlabel="Patients", yticks=[])
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=3)
    figure.tight_layout()
    return figure


@dataclass(frozen=True)
class DriftEffect:
    """The same rules in two releases: the codes that change and the patients that change with them."""

    codes_added: list[str]
    codes_removed: list[str]
    patients_gained: int
    patients_lost: int
    patients_before: int
    patients_after: int


def release_drift_effect(
    codeset: Codeset, old: Terminology, new: Terminology, events: pd.DataFrame
) -> DriftEffect:
    """Expand the rules in both releases and apply each expansion to the same events."""
    before, after = expand_rules(codeset, old).code_set, expand_rules(codeset, new).code_set
    found_before = set(events.loc[events["code"].isin(before), "patient_id"])
    found_after = set(events.loc[events["code"].isin(after), "patient_id"])
    return DriftEffect(
        codes_added=sorted(after - before),
        codes_removed=sorted(before - after),
        patients_gained=len(found_after - found_before),
        patients_lost=len(found_before - found_after),
        patients_before=len(found_before),
        patients_after=len(found_after),
    )
