"""The codeset model (format v1): a codeset's metadata and rules, its codes, and a version's hash.

What `codeset.yaml` and `codes.csv` hold, as data: the model reads and writes no file, so that it can
be built, checked and hashed wherever it came from; `files.py` reads and writes a codeset's folder.
`codeset schema` writes the model's JSON Schema, committed as `codesets/codeset.schema.json`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Final, Literal, get_args

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from codesetlib.core.models import StrictModel

FORMAT_VERSION: Final = 1
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
# What a rule may name: exactly one of these.
RULE_TARGETS = ("concept", "search", "code", "ecl", "refset")
# Any other vocabulary of an OMOP vocabulary release (see terminology.omop_vocabulary), e.g. omop:rxnorm.
OMOP_CODING_SYSTEM = r"^omop:[a-z0-9_+]+$"


def _known_coding_system(value: str) -> str:
    if value in get_args(CodingSystem) or re.fullmatch(OMOP_CODING_SYSTEM, value):
        return value
    raise PydanticCustomError("literal_error", "Input should be 'snomedct', 'dmd' or 'icd10'")


AnyCodingSystem = Annotated[
    str,
    AfterValidator(_known_coding_system),
    WithJsonSchema(
        {"anyOf": [{"enum": list(get_args(CodingSystem))}, {"pattern": OMOP_CODING_SYSTEM}]}
        | {"type": "string"}
    ),
]


class CodesetRule(StrictModel):
    """One ordered step of a codeset's definition.

    Exactly one of: `concept` (with or without its descendants), `search` (active concepts whose terms
    contain every word, optionally only `within` a concept's descendants), `code` (one code alone),
    `ecl` (the active concepts a SNOMED CT expression constraint selects) or `refset` (the active
    members of a reference set). An include adds what the rule matches; an exclude removes it from
    what earlier rules added.
    """

    id: str = Field(pattern=RULE_ID)
    action: Literal["include", "exclude"]
    concept: str | None = Field(default=None, pattern=CODE)
    search: str | None = Field(default=None, min_length=2)
    code: str | None = Field(default=None, pattern=CODE)
    within: str | None = Field(default=None, pattern=CODE)
    # The model reads no file, so not the ECL grammar either: expansion parses it, naming the rule.
    ecl: str | None = Field(
        default=None, min_length=1, description="an expression constraint (ECL 2.x)"
    )
    refset: str | None = Field(default=None, pattern=CODE, description="a reference set's id")
    term: str | None = None
    descendants: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> CodesetRule:
        given = [k for k in RULE_TARGETS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a rule names exactly one of concept, search, code, ecl or refset"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.within is not None and self.search is None:
            raise ValueError("within goes with search")
        if (self.concept or self.code or self.refset) and not self.term:
            raise ValueError("a concept, code or refset rule gives the term it names, for review")
        return self

    @property
    def target(self) -> str:
        """What the rule names, as a reader would write it."""
        if self.search is not None:
            scope = f" within {self.within}" if self.within else ""
            return f'search "{self.search}"{scope}'
        if self.ecl is not None:
            return f"ECL {' '.join(self.ecl.split())}"
        if self.refset is not None:
            return f"members of refset {self.refset} |{self.term}|"
        code = self.concept or self.code
        scope = " and descendants" if self.concept and self.descendants else " only"
        return f"{code} |{self.term}|{scope}"


class Person(StrictModel):
    name: str
    role: str | None = None
    affiliation: str | None = None


class ReviewerSignOff(StrictModel):
    """A reviewer's sign-off: who, in what role, when, and whether they approved."""

    name: str
    role: str
    date: dt.date
    signed_off: bool
    comment: str | None = None


class Decision(StrictModel):
    """Why a rule or a code is as it is: the decision, its rationale, who made it and when."""

    about: str = Field(description="a rule id (e.g. R2) or a code")
    decision: Literal["include", "exclude", "review"]
    rationale: str
    by: str
    date: dt.date


class ContextOfUse(StrictModel):
    """Where and how the codeset is meant to be used."""

    care_setting: str
    query: str = Field(description="e.g. 'ever recorded', 'latest in the last 12 months'")
    data_sources: list[str] = []


class Change(StrictModel):
    version: str = Field(pattern=SEMVER)
    date: dt.date
    changes: str


class Published(StrictModel):
    """Recorded when a version is published: the content hash that makes it immutable."""

    date: dt.date
    content_hash: str = Field(pattern=HASH)


class Codeset(StrictModel):
    """The codeset model (format v1)."""

    format: Literal[1] = FORMAT_VERSION
    id: str = Field(pattern=CODESET_ID)
    title: str
    version: str = Field(pattern=SEMVER)
    status: Literal["draft", "review", "published", "retired"]
    coding_system: AnyCodingSystem
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


class FolderSettings(StrictModel):
    """What governs every codeset in one folder, from the optional `codesets.yaml` beside them."""

    sign_offs_required: int = Field(
        default=1,
        ge=1,
        strict=True,
        description="reviewers who must sign a version off before `codeset publish` accepts it",
    )


class CodeRow(StrictModel):
    """One row of `codes.csv`: a code, its term, the rule that brought it in, and whether it is
    active in the codeset's release."""

    code: str
    term: str
    rule: str
    active: bool = True


def version_key(version: str) -> tuple[int, ...]:
    """A semantic version as numbers, to order versions."""
    return tuple(int(part) for part in version.split("."))


# What the content hash leaves out: the lifecycle state (retiring a version does not change it) and
# the publication record, which holds the hash itself. Everything else in codeset.yaml is the version:
# rules, coding system and release, the prose that says what it means (purpose, intent, population,
# inclusion and exclusion criteria, limitations), decisions, authors, reviewers' sign-offs, references
# and changelog. codesets/README.md says so to users.
NOT_HASHED = {"status", "published"}
# Rule kinds added to format v1 after versions were published with it: hashed only in a rule that uses
# one, so that every version published before they were added keeps its hash.
LATER_RULE_TARGETS = ("ecl", "refset")


def content_hash(codeset: Codeset, rows: list[CodeRow]) -> str:
    """A hash of everything a version is: codeset.yaml as data, less NOT_HASHED, and its codes.

    Both are hashed as parsed values, not file bytes, so reformatting the YAML or how codes.csv is
    written (line endings, quoting, formula escaping) does not change it, while any change of value
    does."""
    dumped = codeset.model_dump(mode="json", exclude=NOT_HASHED)
    for rule in dumped["rules"]:
        for name in LATER_RULE_TARGETS:
            if rule[name] is None:
                del rule[name]
    content = {"codeset": dumped, "codes": [row.model_dump(mode="json") for row in rows]}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def matches_its_hash(codeset: Codeset, rows: list[CodeRow]) -> bool:
    """Whether a published version's content still hashes to what was recorded when it was published."""
    return codeset.published is not None and (
        content_hash(codeset, rows) == codeset.published.content_hash
    )
