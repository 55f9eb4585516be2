"""The study in a paragraph, for the record's landing page: generated from the study, never typed.

What the paragraph says comes from the files the record is built from: the study (`study.yaml`), the
dataset's manifest (what the generator was asked for and what it wrote), the codesets at their pinned
versions, the cohort definitions the notebooks are given, and `CITATION.cff`. A notebook computes a
cohort when it takes a `cohort_file` parameter, and a practice measure of that cohort when it also
takes a `measure_title`; its parameters are its own defaults overlaid by the study's.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import papermill

from codesetlib.codesets.model import Codeset
from codesetlib.cohorts.load import load_definition
from codesetlib.core.disclosure import protect_counts
from codesetlib.core.errors import StudyError
from codesetlib.core.yamlfile import read_yaml
from codesetlib.data.synthetic.calibration import load_calibration
from codesetlib.record.book.pages import write_page
from codesetlib.record.provenance import sha256_bytes
from codesetlib.record.study import NotebookRun, Study

CITATION_FILE = "CITATION.cff"
STUDY_SUMMARY = "study_summary.md"


@dataclass(frozen=True)
class CohortUse:
    """A cohort definition one of the study's notebooks computes."""

    file: str
    id: str
    title: str
    page: str


@dataclass(frozen=True)
class MeasureUse:
    """A practice-level measure one of the study's notebooks computes over a cohort."""

    title: str
    cohort: CohortUse
    frequency: str
    start: str
    end: str
    page: str


def run_parameters(run: NotebookRun, root: Path) -> dict:
    """The parameters a notebook runs with: its own defaults overlaid by the study's."""
    declared = papermill.inspect_notebook(str(root / run.path))
    defaults = {}
    for name, parameter in declared.items():
        try:
            defaults[name] = ast.literal_eval(parameter["default"])
        except (ValueError, SyntaxError):
            continue  # a default computed in code: not a fact the paragraph can state
    return defaults | dict(run.parameters)


def cohorts_and_measures(study: Study, root: Path) -> tuple[list[CohortUse], list[MeasureUse]]:
    """The cohorts (once each, in study order) and measures that the study's notebooks compute.

    A cohort links to the first notebook that computes it alone, or else to the first measure of it."""
    runs = []
    for number, run in enumerate(study.notebooks):
        parameters = run_parameters(run, root)
        cohort_file = parameters.get("cohort_file")
        if not isinstance(cohort_file, str):
            continue
        if not (root / cohort_file).is_file():
            raise StudyError(
                f"cohort file {cohort_file} does not exist",
                path=root / run.path,
                field=f"notebooks[{number}].parameters.cohort_file",
            )
        runs.append((f"generated/{run.output_name}", cohort_file, parameters))
    alone = [run for run in runs if "measure_title" not in run[2]]
    cohorts: dict[str, CohortUse] = {}
    for page, cohort_file, _ in alone + [run for run in runs if run not in alone]:
        if cohort_file not in cohorts:
            definition = load_definition(root / cohort_file)
            title = definition.title or definition.id
            cohorts[cohort_file] = CohortUse(cohort_file, definition.id, title, page)
    measures = [
        MeasureUse(
            title=str(parameters["measure_title"]),
            cohort=cohorts[cohort_file],
            frequency=str(parameters.get("frequency", "")),
            start=str(parameters.get("start", "")),
            end=str(parameters.get("end", "")),
            page=page,
        )
        for page, cohort_file, parameters in runs
        if "measure_title" in parameters
    ]
    in_study_order = sorted(cohorts.values(), key=lambda c: [r[1] for r in runs].index(c.file))
    return in_study_order, measures


def read_citation(root: Path) -> dict | None:
    """The study folder's CITATION.cff, or None when it has none."""
    path = root / CITATION_FILE
    if not path.is_file():
        return None
    citation, _ = read_yaml(path, StudyError)
    if not isinstance(citation, dict) or not citation.get("title"):
        raise StudyError("a citation needs a title", path=path, field="title")
    return citation


def citation_text(citation: dict) -> str:
    """One reference in words: authors, title, version, year, identifier and licence, as given."""
    names = []
    for author in citation.get("authors") or []:
        person = " ".join(
            str(author[k]) for k in ("given-names", "name-particle", "family-names") if k in author
        )
        names.append(str(author.get("name") or person))
    parts = [f"{'; '.join(names)}." if names else ""]
    title = f"*{citation['title']}*"
    if citation.get("version"):
        title += f", version {citation['version']}"
    kind = citation.get("type", "software")
    parts.append(f"{title} [{kind}].")
    if citation.get("date-released"):
        parts.append(f"Released {citation['date-released']}.")
    # Identifiers are text, not links: the record's pages link to nothing outside the machine.
    if citation.get("doi"):
        parts.append(f"doi {citation['doi']}.")
    elif citation.get("repository-code") or citation.get("url"):
        parts.append(f"`{citation.get('repository-code') or citation['url']}`.")
    if citation.get("license"):
        parts.append(f"Licence: {citation['license']}.")
    return " ".join(p for p in parts if p)


def shown_count(count: int, study: Study) -> str:
    """A count of patients as the record may show it: through the study's disclosure control."""
    frame = protect_counts(pd.DataFrame({"n": [count]}), ["n"], study.disclosure)
    value = str(frame["n"].iloc[0])
    return f"{int(value):,}" if value.isdigit() else value


