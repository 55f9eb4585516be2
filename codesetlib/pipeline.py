"""Run a study: check its inputs, make its dataset, execute its notebooks and build its record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import papermill
from papermill.exceptions import PapermillExecutionError

from codesetlib.book import build_book, copy_vendor_assets
from codesetlib.codeset import codeset_dir, load_codeset
from codesetlib.errors import StudyError
from codesetlib.study import Study, load_study
from codesetlib.synthetic import generate_dataset
from codesetlib.terminology import open_release

GENERATED = "generated"


def log(message: str) -> None:
    print(f"[codeset run] {message}", file=sys.stderr, flush=True)


def check_codesets(study: Study, root: Path) -> None:
    """Load every codeset the study names and its terminology release, before anything runs."""
    for codeset_id in study.codesets:
        codeset = load_codeset(codeset_dir(root / study.codesets_dir, codeset_id))
        open_release(codeset.terminology_release)


def ensure_dataset(study: Study, root: Path) -> Path:
    """The study's dataset folder, generated unless a dataset with the same parameters is there."""
    out = root / study.dataset_dir
    manifest = out / "manifest.json"
    wanted = study.dataset.synth.model_dump(mode="json")
    if manifest.is_file() and json.loads(manifest.read_text())["parameters"] == wanted:
        log(f"dataset {out.relative_to(root)} is up to date")
        return out
    log(f"generating dataset {out.relative_to(root)} ({study.dataset.synth.patients} patients)")
    generate_dataset(study.dataset.synth, out)
    return out


def notebook_parameters(study: Study, declared: set[str], given: dict) -> dict:
    """The study-wide parameters a notebook declares, overlaid by the notebook's own."""
    common = {
        "codeset_id": study.codesets[0],
        "codesets_dir": study.codesets_dir,
        "dataset_dir": study.dataset_dir,
        "index_date": study.index_date.isoformat(),
        "disclosure_enabled": study.disclosure.enabled,
        "disclosure_threshold": study.disclosure.threshold,
        "disclosure_rounding": study.disclosure.rounding,
    }
    return {k: v for k, v in common.items() if k in declared} | given


def execute_notebook(source: Path, out_dir: Path, parameters: dict, root: Path) -> Path:
    """Execute one notebook with papermill into `out_dir`, atomically (temporary file, then rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    partial = out_dir / f".{source.stem}.partial.ipynb"
    try:
        papermill.execute_notebook(
            str(source),
            str(partial),
            parameters=parameters,
            cwd=str(root),
            kernel_name="python3",
            progress_bar=False,
        )
    except PapermillExecutionError as exc:
        partial.unlink(missing_ok=True)
        raise StudyError(
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}", path=source
        ) from None
    partial.replace(target)
    return target


def run_study(
    study_path: Path, *, codeset: str | None = None, book_dir: Path | None = None
) -> Path:
    """Build the record of the study at `study_path`; return the built book's index.html."""
    study = load_study(study_path)
    root = study_path.resolve().parent
    if codeset is not None:
        study = study.model_copy(update={"codesets": [codeset]})
    check_codesets(study, root)
    ensure_dataset(study, root)
    book = book_dir or root / study.book_dir
    for run in study.notebooks:
        source = root / run.path
        if not source.is_file():
            raise StudyError(
                f"notebook {run.path} does not exist", path=study_path, field="notebooks"
            )
        declared = set(papermill.inspect_notebook(str(source)))
        given = dict(run.parameters)
        if codeset is not None and "codeset_id" in given:
            given["codeset_id"] = codeset
        log(f"executing {run.path}")
        execute_notebook(
            source, book / GENERATED, notebook_parameters(study, declared, given), root
        )
    copy_vendor_assets(root, book)
    log("building the book")
    return build_book(book)
