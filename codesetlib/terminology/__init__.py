"""Terminologies: one module per coding system behind one interface (`Terminology`).

Releases are found by id (e.g. `snomedct-teaching-20240401`, `dmd-teaching-20240401`, `icd10-who-2019`)
among the releases shipped with the kit and the folders named in the `CODESET_TERMINOLOGY_PATH`
environment variable (separated by `:`), where users put the licensed releases they hold: SNOMED CT RF2
folders (holding `Snapshot/`) or release zips as downloaded (an edition's packages, zips inside zips
followed), dm+d XML folders (holding `f_vtm2_3*.xml`) or NHSBSA's dm+d zips, and ICD-10 files named
`icd10-<edition>-<version>.csv`, and OMOP vocabulary folders (Athena's `CONCEPT.csv` and the tables
beside it, or Parquet) or DuckDB CDM files, which hold a release per vocabulary (`omop-snomed-20240301`,
see `omop_vocabulary`). Each release is indexed once into the cache (`CODESET_CACHE_DIR`).
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

from codesetlib.core.errors import CodesetError, TerminologyError, file_problem
from codesetlib.terminology import dmd, icd10, omop_vocabulary, snomedct
from codesetlib.terminology.base import Concept, Release, ReleaseSkipped, Terminology

__all__ = [
    "Concept",
    "Release",
    "ReleaseSkipped",
    "Terminology",
    "available_releases",
    "open_release",
]

SHIPPED = Path(__file__).parent / "teaching_edition" / "releases"


def release_search_paths() -> list[Path]:
    """Folders searched for releases: the shipped teaching releases, then the user's own."""
    extra = os.environ.get("CODESET_TERMINOLOGY_PATH", "")
    return [SHIPPED / "snomedct", SHIPPED / "dmd", *(Path(p) for p in extra.split(os.pathsep) if p)]


def identify(path: Path) -> Release | None:
    """The release at `path` if it is one of a known coding system, else None."""
    if snomedct.is_release(path):
        return snomedct.find_release(path)
    if dmd.is_release(path):
        return dmd.find_release(path)
    if icd10.is_release(path):
        return icd10.find_release(path)
    return None


def identify_all(path: Path) -> list[Release]:
    """The releases at `path`: an OMOP vocabulary folder or CDM file holds one per vocabulary."""
    if omop_vocabulary.is_release(path):
        return list(omop_vocabulary.find_releases(path))
    release = identify(path)
    return [] if release is None else [release]


def _candidates(root: Path) -> list[Path]:
    try:
        if omop_vocabulary.is_release(root):
            return [root]
        return sorted(root.iterdir()) if root.is_dir() else []
    except OSError as exc:
        _skip(root, file_problem(exc))
        return []


def _skip(path: Path, reason: str) -> None:
    # A warning, not an error: one broken folder must not stop the releases beside it from opening.
    # Python shows each distinct warning once, so a folder is reported once however often it is met.
    warnings.warn(f"skipped release folder {path}: {reason}", ReleaseSkipped, stacklevel=2)


def available_releases() -> dict[str, Release]:
    """Every release found on the search paths, and the built-in WHO ICD-10, by id.

    A folder that looks like a release but cannot be read is skipped with a `ReleaseSkipped` warning
    naming it and why; the other releases are still found."""
    found: dict[str, Release] = {}
    for root in release_search_paths():
        for candidate in _candidates(root):
            try:
                releases = identify_all(candidate)
            except CodesetError as exc:
                _skip(candidate, exc.location_message())
                continue
            except OSError as exc:
                _skip(candidate, file_problem(exc))
                continue
            for release in releases:
                found.setdefault(release.id, release)
    who = icd10.who_release()
    found.setdefault(who.id, who)
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
    release = releases[release_id]
    if isinstance(release, omop_vocabulary.VocabularyRelease):
        return omop_vocabulary.OmopVocabulary(release)
    if release.system == dmd.SYSTEM:
        return dmd.DMD(release.path)
    if release.system == icd10.SYSTEM:
        return icd10.ICD10(None if release_id == icd10.WHO_RELEASE else release.path)
    return snomedct.SnomedCT(release.path)
