"""A study that reads a source as it is (`dataset: {source: …}`): the record describes the source,
says plainly that validation against a truth is impossible, and shows its sizes protected."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from codesetlib.core.errors import StudyError
from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.record.pipeline import run_study
from codesetlib.record.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = """\
title: A study on an extract
index_date: 2025-03-31
dataset:
  source: extract
codesets: [diabetes, hba1c, metformin, ethnicity]
notebooks:
  - path: notebooks/02_cohort.ipynb
    name: 02_cohort_diabetes_control
    parameters:
      cohort_file: cohorts/diabetes_control.yaml
  - path: notebooks/03_codeset_validation.ipynb
    name: 03_codeset_validation_diabetes
    parameters:
      codeset_id: diabetes
      truth_pattern: "^diabetes"
"""


def text_of(page: Path) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page.read_text())).split())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("source-study")
    generated = root / "generated-data"
    generate_dataset(SynthParams(patients=1500, practices=3, seed=11), generated, progress=False)
    # An extract in the kit's tables, without the manifest or the truth the generator writes.
    extract = root / "extract"
    extract.mkdir()
    for name in ("patients", "registrations", "practices", "clinical_events", "medications"):
        shutil.copy(generated / f"{name}.parquet", extract / f"{name}.parquet")
    for folder in ("notebooks", "cohorts"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copytree(ROOT / "codesets", root / "codesets")
    # The study's own book: the kit's configuration and landing page, its notebook and provenance.
    book = root / "book"
    shutil.copytree(
        ROOT / "book",
        book,
        ignore=shutil.ignore_patterns("_build", "generated", "vendor", "*.md", "_toc.yml"),
    )
    shutil.copy(ROOT / "book" / "intro.md", book / "intro.md")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        "  - file: generated/02_cohort_diabetes_control\n"
        "  - file: generated/03_codeset_validation_diabetes\n  - file: generated/provenance\n"
        "  - glob: generated/codesets/*\n"
    )
    shutil.copy(ROOT / "package.json", root / "package.json")
    if (ROOT / "node_modules").exists():
        (root / "node_modules").symlink_to(ROOT / "node_modules")
    (root / "study.yaml").write_text(STUDY)
    return run_study(root / "study.yaml").parent


def test_the_study_page_describes_the_source_and_the_missing_truth(built: Path):
    summary = text_of(built / "intro.html")
    assert "A dataset in the kit’s own tables, read from extract" in summary
    assert "Validation against a truth is impossible on these data" in summary
    patients = re.search(r"read from extract\s*: ([\d,]+) patients", summary)
    assert patients and int(patients.group(1).replace(",", "")) % 5 == 0


def test_provenance_lists_the_files_and_protected_sizes(built: Path):
    page = text_of(built / "generated" / "provenance.html")
    assert "patients.parquet" in page and "clinical_events.parquet" in page
    rows = pd.read_parquet(built.parents[2] / "extract" / "clinical_events.parquet")
    shown = re.search(r"clinical_events (\d+) ", page)
    assert shown and int(shown.group(1)) % 5 == 0
    assert abs(int(shown.group(1)) - len(rows)) <= 2


def test_the_cohort_page_ran_on_the_source(built: Path):
    page = text_of(built / "generated" / "02_cohort_diabetes_control.html")
    assert "Adults with diabetes" in page


def test_a_study_names_a_generated_dataset_or_a_source_not_both(tmp_path: Path):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.replace("  source: extract\n", "  source: extract\n  name: default\n"))
    with pytest.raises(StudyError, match="either name"):
        load_study(study)
    study.write_text(STUDY.replace("  source: extract\n", "  source: x\n  synth: {patients: 5}\n"))
    with pytest.raises(StudyError, match="not to a source"):
        load_study(study)


def test_validation_says_a_truth_is_missing_and_shows_what_needs_none(built: Path):
    page = text_of(built / "generated" / "03_codeset_validation_diabetes.html")
    assert "Validation against a truth is impossible on these data" in page
    for needs_truth in ("By group", "By practice", "Where the false positives come from"):
        assert needs_truth not in page
    assert "True condition" not in page
    for section in ("Code usage", "Orphan codes", "Usage over time", "What cannot be right"):
        assert section in page
