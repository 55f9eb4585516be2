"""Build the default study's record for real: papermill runs the notebooks, Jupyter Book builds."""

import html
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codesetlib.codeset import load_codeset, read_codes
from codesetlib.pipeline import run_study

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    book = tmp_path_factory.mktemp("record") / "book"
    shutil.copytree(
        ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "generated", "vendor")
    )
    return run_study(ROOT / "study.yaml", book_dir=book)


def test_the_book_has_an_index_page(built: Path):
    assert built.name == "index.html" and built.is_file()
    assert "The methods record" in built.read_text()


def test_the_notebook_page_shows_the_codeset_and_its_codes(built: Path):
    page = (built.parent / "generated" / "01_codeset_review.html").read_text()
    folder = ROOT / "codesets" / "cancer_diagnosis"
    assert html.escape(load_codeset(folder).title) in page
    for row in read_codes(folder):
        assert f"<td>{row.code}</td>" in page
        assert html.escape(row.term) in page


def test_the_pages_load_no_script_from_the_internet(built: Path):
    for page in built.parent.rglob("*.html"):
        text = page.read_text()
        for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "unpkg.com"):
            assert f'src="https://{cdn}' not in text, (page.name, cdn)
    assert (built.parent / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (built.parent / "_static" / "require.js").is_file()


def test_an_unknown_codeset_stops_the_run_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", "run", "study.yaml", "--codeset", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codeset: error: no codeset 'nope'")
