"""Sphinx's output is kept in a log: silent when the book builds, its warnings shown if it fails."""

from pathlib import Path

import pytest

from codesetlib.core.errors import StudyError
from codesetlib.record.book.build import BUILD_LOG, build_book

pytestmark = pytest.mark.book


def small_book(folder: Path, intro: str) -> Path:
    folder.mkdir()
    (folder / "_config.yml").write_text(
        'title: A small book\nexecute:\n  execute_notebooks: "off"\n'
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (folder / "intro.md").write_text(intro)
    return folder


def test_a_book_that_builds_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture):
    book = small_book(tmp_path / "book", "# Intro\n\nNothing to see.\n")
    assert build_book(book).is_file()
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert "Finished generating HTML" in (book / "_build" / BUILD_LOG).read_text()


def test_a_book_that_fails_shows_its_warning_and_keeps_the_whole_log(tmp_path: Path):
    book = small_book(tmp_path / "book", "# Intro\n\nSee {ref}`a-label-nobody-wrote`.\n")
    with pytest.raises(StudyError, match=r"(?s)did not build.*WARNING.*a-label-nobody-wrote"):
        build_book(book)
    assert "a-label-nobody-wrote" in (book / "_build" / BUILD_LOG).read_text()
