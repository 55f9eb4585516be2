"""What the validation notebook shows: one call per section, each table already under disclosure
control and each figure titled and labelled, so the notebook stays a list of calls."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codesetlib.codesets.expand import Expansion, expand_rules, open_codeset_release
from codesetlib.codesets.files import codeset_dir, load_codeset
from codesetlib.codesets.model import Codeset
from codesetlib.cohorts.codes import ethnic_group
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.engines.describe import describe_data
from codesetlib.cohorts.engines.ibis_engine import IbisEngine
from codesetlib.core.disclosure import (
    SUPPRESSED_FIGURE,
    Derived,
    DisclosureSettings,
    add_derived,
    protect_counts,
    shown_number,
    shown_numbers,
)
from codesetlib.core.errors import DatasetError
from codesetlib.core.intervals import wilson
from codesetlib.core.paths import project_root, resolve
from codesetlib.data.sources import data_source
from codesetlib.data.synthetic import read_manifest
from codesetlib.terminology import Terminology, available_releases, open_release
from codesetlib.validation.metrics import (
    MEASURES,
    AnomalyRules,
    accuracy,
    anomalies,
    code_usage,
    false_negative_reasons,
    false_positive_codes,
    orphan_candidates,
    orphan_codes,
    overlap,
    overlap_figure,
    release_drift_effect,
    trend_figure,
    usage_trend,
)

__all__ = ["overlap_figure", "trend_figure"]  # drawn on the page beside this module's tables
from codesetlib.codesets.versions import version_dir
from codesetlib.validation.data import (
    ValidationData,
    load_validation_data,
    truth_attributes,
    truth_patients,
)

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
        dataset_dir,
        set(expansion.code_set),
        set(near),
        dt.date.fromisoformat(str(index_date)),
    )
    return CodesetUnderTest(codeset, expansion, terminology, near, data, disclosure)


GROUP_NAMES = {
    "practice_id": "Practice",
    "borough": "Borough",
    "age_band": "Age band",
    "sex": "Sex",
    "imd_quintile": "IMD quintile (1 most deprived)",
    "ethnicity": "Ethnic group",
    "year": "Year of onset",
}
MEASURE_NAMES = {
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
}


def protected_accuracy(
    table: pd.DataFrame, settings: DisclosureSettings, keys: list[str] | None = None
) -> pd.DataFrame:
    """The accuracy table for the record: the four cells protected, and each measure with its Wilson
    interval computed from the cells as shown (in per cent), suppressed where a cell it uses is."""
    keys = keys or []
    shown = table[keys].astype(str).copy() if keys else pd.DataFrame(index=table.index)
    protected = protect_counts(table[CELLS], CELLS, settings)
    for cell in CELLS:
        shown[cell.upper()] = protected[cell]
    for name, (num, (a, b)) in MEASURES.items():
        add_derived(
            shown, MEASURE_NAMES[name], Derived("wilson", num.upper(), (a.upper(), b.upper()))
        )
    shown.attrs["count_columns"] = [c.upper() for c in CELLS]
    return shown.rename(columns=GROUP_NAMES).reset_index(drop=True)


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


def sensitivity_figure(shown: pd.DataFrame, group: str, title: str) -> Figure:
    """Sensitivity with its 95% interval for each group, from the counts as shown (`protected_accuracy`):
    groups with a suppressed count, or no true cases, are not drawn."""
    tp, fn = shown_numbers(shown["TP"]), shown_numbers(shown["FN"])
    drawn = tp.notna() & fn.notna() & ((tp + fn) > 0)
    k, n = tp[drawn].to_numpy(float), (tp + fn)[drawn].to_numpy(float)
    estimate = k / n
    low, high = wilson(k, n)
    figure = Figure(figsize=(8, 3.5))
    axes = figure.add_subplot()
    x = np.arange(len(k))
    # Clipped at zero: at 0% or 100% the interval's end can differ from the estimate by rounding only.
    errors = np.clip(np.vstack([estimate - low, high - estimate]), 0, None)
    axes.errorbar(x, estimate * 100, yerr=errors * 100, fmt="o", capsize=3)
    labels = shown.loc[drawn, group].astype(str)
    axes.set_xticks(x, labels, rotation=45 if len(k) > 6 else 0)
    axes.set(
        title=textwrap.fill(title, 64),
        xlabel=group,
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


NO_TRUTH = (
    "**Validation against a truth is impossible on these data.** They hold no record of who truly "
    "has the condition (only the kit's synthetic data do), so no sensitivity, specificity or "
    "predictive value can be computed, and no false positive or missed case traced. What can be "
    "checked without a truth follows: code usage, orphan codes, trends, what cannot be right, and "
    "release drift."
)


def true_patients(test: CodesetUnderTest, dataset_dir: str, pattern: str) -> set[int] | None:
    """The population's patients whose true condition matches `pattern` by the index date; None
    when the data hold no truth (any source but the kit's synthetic datasets) or no pattern is
    given."""
    if not test.data.has_truth or not pattern:
        return None
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
    return shown[[GROUP_NAMES["year"], "TP", "FN", "Sensitivity"]]


def anomaly_summary(test: CodesetUnderTest, dataset_dir: str) -> pd.DataFrame:
    """Anomalies among every event of the codeset's codes, whatever its date."""
    engine = open_engine(dataset_dir, root=project_root())
    events = engine.events_with_codes(test.expansion.code_set, dt.date.max)
    patients = engine.birth_and_death_dates()
    return anomalies(events, patients, AnomalyRules(extract_date=extract_date(dataset_dir, engine)))


def extract_date(dataset_dir: str, engine: IbisEngine | None = None) -> dt.date:
    """The last date the data cover (their extraction date): a generated dataset's `end`, from its
    manifest; for any other source, the date of its latest event (`engine` runs on it)."""
    source = data_source(dataset_dir, project_root())
    if source.kind == "kit" and source.has_truth:
        manifest = read_manifest(Path(source.location))
        return dt.date.fromisoformat(str(manifest["parameters"]["end"]))
    engine = engine or open_engine(source)
    last = describe_data(engine)["tables"]["clinical_events"]["last"]
    if last is None:
        raise DatasetError("the data hold no dated clinical events", field="clinical_events")
    return dt.date.fromisoformat(last)


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


# What the page shows, section by section: each table protected, with readable names, and the findings
# it flags stated in words computed from the shown numbers.

DRIFT_THRESHOLD = 0.05


def _readable(table: pd.DataFrame, names: dict[str, str], counts: list[str]) -> pd.DataFrame:
    shown = table.rename(columns=names)
    shown.attrs["count_columns"] = [names.get(c, c) for c in counts]
    return shown


def accuracy_findings(overall: pd.DataFrame) -> str:
    """The overall accuracy in words, from the shown table (`protected_accuracy` without groups)."""
    row = overall.iloc[0]
    parts = []
    if row["Sensitivity"] not in ("", SUPPRESSED_FIGURE):
        parts.append(f"finds {row['Sensitivity']} of the patients who truly have the condition")
    if row["PPV"] not in ("", SUPPRESSED_FIGURE):
        parts.append(f"{row['PPV']} of the patients it finds truly have it")
    if not parts:
        return "The counts are too small to state the codeset's accuracy."
    missed = row["FN"]
    return (
        "The codeset "
        + "; ".join(parts)
        + f". It misses {missed} true cases and counts {row['FP']} patients without the condition: "
        "the sections below trace both to the codes responsible."
    )


def false_positive_table(test: CodesetUnderTest, truth: set[int], top: int = 15) -> pd.DataFrame:
    """The codes bringing in the most false positives, with the patients each brings in."""
    table = false_positive_codes(test.data.coded_events, truth, test.terms).head(top)
    shown = protect_counts(table, ["patients", "false_positives"], test.disclosure)
    names = {"code": "Code", "term": "Term", "patients": "Patients"}
    names["false_positives"] = "Patients without the condition"
    return _readable(shown.drop(columns="share_false"), names, ["patients", "false_positives"])


def missed_tables(
    test: CodesetUnderTest, truth: set[int], top: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Why true cases are missed: not coded at all, or coded outside the codeset (and with what)."""
    missed = truth - test.coded_patients
    split, outside = false_negative_reasons(missed, test.data.near_events, test.terms)
    names = {"reason": "Reason", "code": "Code", "term": "Term", "patients": "Patients"}
    return (
        _readable(protect_counts(split, ["patients"], test.disclosure), names, ["patients"]),
        _readable(
            protect_counts(outside.head(top), ["patients"], test.disclosure), names, ["patients"]
        ),
    )


def usage_table(test: CodesetUnderTest, top: int = 25) -> tuple[str, pd.DataFrame]:
    """The codes' use in the data (most used first) and a sentence on how many are unused."""
    usage = code_usage(test.data.coded_events, {r.code: r.term for r in test.expansion.codes})
    unused = int((usage["note"] == "unused").sum())
    sentence = f"{unused} of the codeset's {len(usage)} codes are not used in this dataset" + (
        ": each is either rare in practice or a sign that the codeset names codes nobody records."
        if unused
        else "."
    )
    shown = protect_counts(usage.head(top), ["patients", "events"], test.disclosure)
    names = {"code": "Code", "term": "Term", "patients": "Patients", "events": "Events"}
    names["note"] = "Note"
    return sentence, _readable(shown.drop(columns="share_of_events"), names, ["patients", "events"])


def orphan_table(test: CodesetUnderTest, top: int = 20) -> pd.DataFrame:
    """Codes recorded near the codeset but left out of it, ranked by the patients they would add."""
    orphans = orphan_codes(test.data.near_events, test.near, test.terms).head(top)
    names = {"code": "Code", "term": "Term", "patients": "Patients", "events": "Events"}
    names["why_near"] = "Why it is near"
    shown = protect_counts(orphans, ["patients", "events"], test.disclosure)
    return _readable(shown, names, ["patients", "events"])


def usage_trend_shown(test: CodesetUnderTest, since: str = "2010-01-01") -> pd.DataFrame:
    """Events per year and code as the record may draw them: rounded, and missing where suppressed."""
    trend = usage_trend(test.data.coded_events, "YS")
    trend = trend[trend["period"] >= since]
    shown = protect_counts(trend, ["events"], test.disclosure)
    return trend.assign(events=shown_numbers(shown["events"]))


def anomaly_findings(test: CodesetUnderTest, dataset_dir: str) -> tuple[str, pd.DataFrame]:
    """Events that cannot be right, as a protected table and a sentence naming what was found."""
    table = protect_counts(
        anomaly_summary(test, dataset_dir), ["events", "patients"], test.disclosure
    )
    phrases = {
        "before birth": "dated before the patient's birth",
        "after death": "dated after the patient's death",
        "in the future": "dated after the extraction date",
        "placeholder date": "on a placeholder date (such as 1900-01-01)",
        "repeated": "repeated on the same day",
        "implausible value": "with an implausible value",
    }
    found = [
        f"{row.events} events in {row.patients} patients {phrases.get(row.anomaly, row.anomaly)}"
        for row in table.itertuples()
        if row.events != "0"
    ]
    if found:
        sentence = (
            "Found: " + "; ".join(found) + ". Such events are errors of recording or extraction: "
            "a cohort that counts them takes the error into its numbers, so check them at source "
            "or exclude them explicitly."
        )
    else:
        sentence = "No event of the codeset's codes falls on an impossible or placeholder date."
    names = {"anomaly": "Anomaly", "events": "Events", "patients": "Patients"}
    return sentence, _readable(table, names, ["events", "patients"])


def drift_findings(
    test: CodesetUnderTest, threshold: float = DRIFT_THRESHOLD
) -> tuple[str, pd.DataFrame]:
    """The same rules in each other release, with the change in patients found, flagged in words
    where it is beyond `threshold` (a share of the patients found now)."""
    drift = drift_summary(test)
    if drift.empty:
        return "No other release of this edition is available to compare with.", drift
    shown = protect_counts(drift, ["Patients before", "Patients after"], test.disclosure)
    shown.attrs["count_columns"] = ["Patients before", "Patients after"]
    add_derived(
        shown, "Change in patients", Derived("change", "Patients after", ("Patients before",))
    )
    sentences = []
    for row in shown.to_dict("records"):
        before, after = shown_number(row["Patients before"]), shown_number(row["Patients after"])
        if before is None or after is None or before == 0:
            continue
        change = after / before - 1
        if abs(change) > threshold:
            sentences.append(
                f"Under {row['Release']} the same rules find {abs(change):.0%} "
                f"{'more' if change > 0 else 'fewer'} patients ({before:.0f} → {after:.0f}; "
                f"{row['Codes added']} codes added, {row['Codes removed']} removed), beyond the "
                f"{threshold:.0%} threshold: review the codes that change before moving the "
                "codeset to that release."
            )
    if not sentences:
        sentences = [f"No other release changes the patients found by more than {threshold:.0%}."]
    return " ".join(sentences), shown


def version_overlap(test: CodesetUnderTest, other: CodesetUnderTest) -> pd.DataFrame:
    """Patients found by an earlier version only, by both, and by this version only (protected)."""
    table = overlap(
        other.coded_patients,
        test.coded_patients,
        (other.codeset.version, test.codeset.version),
    )
    shown = protect_counts(table, ["patients"], test.disclosure)
    shown.attrs["count_columns"] = ["patients"]
    return shown
