"""Terminologies: one module per coding system behind one interface (`Terminology`).

Releases are found by id (e.g. `snomedct-teaching-20240401`) among the releases shipped with the kit
and the folders named in the `CODESET_TERMINOLOGY_PATH` environment variable (separated by `:`), where
users put the licensed releases they hold.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from codesetlib.errors import TerminologyError
from codesetlib.terminology import snomedct
from codesetlib.terminology.base import Concept, Release, Terminology

__all__ = ["Concept", "Release", "Terminology", "available_releases", "open_release"]

SHIPPED = Path(__file__).parent / "teaching" / "releases"


def release_search_paths() -> list[Path]:
    """Folders searched for releases: the shipped teaching releases, then the user's own."""
    extra = os.environ.get("CODESET_TERMINOLOGY_PATH", "")
    return [SHIPPED / "snomedct", *(Path(p) for p in extra.split(os.pathsep) if p)]


def available_releases() -> dict[str, Release]:
    """Every release found on the search paths, by id."""
    found: dict[str, Release] = {}
    for root in release_search_paths():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / "Snapshot").is_dir()):
            release = snomedct.find_release(folder)
            found.setdefault(release.id, release)
    return found


@functools.cache
def open_release(release_id: str) -> Terminology:
    """Load the release with this id; the loaded release is kept for the life of the process."""
    releases = available_releases()
    if release_id not in releases:
        known = ", ".join(sorted(releases)) or "none"
        raise TerminologyError(
            f"unknown terminology release '{release_id}' (available: {known}); put licensed releases in "
            "a folder named by CODESET_TERMINOLOGY_PATH"
        )
    return snomedct.SnomedCT(releases[release_id].path)
