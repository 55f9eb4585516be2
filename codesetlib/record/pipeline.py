"""Run a study: check its inputs, make its dataset, execute its notebooks and build its record.

Each notebook run is cached by a hash of the content of everything it reads (`codesetlib.record.run_cache`:
the notebook, its parameters, the files and folders they name, the study's settings, the codesets, the
dataset's manifest, the package versions and the kit's source), so a second run re-executes only what
changed. The dataset's tables are checked against its manifest before anything reads them. Every
output is written atomically and the cache is updated after each notebook, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import papermill

from codesetlib.codesets.expand import open_codeset_release
from codesetlib.codesets.files import codeset_dir, load_codeset, read_codes
from codesetlib.codesets.model import Codeset, content_hash
from codesetlib.codesets.versions import verify_version, version_dir
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.engines.describe import describe_data
from codesetlib.core.atomic import file_written_whole, write_text
from codesetlib.core.disclosure import protect_counts
from codesetlib.core.errors import DatasetError, StudyError
from codesetlib.core.file_hashes import file_sha256
from codesetlib.data.sources import DataSource, data_source
from codesetlib.data.synthetic import generate_dataset
from codesetlib.data.synthetic.generate import dataset_is_current
from codesetlib.data.synthetic.manifest import dataset_damage
from codesetlib.data.synthetic.writer import why_not_a_kit_dataset
from codesetlib.record.book import build_book, copy_vendor_assets
from codesetlib.record.book.cards import write_cards
from codesetlib.record.book.disclosure_scan import scan_book
from codesetlib.record.book.execute import run_notebook
from codesetlib.record.book.pages import provenance_page, write_page
from codesetlib.record.book.study_page import write_study_summary
from codesetlib.record.book.titles import apply_page_title
from codesetlib.record.provenance import (
    dataset_provenance,
    environment,
    git_state,
    sha256_bytes,
    sha256_json,
)
from codesetlib.record.run_cache import (
    declared_defaults,
    notebook_inputs,
    run_key,
    settled_inputs,
    study_inputs,
)
from codesetlib.record.study import CodesetPin, Study, check_cohort_codesets, load_study

GENERATED = "generated"
RUNS_FILE = ".runs.json"


def log(message: str) -> None:
    print(f"[codeset run] {message}", file=sys.stderr, flush=True)


@contextmanager
def logged_step(message: str) -> Iterator[None]:
    """One line for a step that takes a while: what it does, then how long it took (or that it
    failed), so a run prints one line per step however it ends."""
    started = time.perf_counter()
    print(f"[codeset run] {message} ... ", end="", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException:
        print("failed", file=sys.stderr, flush=True)
        raise
    print(f"{time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StudyCodeset:
    """A codeset as the study pins it: its folder, model and content hash."""

    folder: Path
    codeset: Codeset
    content_hash: str


def check_codesets(study: Study, root: Path) -> dict[str, StudyCodeset]:
    """Load every codeset the study names at its pinned version, and its release, before anything runs;
    refuse a version whose content is not what was published, and a cohort naming another codeset."""
    found = {}
    for pin in study.codesets:
        codeset_dir(root / study.codesets_dir, pin.id)
        folder = version_dir(root / study.codesets_dir, pin.id, pin.version)
        codeset, rows = load_codeset(folder), read_codes(folder)
        verify_version(folder, codeset, rows, pinned=pin.version is not None)
        open_codeset_release(codeset)
        found[pin.id] = StudyCodeset(folder, codeset, content_hash(codeset, rows))
    check_cohort_codesets(study, root)
    return found


def ensure_dataset(
    study: Study, root: Path, *, force: bool = False, regenerate_damaged: bool = False
) -> Path:
    """The study's dataset folder, generated unless a dataset with the same parameters is there, and
    its tables checked against its manifest. A damaged table (missing, truncated, changed) is an
    error naming its file, or with `regenerate_damaged` (what `codeset data` asks) it is reported and
    the dataset generated again. A folder there that is not a dataset the kit wrote is replaced only
    with `force`."""
    out = root / study.dataset_dir
    if dataset_is_current(study.dataset.synth, out):
        damage = dataset_damage(out)
        if damage is None:
            log(f"dataset {study.dataset_dir} is up to date")
            return out
        if not regenerate_damaged:
            raise DatasetError(
                f"{damage.message}; `codeset data` generates the dataset again", path=damage.path
            )
        log(f"{damage.location_message()}: generating the dataset again")
    foreign = None if force or not out.exists() else why_not_a_kit_dataset(out)
    if foreign is not None and not regenerate_damaged:
        # `codeset run` has no --force: say which command may replace the folder.
        raise DatasetError(
            f"{foreign}; refusing to replace it (name another dataset in the study, or run "
            "`codeset data STUDY --force` to replace it with a generated dataset)",
            path=out,
        )
    log(f"generating dataset {study.dataset_dir} ({study.dataset.synth.patients} patients)")
    generate_dataset(study.dataset.synth, out, force=force)
    return out


@dataclass(frozen=True)
class StudyData:
    """The study's data as the record and the run cache see them: `key` fixes their content (a
    generated dataset's manifest; a source's files, or a database's counts and date spans),
    `provenance` is what the provenance page lists, `described` what the study page says (a
    generated dataset's manifest, or a source's description)."""

    key: str
    provenance: dict[str, Any]
    described: dict[str, Any]


def study_data(study: Study, root: Path, *, force: bool = False) -> StudyData:
    """The study's data: its synthetic dataset, made unless current, or its source, opened and
    described (which checks that it reads as the kit's tables before any notebook runs)."""
    if study.dataset.source is None:
        dataset = ensure_dataset(study, root, force=force)
        manifest = (dataset / "manifest.json").read_bytes()
        manifest_sha = sha256_bytes(manifest)
        synth = study.dataset.synth
        provenance = {
            "path": study.dataset_dir,
            **dataset_provenance(
                json.loads(manifest),
                manifest_sha,
                {"calibration": synth.calibration_path(), "code_choice": synth.code_choice_path()},
                root,
            ),
        }
        return StudyData(manifest_sha, provenance, {"manifest": json.loads(manifest)})
    source = data_source(study.dataset.source, root)
    log(f"reading {source.kind} data from {study.dataset.source}")
    engine = open_engine(source)
    opened = getattr(engine, "opened", None)
    described: dict[str, Any] = {
        "source": study.dataset.source,
        "kind": source.kind,
        "has_truth": source.has_truth,
        **describe_data(engine),
        "details": {} if opened is None else opened.details,
        "notes": [] if opened is None else [note.sentence() for note in opened.notes],
    }
    files = source_files(source)
    fixed = {"files": files} if files is not None else {"counts": described["tables"]}
    key = sha256_json([described, fixed])
    # What the record shows of the tables' sizes passes disclosure control like every count.
    rows = pd.DataFrame({"rows": [entry["rows"] for entry in described["tables"].values()]})
    shown = protect_counts(rows, ["rows"], study.disclosure)["rows"].tolist()
    tables = {
        name: {k: v for k, v in entry.items() if k != "rows"} | {"rows_shown": count}
        for (name, entry), count in zip(described["tables"].items(), shown, strict=True)
    }
    provenance = described | {"tables": tables} | ({"files": files} if files is not None else {})
    return StudyData(key, provenance, described)


def source_files(source: DataSource) -> dict[str, str] | None:
    """The SHA-256 of every file a file-based source reads (its file, or the files in its
    folder or its mapping's folder), by path; None for a database, which is fixed by its counts."""
    where = Path(source.location)
    if "://" in source.location or not where.exists():
        return None
    folder = where.parent if where.is_file() and source.kind == "mapped" else where
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    return {
        str(path.relative_to(folder) if path != folder else path.name): file_sha256(path)
        for path in paths
    }


def notebook_parameters(study: Study, declared: set[str], given: dict) -> dict:
    """The study-wide parameters a notebook declares, overlaid by the notebook's own."""
    common = {
        "codeset_id": study.codeset_ids[0],
        "codeset_ids": study.codeset_ids,
        "codeset_versions": {pin.id: pin.version for pin in study.codesets},
        "codesets_dir": study.codesets_dir,
        "dataset_dir": study.dataset_dir,
        "index_date": study.index_date.isoformat(),
        "seed": study.seed,
        "disclosure_enabled": study.disclosure.enabled,
        "disclosure_threshold": study.disclosure.threshold,
        "disclosure_rounding": study.disclosure.rounding,
    }
    return {k: v for k, v in common.items() if k in declared} | given


def execute_notebook(
    source: Path, target: Path, parameters: dict, root: Path, has_truth: bool = True
) -> None:
    """Execute one notebook with papermill into `target`, atomically (temporary file, then rename);
    without the cells that need a truth when the data hold none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_written_whole(target) as partial:
        run_notebook(
            source,
            partial,
            parameters,
            root,
            page=Path(target.parent.name, target.name),
            has_truth=has_truth,
        )
        apply_page_title(partial)


def _read_runs(path: Path) -> dict:
    """The keys of earlier runs; none when the file is missing or damaged (every notebook runs)."""
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return runs if isinstance(runs, dict) else {}


def _write_json(path: Path, value: object) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def write_codeset_cards(codesets: dict[str, StudyCodeset], generated: Path) -> None:
    """A card per codeset of the study (and none for codesets it does not use), every version's
    downloads, and the overview of the study's codesets."""
    write_cards({codeset_id: pinned.folder for codeset_id, pinned in codesets.items()}, generated)


def run_notebooks(
    study: Study, root: Path, generated: Path, inputs: dict, has_truth: bool = True
) -> dict:
    """Execute the study's notebooks whose inputs changed (without the cells that need a truth
    when the data hold none); return what was run, with timings."""
    runs_path = generated / RUNS_FILE
    runs = _read_runs(runs_path)
    record = {}
    for number, run in enumerate(study.notebooks, start=1):
        source = root / run.path
        if not source.is_file():
            raise StudyError(
                f"notebook {run.path} does not exist", field=f"notebooks[{number - 1}].path"
            )
        inspected = papermill.inspect_notebook(str(source))
        declared = set(inspected)
        unknown = set(run.parameters) - declared
        if unknown:
            raise StudyError(
                f"{run.path} declares no parameter(s) {', '.join(sorted(unknown))} "
                f"(it declares: {', '.join(sorted(declared))})",
                field=f"notebooks[{number - 1}].parameters",
            )
        parameters = notebook_parameters(study, declared, dict(run.parameters))
        read = notebook_inputs(source, parameters, declared_defaults(inspected), root)
        key = run_key(read, inputs)
        target = generated / f"{run.output_name}.ipynb"
        started = time.perf_counter()
        executed = runs.get(run.output_name) != key or not target.is_file()
        step = f"({number}/{len(study.notebooks)}) {run.output_name}"
        if executed:
            with logged_step(f"{step}: executing {run.path}"):
                execute_notebook(source, target, parameters, root, has_truth)
            key = run_key(settled_inputs(read, root), inputs)
            runs[run.output_name] = key
            _write_json(runs_path, runs)
        else:
            log(f"{step}: reused, its inputs are unchanged")
        seconds = time.perf_counter() - started
        record[run.output_name] = {
            "path": run.path,
            "inputs_hash": key,
            "executed": executed,
            "seconds": seconds,
            "parameters": parameters,
        }
    return record


def run_study(
    study_path: Path, *, codeset: str | None = None, book_dir: Path | None = None
) -> Path:
    """Build the record of the study at `study_path`; return the built book's index.html."""
    started = time.perf_counter()
    study = load_study(study_path)
    root = study_path.resolve().parent
    if codeset is not None:
        # The named codeset leads (notebooks default to it); the study's own stay, so pages that link to
        # their cards still resolve.
        others = [pin for pin in study.codesets if pin.id != codeset]
        study = study.model_copy(update={"codesets": [CodesetPin(id=codeset), *others]})
    codesets = check_codesets(study, root)
    data = study_data(study, root)
    book = book_dir or root / study.book_dir
    generated = book / GENERATED
    env = environment()
    inputs = study_inputs(study, {k: v.content_hash for k, v in codesets.items()}, data.key)
    write_codeset_cards(codesets, generated)
    write_study_summary(
        generated, study_path, study, {k: v.codeset for k, v in codesets.items()}, data.described
    )
    has_truth = bool(data.described.get("has_truth", True))
    notebooks = run_notebooks(study, root, generated, inputs, has_truth)
    provenance = {
        "study": study_path.name,
        "git": git_state(root),
        **env,
        "seed": study.seed,
        "index_date": study.index_date.isoformat(),
        "dataset": data.provenance,
        "codesets": {
            k: {
                "version": v.codeset.version,
                "release": v.codeset.terminology_release,
                "content_hash": v.content_hash,
            }
            for k, v in codesets.items()
        },
        "disclosure": study.disclosure.describe(),
        "notebooks": notebooks,
    }
    copy_vendor_assets(root, book)
    provenance["seconds_before_book_build"] = round(time.perf_counter() - started, 2)
    _write_json(generated / "provenance.json", provenance)
    write_page(generated / "provenance.md", provenance_page(provenance))
    with logged_step("building the book"):
        index = build_book(book)
    leaks = scan_book(index.parent, study.disclosure)
    if leaks:
        shown = "\n".join(leak.line() for leak in leaks[:20])
        raise StudyError(
            f"{len(leaks)} figure(s) in the book escaped disclosure control:\n{shown}",
            path=index.parent,
        )
    log(f"done in {time.perf_counter() - started:.1f} s: {index}")
    return index
