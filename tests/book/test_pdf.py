"""The whole record printed to one PDF, read back with poppler-utils (installed by `make system-deps`)."""

import base64
import html
import re
import shutil
import struct
import subprocess
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from codesetlib.core.errors import StudyError
from codesetlib.record.book.pdf import PDF_FILE, build_pdf, build_single_page, root_page

pytestmark = pytest.mark.book
# Sphinx's own pages, which are not part of the record.
NOT_PAGES = {"genindex.html", "search.html"}


def poppler(tool: str, *args: str) -> str:
    command = [shutil.which(tool) or f"/usr/bin/{tool}", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def record_pdf(built: Path) -> Path:
    book = built.parent.parent.parent
    return build_pdf(book)


def page_titles(site: Path) -> dict[str, str]:
    """The first heading of every page of the HTML record, by page."""
    titles = {}
    for page in sorted(site.rglob("*.html")):
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", page.read_text(encoding="utf-8"), re.S)
        if heading and "_static" not in page.parts and page.name not in NOT_PAGES:
            titles[str(page.relative_to(site))] = folded(re.sub(r"<[^>]+>", "", heading[1]))
    return titles


def folded(text: str) -> str:
    """Text as compared: entities decoded, ligatures split, permalink signs dropped, spaces folded."""
    text = unicodedata.normalize("NFKC", html.unescape(text)).replace("#", "").replace("¶", "")
    return re.sub(r"\s+", " ", text).strip()


def test_the_record_is_one_pdf_of_many_pages(built: Path, record_pdf: Path):
    book = built.parent.parent.parent
    assert record_pdf == book / PDF_FILE
    assert record_pdf.read_bytes()[:5] == b"%PDF-"
    assert [p.name for p in record_pdf.parent.iterdir()] == ["record.pdf"]
    pages = int(re.search(r"^Pages:\s+(\d+)$", poppler("pdfinfo", str(record_pdf)), re.M)[1])
    assert pages >= 20


def png_sizes(page: Path) -> list[tuple[int, int]]:
    """The pixel size of every PNG a page shows, inline or from a file, read from its header."""
    sizes = []
    for src in re.findall(r'<img [^>]*src="([^"]+)"', page.read_text(encoding="utf-8")):
        if src.startswith("data:image/png;base64,"):
            head = base64.b64decode(src.split(",", 1)[1][:44])
        elif src.endswith(".png"):
            head = (page.parent / src).read_bytes()[:33]
        else:
            continue
        sizes.append(struct.unpack(">II", head[16:24]))
    return sizes


def test_the_pdf_embeds_every_figure_of_the_record(built: Path, record_pdf: Path):
    book = built.parent.parent.parent
    figures = Counter(png_sizes(book / "_build" / "singlehtml" / f"{root_page(book)}.html"))
    assert figures.total() >= 5
    rows = [r.split() for r in poppler("pdfimages", "-list", str(record_pdf)).splitlines()[2:]]
    embedded = Counter((int(r[3]), int(r[4])) for r in rows if r[2] == "image")
    assert figures - embedded == Counter()


def test_the_pdf_holds_every_page_of_the_record(built: Path, record_pdf: Path):
    text = folded(poppler("pdftotext", str(record_pdf), "-"))
    titles = page_titles(built.parent)
    assert len(titles) >= 20
    missing = {page: title for page, title in titles.items() if title not in text}
    assert missing == {}


def test_the_pdf_needs_the_generated_pages(tmp_path: Path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    with pytest.raises(StudyError, match=r"make book"):
        build_single_page(tmp_path)


def test_a_table_of_contents_without_a_root_is_named(tmp_path: Path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\n")
    with pytest.raises(StudyError) as raised:
        root_page(tmp_path)
    assert "_toc.yml" in str(raised.value) and "root" in str(raised.value)
