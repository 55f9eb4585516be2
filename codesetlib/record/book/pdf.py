"""The whole methods record as one PDF: the book's single-page build, printed by headless Chromium.

Jupyter Book's own PDF builder drives a Chromium that pyppeteer downloads at run time; this prints with
the system's Chromium (Debian's `chromium`, which `make system-deps` installs) and reads nothing but
the built page and its files, so it works offline. The book's sources must have been generated first
(`make book`): the notebooks are not executed again.

`codeset pdf [BOOK_DIR]` writes BOOK_DIR/_build/pdf/record.pdf and prints its path.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from codesetlib.core.errors import StudyError
from codesetlib.record.book.build import build_book

PDF_FILE = Path("_build") / "pdf" / "record.pdf"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_SECONDS = 600
CHROMIUM_FLAGS = [
    "--headless",
    # Chromium's sandbox needs user namespaces, which containers (and root) do not have.
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    # Every name resolves to nothing, so the print cannot fetch anything: the record is offline.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # Virtual time runs until the page is idle (images decoded, MathJax typeset), up to this budget;
    # only then is the page printed.
    "--virtual-time-budget=60000",
    "--run-all-compositor-stages-before-draw",
    "--no-pdf-header-footer",
]


def find_chromium() -> Path:
    """The system's Chromium, or an error saying how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise StudyError(
        "Chromium is needed to print the record; install Debian's chromium "
        "(`make system-deps` does, as root)"
    )


def root_page(book_dir: Path) -> str:
    """The name of the book's first page (the table of contents' `root`), which singlehtml fills."""
    toc = book_dir / "_toc.yml"
    root = (yaml.safe_load(toc.read_text(encoding="utf-8")) or {}).get("root")
    if not isinstance(root, str) or not root:
        raise StudyError("names no root page", path=toc, field="root")
    return root


def build_single_page(book_dir: Path) -> Path:
    """Build the whole book into one HTML page (Sphinx's singlehtml builder); return the page."""
    if not (book_dir / "generated").is_dir():
        raise StudyError(
            "the record's pages have not been generated; build the book first (`make book`)",
            path=book_dir,
        )
    index = build_book(book_dir, builder="singlehtml")
    page = index.parent / f"{root_page(book_dir)}.html"
    if not page.is_file():
        raise StudyError(f"the single-page build wrote no {page.name}", path=index.parent)
    return page


def print_to_pdf(page: Path, target: Path, chromium: Path | None = None) -> Path:
    """Print an HTML page to `target` with headless Chromium, atomically; return `target`."""
    browser = chromium or find_chromium()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial.pdf")
    partial.unlink(missing_ok=True)
    # A profile of its own, so the print never shares a locked profile with another Chromium.
    with tempfile.TemporaryDirectory(prefix="codeset-pdf-") as profile:
        command = [
            str(browser),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={partial}",
            page.resolve().as_uri(),
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=PRINT_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise StudyError(
                f"Chromium did not finish printing within {PRINT_TIMEOUT_SECONDS} s", path=page
            ) from None
    written = partial.is_file() and partial.read_bytes()[:5] == b"%PDF-"
    if result.returncode != 0 or not written:
        partial.unlink(missing_ok=True)
        log = (result.stdout + result.stderr).strip().splitlines()
        raise StudyError("Chromium printed no PDF:\n" + "\n".join(log[-15:]), path=page)
    partial.replace(target)
    return target


def build_pdf(book_dir: Path) -> Path:
    """Write the whole record, figures included, to `book_dir/_build/pdf/record.pdf`; return it."""
    page = build_single_page(book_dir)
    return print_to_pdf(page, book_dir / PDF_FILE)
