"""The built record in a real headless browser (Debian's Chromium), over file:// and local HTTP.

Checks: no console errors, no request leaves the machine, every internal link resolves, and the key
pages render (screenshots are saved under build/test-artifacts/screenshots/).
"""

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.book.conftest import ARTIFACTS

pytestmark = pytest.mark.book
KEY_PAGES = [
    "intro.html",
    "codesets.html",
    "generated/codesets/cancer_diagnosis.html",
    "generated/01_codeset_review.html",
    "generated/03_codeset_validation_cancer.html",
    "generated/02_cohort_diabetes_control.html",
    "generated/04_qi_diabetes_control.html",
    "generated/05_ncl_cancer_coding_review.html",
    "generated/teaching_01_codeset_builder.html",
    "generated/teaching_02_spot_the_codeset_error.html",
    "generated/provenance.html",
    "glossary.html",
]


@pytest.fixture(scope="module")
def site(built: Path) -> Iterator[str]:
    """The built book served on a local port for the length of the module."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(built.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(chromium_browser):
    """The session's Chromium (tests/browser.py), shared with the other browser tests."""
    return chromium_browser


def visit(browser, url: str, local: str, shot: Path) -> tuple[list[str], list[str]]:
    """Load `url`; return console errors and requests to anything but `local`."""
    page = browser.new_page()
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def guard(route):
        if route.request.url.startswith(local) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until="networkidle")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=False)
    page.close()
    return errors, outside


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_key_pages_render_without_errors_or_outside_requests(built, site, browser, scheme):
    root = built.parent
    base = root.as_uri() if scheme == "file" else site
    for name in KEY_PAGES:
        assert (root / name).is_file(), name
        shot = ARTIFACTS / "screenshots" / scheme / (name.replace("/", "__") + ".png")
        errors, outside = visit(browser, f"{base}/{name}", base, shot)
        assert errors == [], (name, errors)
        assert outside == [], (name, outside)
        assert shot.stat().st_size > 5_000


IMAGES_SHOWN = """() => Array.from(document.images).map((image) => {
    image.scrollIntoView();
    const box = image.getBoundingClientRect();
    return {
        alt: image.alt,
        complete: image.complete,
        naturalWidth: image.naturalWidth,
        width: box.width,
        height: box.height,
        visible: getComputedStyle(image).visibility === "visible"
            && getComputedStyle(image).display !== "none",
    };
})"""


def test_every_figure_loads_and_is_visible(built, browser):
    """What a reader sees: each figure decoded (natural width > 0) and laid out at a readable size,
    and no page wider than the window."""
    root = built.parent
    seen = 0
    for page_path in sorted((root / "generated").glob("*.html")):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri(), wait_until="load")
        images = [i for i in page.evaluate(IMAGES_SHOWN) if i["alt"] != "logo"]
        # Nothing runs off the page: wide tables scroll inside their own box.
        width = page.evaluate("document.documentElement.scrollWidth")
        page.close()
        assert width <= 1280, (page_path.name, width)
        for image in images:
            name = (page_path.name, image["alt"])
            assert image["complete"] and image["naturalWidth"] > 0, name
            assert image["visible"], name
            assert image["width"] >= 300 and image["height"] >= 100, (name, image)
        seen += len(images)
    assert seen >= 14


def test_every_internal_link_resolves(built: Path):
    root = built.parent
    broken = []
    ids_cache: dict[Path, set[str]] = {}
    for page in root.rglob("*.html"):
        if "_static" in page.parts:
            continue
        for href in re.findall(r'href="([^"]+)"', page.read_text()):
            parsed = urlparse(href)
            if parsed.scheme or href.startswith(("mailto:", "//")):
                continue
            target = (page.parent / unquote(parsed.path)).resolve() if parsed.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(root)} → {href}")
            elif parsed.fragment and target.suffix == ".html":
                ids = ids_cache.setdefault(
                    target, set(re.findall(r'id="([^"]+)"', target.read_text()))
                )
                if parsed.fragment not in ids:
                    broken.append(f"{page.relative_to(root)} → {href} (no such anchor)")
    assert broken == []
