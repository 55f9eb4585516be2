"""A codeset as a governed artefact: its metadata and rules (`codeset.yaml`) and its codes (`codes.csv`).

Each codeset lives in its own folder, `codesets/<id>/`, so that a change to it reads as a diff.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codesetlib.errors import CodesetFormatError, CodesetNotFound
from codesetlib.yamlfile import validate_yaml

CODESET_FILE = "codeset.yaml"
CODES_FILE = "codes.csv"
CODES_COLUMNS = ["code", "term", "rule"]
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """One ordered step of a codeset's definition: include or exclude a concept and, if asked, its
    descendants."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    action: Literal["include", "exclude"]
    concept: str = Field(pattern=r"^[0-9]+$")
    term: str
    descendants: bool = True
    note: str | None = None


class Person(_Strict):
    name: str
    role: str | None = None
    affiliation: str | None = None


class Decision(_Strict):
    """Why a rule or a code is as it is: the decision, its rationale, who made it and when."""

    about: str
    decision: str
    rationale: str
    by: str
    date: dt.date


class Codeset(_Strict):
    """The codeset model (format v0): metadata, ordered rules, authors and a decision log."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    title: str
    version: str = Field(pattern=SEMVER)
    status: Literal["draft", "review", "published", "retired"]
    coding_system: Literal["snomedct"]
    terminology_release: str
    purpose: str
    rules: list[Rule] = Field(min_length=1)
    authors: list[Person] = Field(min_length=1)
    decisions: list[Decision] = []

    @field_validator("title", "purpose", "terminology_release")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("rules")
    @classmethod
    def _rule_ids_unique(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id} is used twice")
            seen.add(rule.id)
        return rules


class CodeRow(_Strict):
    """One row of `codes.csv`: a code, its term and the rule that brought it in."""

    code: str
    term: str
    rule: str


def codeset_dir(codesets_root: Path, codeset_id: str) -> Path:
    """The folder of codeset `codeset_id`; a clear error lists the codesets there are."""
    folder = codesets_root / codeset_id
    if not (folder / CODESET_FILE).is_file():
        known = ", ".join(available_codesets(codesets_root)) or "none"
        raise CodesetNotFound(
            f"no codeset '{codeset_id}' (expected {folder / CODESET_FILE}; available: {known})"
        )
    return folder


def available_codesets(codesets_root: Path) -> list[str]:
    """Ids of the codesets under `codesets_root`."""
    if not codesets_root.is_dir():
        return []
    return sorted(p.parent.name for p in codesets_root.glob(f"*/{CODESET_FILE}"))


def load_codeset(folder: Path) -> Codeset:
    """Read and validate `folder/codeset.yaml`; its id must match the folder name."""
    path = folder / CODESET_FILE
    codeset = validate_yaml(path, Codeset, CodesetFormatError)
    if codeset.id != folder.name:
        raise CodesetFormatError(
            f"id '{codeset.id}' does not match the folder name '{folder.name}'",
            path=path,
            field="id",
        )
    return codeset


def read_codes(folder: Path) -> list[CodeRow]:
    """Read `folder/codes.csv`, refusing a missing column or a blank code with its row number."""
    path = folder / CODES_FILE
    if not path.is_file():
        raise CodesetFormatError("file not found", path=path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CODES_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CodesetFormatError(
                f"missing column(s) {', '.join(missing)}; expected {','.join(CODES_COLUMNS)}",
                path=path,
                line=1,
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            if not (row.get("code") or "").strip():
                raise CodesetFormatError("blank code", path=path, line=line, field="code")
            rows.append(CodeRow(**{c: row[c] or "" for c in CODES_COLUMNS}))
        return rows


def write_codes(folder: Path, rows: list[CodeRow]) -> Path:
    """Write `codes.csv` atomically (a temporary file renamed into place)."""
    path = folder / CODES_FILE
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CODES_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.model_dump() for row in rows)
    tmp.replace(path)
    return path
