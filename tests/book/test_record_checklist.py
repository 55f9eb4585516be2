"""The RECORD checklist page: every item on codes, algorithms and linkage, each answered by pages and
sections that exist in the built record."""

import html
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.book
ITEMS = ["6.1", "6.2", "6.3", "7.1", "12.1", "12.2", "12.3", "13.1", "19.1", "22.1"]


def text_of(fragment: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
    return re.sub(r"\s+", " ", text).strip()


def checklist_rows(page: Path) -> list[list[str]]:
    """The body rows of the checklist table, each as its cells' HTML."""
    body = re.search(r"<tbody>(.*?)</tbody>", page.read_text(encoding="utf-8"), re.S)
    assert body, f"{page.name} has no table"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]


def headings(page: Path) -> set[str]:
    """The section titles a reader sees on a page (without the permalink sign)."""
    found = re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", page.read_text(encoding="utf-8"), re.S)
    return {text_of(h).rstrip("#¶ ").strip() for h in found}


@pytest.fixture(scope="module")
def rows(built: Path) -> list[list[str]]:
    return checklist_rows(built.parent / "record_checklist.html")


def test_the_checklist_covers_every_item_once(rows: list[list[str]]):
    assert [text_of(cells[0]) for cells in rows] == ITEMS
    assert all(len(cells) == 3 and text_of(cells[1]) for cells in rows)


def test_every_link_in_the_checklist_resolves_to_a_page_of_the_record(
    built: Path, rows: list[list[str]]
):
    for cells in rows:
        links = [
            link
            for link in re.findall(r'href="([^"]+)"', cells[2])
            if not link.startswith(("http://", "https://"))
        ]
        assert links, text_of(cells[0])
        for link in links:
            target = built.parent / link.split("#")[0]
            assert target.is_file(), (text_of(cells[0]), link)


def test_every_section_named_is_a_heading_of_a_page_the_item_links(
    built: Path, rows: list[list[str]]
):
    for cells in rows:
        pages = {
            built.parent / link.split("#")[0]
            for link in re.findall(r'href="([^"]+)"', cells[2])
            if not link.startswith(("http://", "https://"))
        }
        titles = set().union(*(headings(page) for page in pages))
        for section in re.findall(r"<em>(.*?)</em>", cells[2], re.S):
            assert text_of(section) in titles, (text_of(cells[0]), text_of(section))


def test_the_checklist_is_in_the_record_part_of_the_navigation(built: Path):
    intro = (built.parent / "intro.html").read_text(encoding="utf-8")
    assert 'href="record_checklist.html"' in intro
