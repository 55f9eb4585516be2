"""The default study's record, built once for the book tests in a copy of the book folder."""

import shutil
from pathlib import Path

import pytest

from codesetlib.record.pipeline import run_study

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of the default study's record, built for real (papermill, Jupyter Book)."""
    book = tmp_path_factory.mktemp("record") / "book"
    shutil.copytree(
        ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "generated", "vendor")
    )
    return run_study(ROOT / "study.yaml", book_dir=book)
