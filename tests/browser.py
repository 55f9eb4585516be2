"""Debian's Chromium driven by Playwright, once per test session, for tests of what a user sees.

Playwright drives the Chromium that `make system-deps` installs from Debian (never a browser it
downloads itself). Without Chromium the fixture fails rather than skips, as `make test` installs it
first. `local_only` keeps a page on the machine: any request elsewhere is refused and recorded, so a
test can say that nothing left.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (CI runs as root), and nothing Chromium would fetch for itself.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """A headless Chromium for the whole session; each test opens its own pages."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def local_only(page: Any, base: str) -> list[str]:
    """Refuse every request `page` makes outside `base` (and data: URLs); returns the list that
    the refused requests are added to."""
    outside: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith((base, "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    return outside
