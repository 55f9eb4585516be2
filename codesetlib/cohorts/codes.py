"""The codes a cohort joins against: each codeset it names, at the version the study pins, expanded
once and handed to the engines as data."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.files import load_codeset
from codesetlib.codesets.model import Codeset
from codesetlib.codesets.versions import version_dir
from codesetlib.cohorts.model import CodesetCodes
from codesetlib.core.paths import resolve

# The five census groups, found from a code's term; the first pattern that matches wins.
ETHNIC_GROUPS = [
    ("Mixed", re.compile(r"\bmixed\b|\bwhite and\b", re.I)),
    ("Black", re.compile(r"\bblack\b|\bafrican\b|\bcaribbean\b", re.I)),
    ("Asian", re.compile(r"\basian\b|\bindian\b|\bpakistani\b|\bbangladeshi\b|\bchinese\b", re.I)),
    ("White", re.compile(r"\bwhite\b|\birish\b|\bgypsy\b|\btraveller\b|\bbritish\b", re.I)),
]


def ethnic_group(term: str) -> str:
    """The census group (White, Mixed, Asian, Black, Other) an ethnicity code's term names."""
    return next((group for group, pattern in ETHNIC_GROUPS if pattern.search(term)), "Other")


def expanded_codes(codeset: Codeset, expansion: Expansion) -> CodesetCodes:
    """A codeset's expanded codes as data for the engines; ethnicity codes carry their census group
    as category."""
    categories = {
        r.code: ethnic_group(r.term) if codeset.id == "ethnicity" else None for r in expansion.codes
    }
    return CodesetCodes(coding_system=codeset.coding_system, codes=categories)


def pinned_codeset(
    codesets_dir: str | Path, codeset_id: str, version: str | None = None
) -> Codeset:
    """One codeset at the version a study pins (the current one when `version` is None)."""
    return load_codeset(version_dir(resolve(codesets_dir), codeset_id, version))


def codeset_codes(
    codesets_dir: str | Path,
    ids: Iterable[str],
    versions: Mapping[str, str | None] | None = None,
) -> dict[str, CodesetCodes]:
    """Each named codeset's codes, loaded at its pinned version (`versions`, by id, as the study
    gives them; the current version of a codeset it does not pin) and expanded from its rules once."""
    pins = versions or {}
    found = {}
    for codeset_id in sorted(set(ids)):
        codeset = pinned_codeset(codesets_dir, codeset_id, pins.get(codeset_id))
        found[codeset_id] = expanded_codes(codeset, expand_rules(codeset))
    return found
