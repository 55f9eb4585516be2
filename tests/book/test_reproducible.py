"""Two builds of the same inputs give the same record, byte for byte, wherever they are built.

The second build goes into another folder and executes every notebook again; it reuses the dataset,
which lives in the project. Both builds come from the same commit, which the provenance page shows.
"""

import difflib
import json
import shutil
from pathlib import Path

import pytest

from codesetlib.record.pipeline import run_study
from tests.book.conftest import ROOT

pytestmark = pytest.mark.book

# The executed notebooks copied as the pages' sources keep papermill's record of when each cell ran
# and how long it took; no page links to them (the book shows no source or download button), so
# they are the one part of the built site that may differ between builds.
EXCLUDED = "_sources"
DIFF_LINES = 60
DIFF_WIDTH = 300


@pytest.fixture(scope="module")
def again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of the default study's record built a second time, from a fresh copy of book/."""
    book = tmp_path_factory.mktemp("record-again") / "book"
    shutil.copytree(
        ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "generated", "vendor")
    )
    return run_study(ROOT / "study.yaml", book_dir=book)


def site_files(html_dir: Path) -> dict[str, Path]:
    return {
        path.relative_to(html_dir).as_posix(): path
        for path in html_dir.rglob("*")
        if path.is_file() and path.relative_to(html_dir).parts[0] != EXCLUDED
    }


def unified_diff(name: str, left: bytes, right: bytes) -> str:
    """The first lines of a unified diff of two versions of a file, each line cut short."""
    lines = difflib.unified_diff(
        left.decode("utf-8", errors="replace").splitlines(),
        right.decode("utf-8", errors="replace").splitlines(),
        f"first build/{name}",
        f"second build/{name}",
        lineterm="",
    )
    return "\n".join(line[:DIFF_WIDTH] for line in list(lines)[:DIFF_LINES])


def first_difference(first: Path, second: Path) -> str | None:
    """What differs first between two built sites, with a diff of the file (None if nothing)."""
    left, right = site_files(first), site_files(second)
    if left.keys() != right.keys():
        return f"files in one build only: {sorted(left.keys() ^ right.keys())}"
    for name in sorted(left):
        old, new = left[name].read_bytes(), right[name].read_bytes()
        if old != new:
            return f"{name} differs between the builds:\n{unified_diff(name, old, new)}"
    return None


def test_two_builds_in_two_folders_give_the_same_pages(built: Path, again: Path):
    assert (again.parent / "generated" / "provenance.html").is_file()
    difference = first_difference(built.parent, again.parent)
    if difference:
        pytest.fail(difference, pytrace=False)


def test_no_page_names_the_folder_it_was_built_in(built: Path, again: Path):
    for index in (built, again):
        book = str(index.parent.parent.parent)
        for name, path in site_files(index.parent).items():
            assert book not in path.read_text(encoding="utf-8", errors="replace"), name


def test_a_build_that_reuses_every_notebook_gives_the_same_pages(built: Path, again: Path):
    book = again.parent.parent.parent
    run_study(ROOT / "study.yaml", book_dir=book)
    runs = json.loads((book / "generated" / "provenance.json").read_text())["notebooks"]
    assert not any(run["executed"] for run in runs.values())
    difference = first_difference(built.parent, again.parent)
    if difference:
        pytest.fail(difference, pytrace=False)
