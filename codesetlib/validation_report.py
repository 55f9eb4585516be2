"""What the validation notebook shows: one call per section, each table already under disclosure
control and each figure titled and labelled, so the notebook stays a list of calls."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codesetlib.codeset import Codeset, codeset_dir, load_codeset
from codesetlib.cohort import DuckDBEngine
from codesetlib.cohort_record import ethnic_group
from codesetlib.disclosure import DisclosureSettings, protect_counts
from codesetlib.expand import Expansion, expand_rules, open_codeset_release
from codesetlib.paths import resolve
from codesetlib.synthetic import read_manifest
from codesetlib.terminology import Terminology, available_releases, open_release
from codesetlib.validate import (
    MEASURES,
    AnomalyRules,
    accuracy,
    anomalies,
    orphan_candidates,
    release_drift_effect,
)
from codesetlib.validation_data import (
    ValidationData,
    events_with_codes,
    load_validation_data,
    truth_attributes,
    truth_patients,
)
from codesetlib.versions import version_dir

CELLS = ["tp", "fp", "fn", "tn"]


@dataclass(frozen=True)
class CodesetUnderTest:
    """A codeset, its expansion, its release and the codes near it, with the dataset's events."""

    codeset: Codeset
    expansion: Expansion
    terminology: Terminology
    near: dict[str, str]
    data: ValidationData
    disclosure: DisclosureSettings

    @property
    def terms(self) -> dict[str, str]:
        lookup = self.terminology.lookup
        codes = set(self.data.coded_events["code"]) | set(self.data.near_events["code"])
        return {c: (lookup(c).term if lookup(c) else c) for c in codes}

    @property
    def coded_patients(self) -> set[int]:
        return set(self.data.coded_events["patient_id"])


def load_codeset_under_test(
    codeset_id: str,
    *,
    codesets_dir: str,
    dataset_dir: str,
    index_date: str,
    disclosure: DisclosureSettings,
    version: str | None = None,
) -> CodesetUnderTest:
    """Load a codeset (at a version), expand it, find the codes near it, and read the dataset."""
    root = resolve(codesets_dir)
    codeset_dir(root, codeset_id)
    codeset = load_codeset(version_dir(root, codeset_id, version))
    terminology = open_codeset_release(codeset)
    expansion = expand_rules(codeset, terminology)
    near = orphan_candidates(codeset, expansion, terminology)
    data = load_validation_data(
        resolve(dataset_dir),
        set(expansion.code_set),
        set(near),
        dt.date.fromisoformat(str(index_date)),
    )
    return CodesetUnderTest(codeset, expansion, terminology, near, data, disclosure)


def protected_accuracy(
    table: pd.DataFrame, settings: DisclosureSettings, keys: list[str] | None = None
) -> pd.DataFrame:
    """The accuracy table for the record: cells protected, and a measure shown only where its
    denominator is above the suppression threshold (as `estimate (low–high)` in per cent)."""
    keys = keys or []
    shown = table[keys].astype(str).copy() if keys else pd.DataFrame(index=table.index)
    protected = protect_counts(table[CELLS], CELLS, settings)
    for cell in CELLS:
        shown[cell.upper()] = protected[cell]
    for name, (num, (a, b)) in MEASURES.items():
        denominator = table[a] + table[b]
        text = [
            f"{e:.1%} ({lo:.1%}–{hi:.1%})" if not np.isnan(e) else ""
            for e, lo, hi in zip(
                table[name], table[f"{name}_low"], table[f"{name}_high"], strict=True
            )
        ]

        # A proportion with a small numerator or a small complement would give a suppressed cell back.
        def hidden_cell(count: pd.Series) -> pd.Series:
            return (count > 0) & (count <= settings.threshold)

        small = hidden_cell(table[num]) | hidden_cell(denominator - table[num])
        hidden = settings.enabled & small & (denominator > 0)
        label = name.upper() if name in ("ppv", "npv") else name.capitalize()
        shown[label] = np.where(hidden, "suppressed", text)
    return shown.reset_index(drop=True)


def accuracy_tables(
    test: CodesetUnderTest, truth: set[int], dataset_dir: str | None = None
) -> dict[str, pd.DataFrame]:
    """Accuracy overall and by practice, borough, age band, sex, deprivation and (on synthetic data,
    from the true attributes) ethnic group, for the record."""
    population = test.data.population
    if dataset_dir is not None:
        attributes = truth_attributes(resolve(dataset_dir))[["patient_id", "ethnicity"]]
        population = population.merge(attributes, on="patient_id", how="left")
        population["ethnicity"] = population["ethnicity"].fillna("").map(ethnic_group)
    out = {
        "overall": protected_accuracy(
            accuracy(population, test.coded_patients, truth), test.disclosure
        )
    }
    keys = ["practice_id", "borough", "age_band", "sex", "imd_quintile"]
    for key in [*keys, "ethnicity"] if "ethnicity" in population else keys:
        table = accuracy(population, test.coded_patients, truth, by=[key])
        out[key] = protected_accuracy(table, test.disclosure, [key])
    return out


