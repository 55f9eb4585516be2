"""What a reader of the built record sees: pages named for their subject, every derived figure
consistent with the protected counts beside it, and findings stated in words."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from codesetlib.cohorts import load_definition
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.record.book.disclosure_scan import _Tables, scan_book
from codesetlib.record.study import load_study
from tests.book.conftest import ROOT
from tests.book.test_book_build import text_of

pytestmark = pytest.mark.book
SITE_PAGES = {"genindex.html", "search.html", "index.html"}


def _title(page: Path) -> str:
    match = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.S)
    assert match, page
    return match[1].split(" &#8212; ")[0].strip()


def test_every_page_title_is_unique(built: Path):
    pages = [p for p in built.parent.rglob("*.html") if "_static" not in p.parts]
    titles = Counter(_title(p) for p in pages if p.name not in SITE_PAGES)
    assert [t for t, n in titles.items() if n > 1] == []


def test_parameterised_pages_name_the_cohort_or_codeset_they_show(built: Path):
    study = load_study(ROOT / "study.yaml")
    generated = built.parent / "generated"
    for run in study.notebooks:
        cohort = run.parameters.get("cohort_file")
        if cohort and "02_cohort" in run.output_name:
            title = load_definition(ROOT / cohort).title
            assert _title(generated / f"{run.output_name}.html") == f"Cohort: {title}"
    cancer = _title(generated / "03_codeset_validation_cancer.html")
    card = _title(generated / "codesets" / "cancer_diagnosis.html")
    assert cancer.startswith(f"Codeset validation: {card} ")


def test_no_shown_figure_disagrees_with_the_counts_beside_it(built: Path):
    study = load_study(ROOT / "study.yaml")
    assert scan_book(built.parent, study.disclosure) == []
    assert scan_book(built.parent, DisclosureSettings()) == []


def test_the_derived_figures_checked_cover_every_results_page(built: Path):
    """The scan cannot pass by finding nothing: each results page declares derived figures."""
    for name in [
        "03_codeset_validation_cancer.html",
        "03_codeset_validation_diabetes.html",
        "04_qi_diabetes_control.html",
        "04_qi_cancer_care_review.html",
        "05_ncl_cancer_coding_review.html",
    ]:
        parser = _Tables()
        parser.feed((built.parent / "generated" / name).read_text(encoding="utf-8"))
        declared = [
            json.loads(a["data-derived"]) for a, _, _ in parser.tables if "data-derived" in a
        ]
        assert declared, name


def test_findings_are_stated_in_words(built: Path):
    generated = built.parent / "generated"
    validation = text_of(generated / "03_codeset_validation_cancer.html")
    assert re.search(r"find \d+% (fewer|more) patients .* beyond the 5% threshold", validation) or (
        "No other release changes the patients found" in validation
    )
    assert "Found: " in validation or "No event of the codeset's codes" in validation
    assert "TP (true positive)" in validation and "Sensitivity = TP / (TP + FN)" in validation
    measure = text_of(generated / "04_qi_diabetes_control.html")
    assert re.search(r"Overall proportion \d+\.\d% \(\d+ of \d+ patients", measure)
    assert "99.8% limits" in measure
