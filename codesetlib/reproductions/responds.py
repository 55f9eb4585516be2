"""Does the reproduction respond to the data? The same analysis on a population calibrated otherwise.

The kit's synthetic population is generated from a calibration whose recording shares are the review's
published figures, so recovering them shows only that the analysis measures what the review measured
(its definitions, codesets and periods), not that the figures are right. Here a second calibration
(`ncl_calibration_alternative.yaml`) sets clearly different shares; a small population is generated
from it into a folder the kit owns, the reproduction runs on it unchanged, and each figure is set
beside both the share the alternative sets and the published value. The analysis never reads a
calibration: only this comparison does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from codesetlib.core.disclosure import (
    Derived,
    DisclosureSettings,
    add_derived,
    percent,
    protect_counts,
)
from codesetlib.core.errors import DatasetError
from codesetlib.core.paths import resolve
from codesetlib.data.synthetic.calibration import Calibration, load_calibration
from codesetlib.data.synthetic.generate import dataset_is_current, generate_dataset
from codesetlib.data.synthetic.manifest import dataset_damage
from codesetlib.data.synthetic.params import CONFIG_DIR, DEFAULT_CALIBRATION, make_params
from codesetlib.data.synthetic.writer import MANIFEST, sha256_of
from codesetlib.reproductions import ncl

ALTERNATIVE_CALIBRATION = CONFIG_DIR / "ncl_calibration_alternative.yaml"

# Each published figure with the recording share of a calibration that it estimates: the share of a
# truth item reaching the record is what completeness, coding and review figures measure.
CALIBRATED_BY = {
    "ethnicity": "ethnicity",
    "main_spoken_language": "main_language",
    "employment_status": "employment_status",
    "family_history_recorded": "family_history_of_cancer",
    "cancer_coded_truth": "cancer_diagnosis",
    "cancer_coded_expected": "cancer_diagnosis",
    "cancer_care_review": "cancer_care_review",
}


def calibration_file(path: str) -> Path:
    """The calibration a notebook parameter names (relative to the project), or the shipped
    alternative when it names none."""
    return resolve(path) if path else ALTERNATIVE_CALIBRATION


def calibrated_shares(calibration: Calibration) -> dict[str, float]:
    """The value each published figure takes on a population generated from `calibration`."""
    return {m: getattr(calibration.recording, item) for m, item in CALIBRATED_BY.items()}


def calibration_note(dataset_dir: Path) -> str:
    """What a match with the published figures means on this dataset, read from its manifest: on data
    generated from a calibration whose shares are the published figures, a match checks definitions,
    not the figures. Empty for data the kit did not generate."""
    manifest = Path(dataset_dir) / MANIFEST
    if not manifest.is_file():
        return ""
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    path = Path(recorded["parameters"].get("calibration") or DEFAULT_CALIBRATION)
    if not path.is_file() or sha256_of(path) != recorded["inputs"]["calibration"]["sha256"]:
        return (
            f"The dataset was generated from `{recorded['inputs']['calibration']['path']}`, which is "
            "no longer there as it was, so what it set cannot be compared with the published figures."
        )
    shares = calibrated_shares(load_calibration(path))
    published = {p.measure: p.value for p in ncl.PUBLISHED}
    same = sum(share == published[m] for m, share in shares.items())
    source = f"This dataset was generated from `{path.name}`"
    if same == 0:
        return f"{source}, whose shares differ from the published figures: they should not match."
    which = "the published figures" if same == len(shares) else f"{same} of the published figures"
    return (
        f"{source}, whose recording shares are {which}: a published figure within the reproduced "
        "interval shows that the analysis measures what the review measured, not that the figure "
        "is right."
    )


def alternative_dataset(
    calibration_file: Path, out_dir: Path, *, patients: int, practices: int, seed: int
) -> Path:
    """A population generated from `calibration_file` into `out_dir`, reused while its manifest shows
    the same parameters and calibration; a folder the kit did not write is refused, never replaced."""
    out_dir = Path(out_dir)
    params = make_params(
        patients=patients,
        practices=practices,
        seed=seed,
        calibration=str(Path(calibration_file).resolve()),
    )
    # A damaged table of the kit's own population is generated again, as `codeset data` does.
    if dataset_is_current(params, out_dir) and dataset_damage(out_dir) is None:
        return out_dir
    if out_dir.exists() and not (out_dir / MANIFEST).is_file():
        raise DatasetError(
            f"holds no {MANIFEST}, so it is not a dataset the kit generated; "
            "choose another folder for the alternative population",
            path=out_dir,
        )
    generate_dataset(params, out_dir, progress=False)
    return out_dir


def against_calibration(summary: pd.DataFrame, shares: dict[str, float]) -> pd.DataFrame:
    """Each figure a calibration sets, from `ncl.summary` of its population: the published value, the
    calibration's share, the figure recovered with its interval, whether the interval holds the share
    and the published value, and whether it recovers the share and not the published value."""
    rows = summary[summary["measure"].isin(shares)].reset_index(drop=True)
    calibrated = rows["measure"].map(shares)
    rows = rows.assign(
        calibrated=calibrated,
        calibrated_inside=rows["low"].le(calibrated) & rows["high"].ge(calibrated),
        published_inside=rows["recovered"].astype(bool),
    )
    return rows.assign(responds=rows["calibrated_inside"] & ~rows["published_inside"])


def run_alternative(
    calibration_file: Path,
    dataset_dir: Path,
    codesets_dir: Path,
    rates_file: Path,
    period: ncl.Period,
    *,
    patients: int,
    practices: int,
    seed: int,
    versions: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Generate (or reuse) the alternative population, reproduce every measure on it, and compare."""
    dataset = alternative_dataset(
        calibration_file, dataset_dir, patients=patients, practices=practices, seed=seed
    )
    review = ncl.open_review(dataset, ncl.load_codesets(codesets_dir, versions=versions), period)
    summary = ncl.summary(ncl.all_measures(review, ncl.read_rates(rates_file)))
    return against_calibration(summary, calibrated_shares(load_calibration(calibration_file)))


