"""The codes a cohort joins against: each codeset it names, expanded, as data for the engines."""

from __future__ import annotations

import re
from pathlib import Path

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import codeset_dir, load_codeset
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


def codeset_codes(codesets_dir: str | Path, ids: set[str]) -> dict[str, CodesetCodes]:
    """Each named codeset's codes (expanded from its rules) as data for the engine; ethnicity codes carry
    their census group as category."""
    root = resolve(codesets_dir)
    found = {}
    for codeset_id in sorted(ids):
        codeset = load_codeset(codeset_dir(root, codeset_id))
        rows = expand_rules(codeset).codes
        categories = {
            r.code: ethnic_group(r.term) if codeset_id == "ethnicity" else None for r in rows
        }
        found[codeset_id] = CodesetCodes(coding_system=codeset.coding_system, codes=categories)
    return found
