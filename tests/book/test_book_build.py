"""Build the default study's record for real: papermill runs the notebooks, Jupyter Book builds."""

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codesetlib.codesets.files import load_codeset, read_codes
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.record.book.disclosure_scan import scan_book, scan_page
from codesetlib.record.pipeline import run_study
from codesetlib.record.study import load_study
from tests.book.conftest import ROOT

pytestmark = pytest.mark.book


def study_codesets() -> list[Path]:
    study = load_study(ROOT / "study.yaml")
    return [ROOT / study.codesets_dir / pin.id for pin in study.codesets]


def text_of(page: Path) -> str:
    """A page's text as a reader sees it: tags dropped, entities decoded, white space folded."""
    text = re.sub(r"<[^>]+>", " ", page.read_text())
    return re.sub(r"\s+", " ", html.unescape(text))


def test_the_book_has_an_index_page(built: Path):
    assert built.name == "index.html" and built.is_file()
    assert 'url=intro.html"' in built.read_text()
    assert "The methods record" in (built.parent / "intro.html").read_text()


def test_the_notebook_page_shows_the_codeset_and_its_codes(built: Path):
    page = text_of(built.parent / "generated" / "01_codeset_review.html")
    folder = study_codesets()[0]
    assert load_codeset(folder).title in page
    for row in read_codes(folder):
        assert f"{row.code} {row.term} {row.rule}" in page


def test_the_pages_load_no_script_from_the_internet(built: Path):
    for page in built.parent.rglob("*.html"):
        text = page.read_text()
        assert (
            not re.search(r'(src|href)="https?://(?!127\.0\.0\.1)', text) or "_static" in page.parts
        ), page
    assert (built.parent / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (built.parent / "_static" / "require.js").is_file()


def test_no_count_in_the_book_escapes_disclosure_control(built: Path):
    assert scan_book(built.parent, DisclosureSettings()) == []


def test_the_disclosure_scan_catches_a_small_count(tmp_path: Path):
    page = tmp_path / "page.html"
    page.write_text(
        "<table><thead><tr><th>Code</th><th>Patients</th></tr></thead>"
        "<tbody><tr><td>1</td><td>≤7</td></tr><tr><td>2</td><td>5</td></tr>"
        "<tr><td>3</td><td>12</td></tr><tr><td>4</td><td>15</td></tr></tbody></table>"
    )
    leaks = scan_page(page, DisclosureSettings())
    assert [(leak.column, leak.value) for leak in leaks] == [("Patients", "5"), ("Patients", "12")]


def test_provenance_records_what_the_build_came_from(built: Path):
    manifest = json.loads(
        (built.parent.parent.parent / "generated" / "provenance.json").read_text()
    )
    assert manifest["seed"] == load_study(ROOT / "study.yaml").seed
    assert set(manifest["codesets"]) == {f.name for f in study_codesets()}
    assert manifest["packages"]["codesetlib"]
    assert all(len(v["inputs_hash"]) == 64 for v in manifest["notebooks"].values())


def test_a_second_run_with_nothing_changed_reuses_every_notebook(built: Path):
    book = built.parent.parent.parent
    run_study(ROOT / "study.yaml", book_dir=book)
    manifest = json.loads((book / "generated" / "provenance.json").read_text())
    assert [v["executed"] for v in manifest["notebooks"].values()] == [False] * len(
        manifest["notebooks"]
    )


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