SETS = "Alternative calibration sets"
RECOVERED = "Recovered (95% CI)"
VERDICT = "Recovers the alternative, not the published"


def response_table(table: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The comparison for the record: counts protected, the recovered share computed from the counts
    as shown with an interval at least as wide as the binomial (or Poisson) one on them, and the
    verdict read from that shown interval, so what a reader checks is what was judged."""
    shown = pd.DataFrame(
        {
            "Measure": table["label"],
            "Published": [percent(v) for v in table["published"]],
            SETS: [percent(v) for v in table["calibrated"]],
        }
    )
    exact = table[["numerator", "denominator"]].round().astype(int)
    counts = protect_counts(exact, ["numerator", "denominator"], settings)
    shown["Numerator"], shown["Denominator"] = counts["numerator"], counts["denominator"]
    shown["Interval"] = table["interval"]
    shown.attrs["count_columns"] = ["Numerator", "Denominator"]
    shown.attrs["reference_columns"] = ["Published", SETS]
    widen = [
        (r - lo, hi - r)
        for r, lo, hi in zip(table["reproduced"], table["low"], table["high"], strict=True)
    ]
    add_derived(
        shown,
        RECOVERED,
        Derived("wilson_or_wider", "Numerator", ("Denominator",), method_column="Interval"),
        widen,
    )
    shown[VERDICT] = [
        "yes"
        if ncl.within_interval(alt, text) == "yes" and ncl.within_interval(pub, text) != "yes"
        else "no"
        for alt, pub, text in zip(
            table["calibrated"], table["published"], shown[RECOVERED], strict=True
        )
    ]
    # What a reader compares first, then the counts and interval the figure is computed from.
    first = ["Measure", "Published", SETS, RECOVERED, VERDICT]
    return shown[first + [c for c in shown.columns if c not in first]]


def describe(shown: pd.DataFrame, calibration_file: Path, patients: int, practices: int) -> str:
    """One sentence saying what was generated from which file and, from the table as shown
    (`response_table`), how many figures the alternative changes and how many respond."""
    changed = int((shown[SETS] != shown["Published"]).sum())
    which = (
        f"all {len(shown)} published figures"
        if changed == len(shown)
        else f"{changed} of the {len(shown)} published figures"
    )
    return (
        f"{patients:,} synthetic patients in {practices} practices, generated from "
        f"`{Path(calibration_file).name}`, which gives {which} other values. The analysis recovers "
        f"the alternative value, and not the published one, for {int((shown[VERDICT] == 'yes').sum())} "
        f"of the {len(shown)}."
    )
