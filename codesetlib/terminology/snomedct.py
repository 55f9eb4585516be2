"""SNOMED CT: read an RF2 Snapshot release folder into a `Terminology`.

A release folder is laid out as users receive it: `Snapshot/Terminology/sct2_Concept_Snapshot_*.txt`,
`sct2_Description_Snapshot-en_*.txt`, `sct2_Relationship_Snapshot_*.txt`, and under `Snapshot/Refset/`
the language refset (preferred terms) and the historical association refset (replacements).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from stdnum import verhoeff

from codesetlib.errors import TerminologyError
from codesetlib.terminology.base import Concept, Release, Terminology

SYSTEM = "snomedct"
IS_A = "116680003"
FSN_TYPE = "900000000000003001"
PREFERRED = "900000000000548007"
ASSOCIATIONS = {
    "900000000000526001": "REPLACED_BY",
    "900000000000527005": "SAME_AS",
    "900000000000523009": "POSSIBLY_EQUIVALENT_TO",
    "900000000000528000": "WAS_A",
    "900000000000530003": "ALTERNATIVE",
    "900000000000525002": "MOVED_FROM",
    "900000000000524003": "MOVED_TO",
    "900000000000531004": "REFERS_TO",
}
# The semantic tag of a fully specified name, e.g. "(disorder)".
SEMANTIC_TAG = re.compile(r"\s\(([^()]+)\)$")

_SCTID = re.compile(r"^[1-9][0-9]{5,17}$")
# Partition identifiers: 00/10 concept, 01/11 description, 02/12 relationship (core / extension).
CONCEPT_PARTITIONS = {"00", "10"}


def verhoeff_valid(digits: str) -> bool:
    """True when the last digit of `digits` is a correct Verhoeff check digit for the rest."""
    return verhoeff.is_valid(digits)


def sctid_problem(code: str, *, partitions: set[str] | None = None) -> str | None:
    """Why `code` is not a valid SNOMED CT identifier (None when it is).

    Checks the form (6 to 18 digits, no leading zero), the partition identifier and the Verhoeff check
    digit, as the SNOMED CT identifier specification sets them out.
    """
    if not _SCTID.match(code):
        return "expected 6 to 18 digits with no leading zero"
    partition = code[-3:-1]
    allowed = CONCEPT_PARTITIONS if partitions is None else partitions
    if partition not in allowed:
        return f"partition identifier {partition} is not one of {', '.join(sorted(allowed))}"
    if not verhoeff_valid(code):
        return "the check digit is wrong (Verhoeff)"
    return None


def semantic_tag(fully_specified_name: str) -> str | None:
    """The semantic tag of a fully specified name, e.g. 'disorder'."""
    match = SEMANTIC_TAG.search(fully_specified_name)
    return match.group(1) if match else None


_FOLDER = re.compile(r"SnomedCT_(?P<edition>[A-Za-z]+?)RF2_[A-Z]+_(?P<date>\d{8})T\d{6}Z")
_FILE = re.compile(r"sct2_Concept_Snapshot_(?P<edition>[A-Za-z0-9]+)_(?P<date>\d{8})\.txt$")


def find_release(path: Path) -> Release:
    """The identity of the RF2 release in folder `path` (the folder holding `Snapshot/`)."""
    concept_file = _one_file(path, "Terminology", "sct2_Concept_Snapshot_*.txt")
    folder = _FOLDER.search(path.name)
    by_file = _FILE.search(concept_file.name)
    if folder:
        edition, date = folder["edition"], folder["date"]
    elif by_file:
        edition, date = by_file["edition"], by_file["date"]
    else:
        raise TerminologyError(
            "cannot tell the release date: expected a file named sct2_Concept_Snapshot_<EDITION>_"
            "<YYYYMMDD>.txt",
            path=concept_file,
        )
    return Release(system=SYSTEM, edition=edition, version=date, path=path)


def _one_file(root: Path, subfolder: str, pattern: str) -> Path:
    folder = root / "Snapshot" / subfolder
    found = sorted(folder.rglob(pattern)) if folder.is_dir() else []
    if len(found) != 1:
        what = "no file" if not found else f"{len(found)} files"
        raise TerminologyError(f"expected one file matching {pattern}, found {what}", path=folder)
    return found[0]


def _optional_file(root: Path, pattern: str) -> Path | None:
    found = sorted((root / "Snapshot" / "Refset").rglob(pattern))
    return found[0] if found else None


def read_rf2(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of an RF2 file as (line number, row), refusing a file that lacks a required column."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise TerminologyError(
                f"missing column(s) {', '.join(missing)}; expected {', '.join(required)}",
                path=path,
                line=1,
            )
        for line, row in enumerate(reader, start=2):
            if None in row or any(row[c] is None for c in required):
                raise TerminologyError(
                    f"expected {len(reader.fieldnames or [])} tab-separated fields",
                    path=path,
                    line=line,
                )
            yield line, row


class SnomedCT(Terminology):
    """A SNOMED CT release read from an RF2 Snapshot folder."""

    def __init__(self, path: Path) -> None:
        self.release = find_release(path)
        self._active: dict[str, bool] = {}
        self._fsn: dict[str, str] = {}
        self._preferred: dict[str, str] = {}
        self._terms: dict[str, list[str]] = defaultdict(list)
        self._parents: dict[str, set[str]] = defaultdict(set)
        self._children: dict[str, set[str]] = defaultdict(set)
        self._history: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._load_concepts(_one_file(path, "Terminology", "sct2_Concept_Snapshot_*.txt"))
        preferred_ids = self._preferred_description_ids(path)
        self._load_descriptions(
            _one_file(path, "Terminology", "sct2_Description_Snapshot-en_*.txt"), preferred_ids
        )
        self._load_relationships(_one_file(path, "Terminology", "sct2_Relationship_Snapshot_*.txt"))
        association = _optional_file(path, "der2_cRefset_AssociationSnapshot*.txt")
        if association is not None:
            self._load_history(association)

    def _load_concepts(self, path: Path) -> None:
        for line, row in read_rf2(path, ["id", "active"]):
            problem = sctid_problem(row["id"])
            if problem:
                raise TerminologyError(f"concept id {row['id']}: {problem}", path=path, line=line)
            self._active[row["id"]] = row["active"] == "1"

    def _preferred_description_ids(self, path: Path) -> set[str]:
        language = _optional_file(path, "der2_cRefset_LanguageSnapshot*.txt")
        if language is None:
            return set()
        columns = ["active", "referencedComponentId", "acceptabilityId"]
        return {
            row["referencedComponentId"]
            for _, row in read_rf2(language, columns)
            if row["active"] == "1" and row["acceptabilityId"] == PREFERRED
        }

    def _load_descriptions(self, path: Path, preferred_ids: set[str]) -> None:
        columns = ["id", "active", "conceptId", "typeId", "term"]
        for line, row in read_rf2(path, columns):
            concept = row["conceptId"]
            if concept not in self._active:
                raise TerminologyError(
                    f"description {row['id']} names concept {concept}, which is not in the release",
                    path=path,
                    line=line,
                    field="conceptId",
                )
            if row["active"] != "1":
                continue
            self._terms[concept].append(row["term"])
            if row["typeId"] == FSN_TYPE:
                self._fsn[concept] = row["term"]
            elif row["id"] in preferred_ids or concept not in self._preferred:
                self._preferred[concept] = row["term"]

    def _load_relationships(self, path: Path) -> None:
        columns = ["active", "sourceId", "destinationId", "typeId"]
        for line, row in read_rf2(path, columns):
            if row["active"] != "1" or row["typeId"] != IS_A:
                continue
            child, parent = row["sourceId"], row["destinationId"]
            for field, code in (("sourceId", child), ("destinationId", parent)):
                if code not in self._active:
                    raise TerminologyError(
                        f"is-a row names concept {code}, which is not in the release",
                        path=path,
                        line=line,
                        field=field,
                    )
            self._parents[child].add(parent)
            self._children[parent].add(child)

    def _load_history(self, path: Path) -> None:
        columns = ["active", "refsetId", "referencedComponentId", "targetComponentId"]
        for _, row in read_rf2(path, columns):
            name = ASSOCIATIONS.get(row["refsetId"])
            if row["active"] == "1" and name is not None:
                self._history[row["referencedComponentId"]][name].add(row["targetComponentId"])

    def lookup(self, code: str) -> Concept | None:
        if code not in self._active:
            return None
        fsn = self._fsn.get(code)
        term = self._preferred.get(code) or fsn or ""
        return Concept(code, term, self._active[code], SYSTEM, self.release.id, fsn)

    def parents(self, code: str) -> frozenset[str]:
        return frozenset(self._parents.get(code, ()))

    def children(self, code: str) -> frozenset[str]:
        return frozenset(self._children.get(code, ()))

    def codes(self) -> list[str]:
        return sorted(self._active)

    def search(self, text: str, *, include_inactive: bool = False) -> list[Concept]:
        words = text.lower().split()
        found = [
            code
            for code, terms in self._terms.items()
            if (include_inactive or self._active[code])
            and any(all(w in term.lower() for w in words) for term in terms)
        ]
        return [self.concept(code) for code in sorted(found)]

    def replacements(self, code: str) -> dict[str, frozenset[str]]:
        return {name: frozenset(targets) for name, targets in self._history.get(code, {}).items()}
