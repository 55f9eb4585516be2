"""Every figure of the record is an image a reader sees: none is left as `<Figure size …>` text.

Each generated page declares how many figures it must hold; a page that shows fewer (a figure lost to
a backend switch, a plotting error caught somewhere) or more (a figure nobody declared) fails.
"""

import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from codesetlib.record.book.figures import figure_html, figure_png

pytestmark = pytest.mark.book

# The figures each generated page of the default study must show.
EXPECTED_FIGURES = {
    "01_codeset_review.html": 0,
    "02_cohort_diabetes_control.html": 1,
    "02_cohort_cancer_register.html": 1,
    "03_codeset_validation_cancer.html": 2,
    "03_codeset_validation_diabetes.html": 3,
    "04_qi_diabetes_control.html": 2,
    "04_qi_cancer_care_review.html": 2,
    "05_ncl_cancer_coding_review.html": 3,
    "provenance.html": 0,
    "teaching_01_codeset_builder.html": 0,
    "teaching_02_spot_the_codeset_error.html": 0,
}
IMAGE = re.compile(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"[^>]*>')


def test_every_generated_page_declares_its_figures(built: Path):
    pages = {p.name for p in (built.parent / "generated").glob("*.html")}
    assert pages == set(EXPECTED_FIGURES)


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_each_page_shows_its_figures_as_images(built: Path, name: str):
    text = (built.parent / "generated" / name).read_text(encoding="utf-8")
    assert "&lt;Figure size" not in text and "<Figure size" not in text
    images = IMAGE.findall(text)
    assert len(images) == EXPECTED_FIGURES[name]
    for image in images:
        assert re.search(r'alt="[^"]{10,}"', image), image[:200]


def test_no_page_of_the_book_shows_a_figure_as_text(built: Path):
    offending = [
        str(page.relative_to(built.parent))
        for page in built.parent.rglob("*.html")
        if "Figure size" in page.read_text(encoding="utf-8")
    ]
    assert offending == []


def _titled_figure(title: str) -> Figure:
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [2, 1, 3])
    axes.set(title=title, xlabel="Year", ylabel="Patients")
    return figure


def test_a_figure_gives_the_same_bytes_every_time():
    assert figure_png(_titled_figure("A")) == figure_png(_titled_figure("A"))


def test_an_untitled_figure_is_refused():
    with pytest.raises(ValueError, match="title"):
        figure_html(_titled_figure(""))


def test_the_figure_carries_its_title_and_caption():
    shown = figure_html(_titled_figure("Events per year"), "Dashed lines mark releases.")
    assert 'alt="Events per year"' in shown
    assert "<figcaption>Dashed lines mark releases.</figcaption>" in shown
