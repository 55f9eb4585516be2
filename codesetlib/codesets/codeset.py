"""A codeset as a governed artefact: its metadata and rules (`codeset.yaml`) and its codes (`codes.csv`).

Each codeset lives in its own folder, `codesets/<id>/`, so that a change to it reads as a diff. The
model here is format v1; `codeset schema` writes its JSON Schema, committed as
`codesets/codeset.schema.json`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codesetlib.core import atomic
from codesetlib.core.csvfiles import csv_text, read_csv
from codesetlib.core.errors import CodesetFormatError, CodesetNotFound
from codesetlib.core.textfiles import one_line
from codesetlib.core.yamlfile import validate_yaml

FORMAT_VERSION = 1
CODESET_FILE = "codeset.yaml"
CODES_FILE = "codes.csv"
HISTORY_DIR = "history"
SETTINGS_FILE = "codesets.yaml"
CODES_COLUMNS = ["code", "term", "rule", "active"]
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
CODESET_ID = r"^[a-z0-9][a-z0-9_]*$"
RULE_ID = r"^[A-Za-z0-9_-]+$"
CODE = r"^[0-9A-Z][0-9A-Z.]*$"
HASH = r"^sha256:[0-9a-f]{64}$"
# What each pattern expects, in words, for error messages.
PATTERN_HINTS = {
    SEMVER: "a semantic version such as 1.2.0",
    CODESET_ID: "lower-case letters, digits and underscores (the folder name)",
    RULE_ID: "letters, digits, '-' or '_' (e.g. R1)",
    CODE: "a code: digits for SNOMED CT and dm+d, or an ICD-10 code such as C50.9",
    HASH: "'sha256:' and 64 hexadecimal digits",
}
CodingSystem = Literal["snomedct", "dmd", "icd10"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodesetRule(_Strict):
    """One ordered step of a codeset's definition.

    Exactly one of: `concept` (with or without its descendants), `search` (active concepts whose terms
    contain every word, optionally only `within` a concept's descendants) or `code` (one code alone).
    An include adds what the rule matches; an exclude removes it from what earlier rules added.
    """

    id: str = Field(pattern=RULE_ID)
    action: Literal["include", "exclude"]
    concept: str | None = Field(default=None, pattern=CODE)
    search: str | None = Field(default=None, min_length=2)
    code: str | None = Field(default=None, pattern=CODE)
    within: str | None = Field(default=None, pattern=CODE)
    term: str | None = None
    descendants: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> CodesetRule:
        given = [k for k in ("concept", "search", "code") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a rule names exactly one of concept, search or code"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.within is not None and self.search is None:
            raise ValueError("within goes with search")
        if (self.concept or self.code) and not self.term:
            raise ValueError("a concept or code rule gives the term it names, for review")
        return self

    @property
    def target(self) -> str:
        """What the rule names, as a reader would write it."""
        if self.search is not None:
            scope = f" within {self.within}" if self.within else ""
            return f'search "{self.search}"{scope}'
        code = self.concept or self.code
        scope = " and descendants" if self.concept and self.descendants else " only"
        return f"{code} |{self.term}|{scope}"


class Person(_Strict):
    name: str
    role: str | None = None
    affiliation: str | None = None


class ReviewerSignOff(_Strict):
    """A reviewer's sign-off: who, in what role, when, and whether they approved."""

    name: str
    role: str
    date: dt.date
    signed_off: bool
    comment: str | None = None


class Decision(_Strict):
    """Why a rule or a code is as it is: the decision, its rationale, who made it and when."""

    about: str = Field(description="a rule id (e.g. R2) or a code")
    decision: Literal["include", "exclude", "review"]
    rationale: str
    by: str
    date: dt.date


class ContextOfUse(_Strict):
    """Where and how the codeset is meant to be used."""

    care_setting: str
    query: str = Field(description="e.g. 'ever recorded', 'latest in the last 12 months'")
    data_sources: list[str] = []


class Change(_Strict):
    version: str = Field(pattern=SEMVER)
    date: dt.date
    changes: str


class Published(_Strict):
    """Recorded when a version is published: the content hash that makes it immutable."""

    date: dt.date
    content_hash: str = Field(pattern=HASH)


class Codeset(_Strict):
    """The codeset model (format v1)."""

    format: Literal[1] = FORMAT_VERSION
    id: str = Field(pattern=CODESET_ID)
    title: str
    version: str = Field(pattern=SEMVER)
    status: Literal["draft", "review", "published", "retired"]
    coding_system: CodingSystem
    terminology_release: str
    purpose: str
    clinical_intent: str | None = None
    context_of_use: ContextOfUse | None = None
    population: str | None = None
    inclusion_criteria: str | None = None
    exclusion_criteria: str | None = None
    rules: list[CodesetRule] = Field(min_length=1)
    authors: list[Person] = Field(min_length=1)
    reviewers: list[ReviewerSignOff] = []
    references: list[str] = []
    methodology: str | None = None
    known_limitations: str | None = None
    decisions: list[Decision] = []
    changelog: list[Change] = []
    published: Published | None = None
    cluster: str | None = Field(
        default=None, description="a national cluster it follows, e.g. CAN_COD"
    )
    category: Literal[
        "diagnosis", "procedure", "observation", "demographic", "medication", "other"
    ] = "other"

    @field_validator("title", "purpose", "terminology_release")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("rules")
    @classmethod
    def _rule_ids_unique(cls, rules: list[CodesetRule]) -> list[CodesetRule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id} is used twice")
            seen.add(rule.id)
        return rules

    @model_validator(mode="after")
    def _published_has_a_hash(self) -> Codeset:
        if self.status == "published" and self.published is None:
            raise ValueError("a published codeset records its content hash (run `codeset publish`)")
        # Only a published version is retired, so a retired one keeps the hash its check needs.
        if self.status == "retired" and self.published is None:
            raise ValueError(
                "a retired codeset records its content hash: a version is published before it is "
                "retired, so restore its `published` block"
            )
        return self

    def rule(self, rule_id: str) -> CodesetRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def open_decisions(self) -> list[tuple[int, Decision]]:
        """The decisions still marked `review`, with their place in `decisions`. The latest decision
        about a rule or code stands (by date, then by place in the list), so an include or exclude
        made after a review closes it, and a review made after an include reopens the question."""
        standing: dict[str, int] = {}
        for i, d in enumerate(self.decisions):
            j = standing.get(d.about)
            if j is None or d.date >= self.decisions[j].date:
                standing[d.about] = i
        return [
            (i, d)
            for i, d in enumerate(self.decisions)
            if d.decision == "review" and standing[d.about] == i
        ]


class FolderSettings(_Strict):
    """What governs every codeset in one folder, from the optional `codesets.yaml` beside them."""

    sign_offs_required: int = Field(
        default=1,
        ge=1,
        strict=True,
        description="reviewers who must sign a version off before `codeset publish` accepts it",
    )


class CodeRow(_Strict):
    """One row of `codes.csv`: a code, its term, the rule that brought it in, and whether it is
    active in the codeset's release."""

    code: str
    term: str
    rule: str
    active: bool = True


def codeset_dir(codesets_root: Path, codeset_id: str) -> Path:
    """The folder of codeset `codeset_id`; a clear error lists the codesets there are.

    An id names a folder in `codesets_root` and nothing else: one such as `../../elsewhere/x` is
    refused, so that what a study or cohort names cannot lie outside its codesets folder."""
    if not re.fullmatch(CODESET_ID, codeset_id):
        raise CodesetNotFound(
            f"'{codeset_id}' is not a codeset id: a codeset is named by its folder in "
            f"{codesets_root}, with {PATTERN_HINTS[CODESET_ID]}"
        )
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


def load_folder_settings(codesets_root: Path) -> FolderSettings:
    """The settings of a folder of codesets: its `codesets.yaml`, or the defaults when it has none."""
    path = codesets_root / SETTINGS_FILE
    if not path.exists():
        return FolderSettings()
    return validate_yaml(path, FolderSettings, CodesetFormatError)


def version_key(version: str) -> tuple[int, ...]:
    """A semantic version as numbers, to order versions."""
    return tuple(int(part) for part in version.split("."))


def archived_versions(folder: Path) -> list[str]:
    """The versions archived under `folder/history/`, oldest first.

    Everything there is a version folder holding its codeset.yaml; anything else (`history/old/`, a
    stray file) is refused by name rather than skipped, since `codeset check` must see every version."""
    history = folder / HISTORY_DIR
    if not history.exists():
        return []
    if not history.is_dir():
        raise CodesetFormatError(
            "expected a folder of archived versions, found a file", path=history
        )
    found = []
    for entry in sorted(history.iterdir()):
        if entry.name.startswith("."):  # the file manager's own files, e.g. .DS_Store
            continue
        if not entry.is_dir() or not re.fullmatch(SEMVER, entry.name):
            raise CodesetFormatError(
                f"not a version: each entry of {HISTORY_DIR}/ is a folder named for the version it "
                f"archives, {PATTERN_HINTS[SEMVER]}",
                path=entry,
            )
        if not (entry / CODESET_FILE).is_file():
            raise CodesetFormatError(
                f"an archived version holds {CODESET_FILE} and {CODES_FILE}; {CODESET_FILE} is missing",
                path=entry,
            )
        found.append(entry.name)
    return sorted(found, key=version_key)


def load_codeset(folder: Path) -> Codeset:
    """Read and validate `folder/codeset.yaml`; its id must match the folder name."""
    path = folder / CODESET_FILE
    codeset = validate_yaml(path, Codeset, CodesetFormatError, PATTERN_HINTS)
    expected = folder.parent.name if folder.parent.name == HISTORY_DIR else folder.name
    if folder.parent.name != HISTORY_DIR and codeset.id != expected:
        raise CodesetFormatError(
            f"id '{codeset.id}' does not match the folder name '{folder.name}'",
            path=path,
            field="id",
        )
    return codeset


def read_codes(folder: Path) -> list[CodeRow]:
    """Read `folder/codes.csv`, refusing a missing column, a blank code or a duplicate with its row.

    Cells the kit escaped against spreadsheet formulas when writing are read back as they were."""
    path = folder / CODES_FILE
    records = read_csv(path, CodesetFormatError)
    header = records[0][1] if records else []
    missing = [c for c in CODES_COLUMNS if c not in header]
    if missing:
        raise CodesetFormatError(
            f"missing column(s) {', '.join(missing)}; expected {','.join(CODES_COLUMNS)}",
            path=path,
            line=1,
        )
    rows, seen = [], set()
    for line, cells in records[1:]:
        if len(cells) != len(header):
            raise CodesetFormatError(
                f"expected {len(header)} cells, as the header has, found {len(cells)}",
                path=path,
                line=line,
            )
        row = dict(zip(header, cells, strict=True))
        code = row["code"].strip()
        if not code:
            raise CodesetFormatError("blank code", path=path, line=line, field="code")
        if code in seen:
            raise CodesetFormatError(
                f"code {one_line(code)} is listed twice", path=path, line=line, field="code"
            )
        if row["active"] not in ("true", "false"):
            raise CodesetFormatError(
                f"expected true or false, found {row['active']!r}",
                path=path,
                line=line,
                field="active",
            )
        seen.add(code)
        rows.append(
            CodeRow(code=code, term=row["term"], rule=row["rule"], active=row["active"] == "true")
        )
    return rows


def codes_csv_text(rows: list[CodeRow]) -> str:
    """`codes.csv` as text: the canonical form that is written and hashed, escaped against formulas."""
    return csv_text(
        CODES_COLUMNS,
        ([row.code, row.term, row.rule, "true" if row.active else "false"] for row in rows),
    )


def write_atomically(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file renamed into place: never half-written."""
    return atomic.write_text(path, text)


def write_codes(folder: Path, rows: list[CodeRow]) -> Path:
    """Write `codes.csv` atomically."""
    return write_atomically(folder / CODES_FILE, codes_csv_text(rows))


# What the content hash leaves out: the lifecycle state (retiring a version does not change it) and
# the publication record, which holds the hash itself. Everything else in codeset.yaml is the version:
# rules, coding system and release, the prose that says what it means (purpose, intent, population,
# inclusion and exclusion criteria, limitations), decisions, authors, reviewers' sign-offs, references
# and changelog. codesets/README.md says so to users.
NOT_HASHED = {"status", "published"}


def content_hash(codeset: Codeset, rows: list[CodeRow]) -> str:
    """A hash of everything a version is: codeset.yaml as data, less NOT_HASHED, and its codes.

    Both are hashed as parsed values, not file bytes, so reformatting the YAML or how codes.csv is
    written (line endings, quoting, formula escaping) does not change it, while any change of value
    does."""
    content = {
        "codeset": codeset.model_dump(mode="json", exclude=NOT_HASHED),
        "codes": [row.model_dump(mode="json") for row in rows],
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def matches_its_hash(codeset: Codeset, rows: list[CodeRow]) -> bool:
    """Whether a published version's content still hashes to what was recorded when it was published."""
    return codeset.published is not None and (
        content_hash(codeset, rows) == codeset.published.content_hash
    )