def sensitivity_figure(table: pd.DataFrame, key: str, title: str) -> Figure:
    """Sensitivity with its 95% interval for each group (groups with no true cases left out)."""
    rows = table[(table["tp"] + table["fn"]) > 0].reset_index(drop=True)
    figure = Figure(figsize=(8, 3.5))
    axes = figure.add_subplot()
    x = np.arange(len(rows))
    estimate = rows["sensitivity"].to_numpy()
    # Clipped at zero: at 0% or 100% the interval's end can differ from the estimate by rounding only.
    errors = np.clip(
        np.vstack([estimate - rows["sensitivity_low"], rows["sensitivity_high"] - estimate]),
        0,
        None,
    )
    axes.errorbar(x, estimate * 100, yerr=errors * 100, fmt="o", capsize=3)
    axes.set_xticks(x, rows[key].astype(str), rotation=45 if len(rows) > 6 else 0)
    axes.set(
        title=textwrap.fill(title, 64),
        xlabel=key.replace("_", " ").capitalize(),
        ylabel="Sensitivity (%)",
        ylim=(0, 105),
    )
    figure.tight_layout()
    return figure


def other_releases(terminology: Terminology) -> list[str]:
    """Releases of the same edition other than this one, oldest first."""
    current = terminology.release
    return sorted(
        r.id
        for r in available_releases().values()
        if r.system == current.system and r.edition == current.edition and r.id != current.id
    )


def release_dates(terminology: Terminology) -> dict[str, dt.date]:
    """Effective dates of every release of the codeset's edition, for marking trend charts."""
    current = terminology.release
    return {
        r.id: dt.datetime.strptime(r.version, "%Y%m%d").date()
        for r in available_releases().values()
        if r.system == current.system and r.edition == current.edition
    }


def true_patients(test: CodesetUnderTest, dataset_dir: str, pattern: str) -> set[int]:
    """The population's patients whose true condition matches `pattern` by the index date."""
    truth, _ = truth_patients(resolve(dataset_dir), pattern, test.data.index_date)
    return truth & set(test.data.population["patient_id"])


def sensitivity_by_year(test: CodesetUnderTest, dataset_dir: str, pattern: str) -> pd.DataFrame:
    """Sensitivity by the year the true condition began: of those whose condition began that year,
    the share coded by the index date (protected like every accuracy table)."""
    _, onsets = truth_patients(resolve(dataset_dir), pattern, test.data.index_date)
    onsets = onsets[onsets["patient_id"].isin(set(test.data.population["patient_id"]))]
    cases = onsets.assign(year=pd.to_datetime(onsets["onset_date"]).dt.year.astype(str))
    cases = cases[cases["year"] >= "2015"]
    table = accuracy(
        cases[["patient_id", "year"]], test.coded_patients, set(cases["patient_id"]), by=["year"]
    )
    shown = protected_accuracy(table, test.disclosure, ["year"])
    return shown[["year", "TP", "FN", "Sensitivity"]]


def anomaly_summary(test: CodesetUnderTest, dataset_dir: str) -> pd.DataFrame:
    """Anomalies among every event of the codeset's codes, whatever its date."""
    engine = DuckDBEngine(resolve(dataset_dir))
    events = events_with_codes(engine, set(test.expansion.code_set), dt.date.max)
    patients = engine.execute(engine.table("patients"))
    return anomalies(events, patients, AnomalyRules(extract_date=extract_date(dataset_dir)))


def extract_date(dataset_dir: str) -> dt.date:
    """The last date the dataset covers (its extraction date), from its manifest."""
    manifest = read_manifest(resolve(dataset_dir))
    return dt.date.fromisoformat(str(manifest["parameters"]["end"]))


def drift_summary(test: CodesetUnderTest) -> pd.DataFrame:
    """For each other release of the edition: codes added and removed, and patients found before and after."""
    rows = []
    for other in other_releases(test.terminology):
        effect = release_drift_effect(
            test.codeset, test.terminology, open_release(other), test.data.coded_events
        )
        rows.append(
            {
                "Release": other,
                "Codes added": len(effect.codes_added),
                "Codes removed": len(effect.codes_removed),
                "Patients before": effect.patients_before,
                "Patients after": effect.patients_after,
            }
        )
    return pd.DataFrame(rows)