def data_paragraph(study: Study, root: Path, manifest: Mapping) -> str:
    """Where the data come from: the generator, its seed and size, window, releases and calibration."""
    parameters = manifest["parameters"]
    tables = manifest["tables"]
    calibration = manifest.get("inputs", {}).get("calibration", {})
    boroughs, source = "", ""
    calibration_path = study.dataset.synth.calibration_path()
    if not calibration_path.is_absolute():
        calibration_path = root / calibration_path
    # The calibration is described only when the file there is the one the dataset was made from.
    if calibration_path.is_file() and sha256_bytes(
        calibration_path.read_bytes()
    ) == calibration.get("sha256"):
        loaded = load_calibration(calibration_path)
        boroughs = f" in {len(loaded.boroughs)} boroughs ({_listing(loaded.boroughs)})"
        source = f" Its source: {loaded.source.rstrip('.')}."
    return (
        f"**Data.** Synthetic primary-care records made by the kit's generator "
        f"(`codesetlib.data.synthetic`) with seed {manifest['seed']}: "
        f"{shown_count(tables['patients']['rows'], study)} patients registered at "
        f"{tables['practices']['rows']} practices{boroughs}, their events coded from "
        f"{parameters['start']} to {parameters['end']} in SNOMED CT `{parameters['terminology_release']}` "
        f"and dm+d `{parameters['dmd_release']}`, and from {parameters['drift_date']} in "
        f"`{parameters['terminology_release_after_drift']}` and `{parameters['dmd_release_after_drift']}`. "
        f"The coding process is calibrated by `{calibration.get('path', '?')}` (sha256 "
        f'<code class="provenance-value">{calibration.get("sha256", "")}</code>).{source} The dataset is '
        f"`{study.dataset_dir}`; its manifest fixes every table by its hash."
    )


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def source_paragraph(study: Study, described: Mapping) -> str:
    """Where the data come from when the study reads a source: its kind, size, date span, how its
    codes meet the codesets, what was left out on the way in, and that it holds no truth."""
    kinds = {
        "kit": "A dataset in the kit's own tables",
        "omop": "An OMOP Common Data Model",
        "ehrql": "OpenSAFELY-style core tables",
        "mapped": "A GP extract read through its mapping",
    }
    tables = described["tables"]
    events = tables.get("clinical_events", {})
    details = {
        k: v
        for k, v in described.get("details", {}).items()
        if k != "kind" and isinstance(v, str | int | float)
    }
    parts = [
        f"**Data.** {kinds.get(described['kind'], described['kind'])}, read from "
        f"`{described['source']}`: {shown_count(tables['patients']['rows'], study)} patients, "
        f"their coded events dated from {events.get('first', '?')} to {events.get('last', '?')}."
    ]
    if details:
        parts.append(
            "About the source: "
            + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in details.items())
            + "."
        )
    notes = described.get("notes", [])
    parts.append(
        "Left out on the way in: " + "; ".join(notes) + "."
        if notes
        else "No row was left out on the way in."
    )
    if not described.get("has_truth"):
        parts.append(
            "**Validation against a truth is impossible on these data**: they hold no record of who "
            "truly has each condition, so no sensitivity or positive predictive value can be "
            "computed; the validation pages show what can be checked without one (code usage, "
            "unused and orphan codes, trends, anomalies and release drift)."
        )
    return " ".join(parts)


def study_summary(
    study_path: Path, study: Study, codesets: Mapping[str, Codeset], described: Mapping
) -> str:
    """The study in a few short paragraphs, then how to cite it, as MyST for the landing page.

    `study` is the study as run (`codeset run --codeset` puts another codeset first), `codesets` its
    codesets at their pinned versions, `manifest` its dataset's manifest."""
    root = study_path.resolve().parent
    cohorts, measures = cohorts_and_measures(study, root)
    pinned = [
        f"{{ref}}`{codeset.title} <codeset-{codeset_id}>` (v{codeset.version})"
        for codeset_id, codeset in codesets.items()
    ]
    paragraphs = [
        f"This record documents **{study.title}** (`{study_path.name}`): index date "
        f"{study.index_date.isoformat()}, seed {study.seed}. {study.disclosure.describe()}",
        (
            data_paragraph(study, root, described["manifest"])
            if "manifest" in described
            else source_paragraph(study, described)
        ),
        f"**Codesets.** The study pins {len(pinned)}: {_listing(pinned)}.",
    ]
    analyses = []
    if cohorts:
        links = [f"{{doc}}`{c.title} </{c.page}>` (`{c.file}`)" for c in cohorts]
        analyses.append(f"The notebooks compute the cohorts {_listing(links)}.")
    if measures:
        links = [
            f"{{doc}}`{m.title} </{m.page}>` (in the cohort *{m.cohort.title}*, "
            f"{m.frequency} from {m.start} to {m.end})"
            for m in measures
        ]
        analyses.append(f"By practice, they measure {_listing(links)}.")
    if analyses:
        paragraphs.append(f"**Cohorts and measures.** {' '.join(analyses)}")
    citation = read_citation(root)
    cite = (
        f"{citation.get('message', '').strip()}\n\n> {citation_text(citation)}"
        if citation
        else f"The study's folder has no `{CITATION_FILE}`, so the record names no citation."
    )
    return "## The study\n\n" + "\n\n".join(paragraphs) + f"\n\n## How to cite\n\n{cite}\n"


def write_study_summary(
    generated: Path,
    study_path: Path,
    study: Study,
    codesets: Mapping[str, Codeset],
    described: Mapping,
) -> Path:
    """Write the study's summary to `generated/study_summary.md`, which the landing page includes."""
    summary = study_summary(study_path, study, codesets, described)
    return write_page(generated / STUDY_SUMMARY, summary)
