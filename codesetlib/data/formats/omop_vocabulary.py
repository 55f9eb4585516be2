"""The OMOP vocabulary tables (concept, concept_relationship, concept_ancestor, vocabulary) built
from the kit's teaching SNOMED CT and dm+d releases, read through the terminology layer.

Concept ids are integers apart from the codes: every concept of the releases, sorted by vocabulary
and then by code (as a number), is numbered from 2,000,000,001, the range OMOP leaves to a site's
own concepts; the code stays in `concept_code`. The same releases give the same ids.

A concept active in the release is standard ('S') and maps to itself. A concept the release
inactivates keeps its row, non-standard, with `invalid_reason` 'U' when it has a replacement ('D'
when not), and 'Maps to' its replacement when the release names one target (REPLACED BY or SAME AS,
or a single POSSIBLY EQUIVALENT TO); several possible targets are kept as 'Concept poss_eq to' rows
only, since mapping one record to several concepts would make it several records. The is-a
hierarchy gives 'Is a' and 'Subsumes' rows and, for standard concepts, `concept_ancestor` with the
fewest and most levels between each pair.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from codesetlib.terminology import Terminology, open_release
from codesetlib.terminology import dmd as dmd_release
from codesetlib.terminology.snomedct import semantic_tag

SNOMED = "SNOMED"
DMD = "dm+d"
# OMOP reserves concept ids from 2,000,000,000 for concepts a site makes itself.
CONCEPT_ID_BASE = 2_000_000_001
UNKNOWN_START = dt.date(1970, 1, 1)
OPEN_END = dt.date(2099, 12, 31)

# The event table of each domain; a domain not named here goes to `observation`.
EVENT_TABLES = ("condition_occurrence", "procedure_occurrence", "measurement", "observation")
TABLE_OF_DOMAIN = {
    "Condition": "condition_occurrence",
    "Procedure": "procedure_occurrence",
    "Measurement": "measurement",
}
# The domain of a SNOMED CT concept, by the semantic tag of its fully specified name: disorders are
# conditions, procedures and regimes procedures, observable entities (HbA1c) measurements; findings,
# situations and social context are observations; the model's own concepts are metadata.
DOMAIN_OF_TAG = {
    "disorder": "Condition",
    "procedure": "Procedure",
    "regime/therapy": "Procedure",
    "observable entity": "Measurement",
    "core metadata concept": "Metadata",
    "foundation metadata concept": "Metadata",
    "metadata": "Metadata",
    "attribute": "Metadata",
    "SNOMED RT+CTV3": "Metadata",
}
CLASS_OF_TAG = {
    "disorder": "Disorder",
    "finding": "Clinical Finding",
    "procedure": "Procedure",
    "regime/therapy": "Procedure",
    "situation": "Context-dependent",
    "observable entity": "Observable Entity",
    "ethnic group": "Social Context",
    "social concept": "Social Context",
    "record artifact": "Record Artifact",
    "attribute": "Attribute",
    "core metadata concept": "Model Comp",
    "foundation metadata concept": "Model Comp",
    "metadata": "Model Comp",
    "SNOMED RT+CTV3": "Model Comp",
}
# The historical associations of an inactive concept as OMOP names them (forward, reverse).
HISTORY_RELATIONSHIPS = {
    "REPLACED_BY": ("Concept replaced by", "Concept replaces"),
    "SAME_AS": ("Concept same_as to", "Concept same_as from"),
    "POSSIBLY_EQUIVALENT_TO": ("Concept poss_eq to", "Concept poss_eq from"),
    "WAS_A": ("Concept was_a to", "Concept was_a from"),
    "ALTERNATIVE": ("Concept alt_to to", "Concept alt_to from"),
}

CONCEPT_SCHEMA = pa.schema(
    [
        ("concept_id", pa.int32()),
        ("concept_name", pa.string()),
        ("domain_id", pa.string()),
        ("vocabulary_id", pa.string()),
        ("concept_class_id", pa.string()),
        ("standard_concept", pa.string()),
        ("concept_code", pa.string()),
        ("valid_start_date", pa.date32()),
        ("valid_end_date", pa.date32()),
        ("invalid_reason", pa.string()),
    ]
)
CONCEPT_RELATIONSHIP_SCHEMA = pa.schema(
    [
        ("concept_id_1", pa.int32()),
        ("concept_id_2", pa.int32()),
        ("relationship_id", pa.string()),
        ("valid_start_date", pa.date32()),
        ("valid_end_date", pa.date32()),
        ("invalid_reason", pa.string()),
    ]
)
CONCEPT_ANCESTOR_SCHEMA = pa.schema(
    [
        ("ancestor_concept_id", pa.int32()),
        ("descendant_concept_id", pa.int32()),
        ("min_levels_of_separation", pa.int32()),
        ("max_levels_of_separation", pa.int32()),
    ]
)
VOCABULARY_SCHEMA = pa.schema(
    [
        ("vocabulary_id", pa.string()),
        ("vocabulary_name", pa.string()),
        ("vocabulary_reference", pa.string()),
        ("vocabulary_version", pa.string()),
        ("vocabulary_concept_id", pa.int32()),
    ]
)


@dataclass(frozen=True)
class VocabularyConcept:
    """One row of the concept table."""

    concept_id: int
    concept_name: str
    domain_id: str
    vocabulary_id: str
    concept_class_id: str
    standard_concept: str | None
    concept_code: str
    valid_start_date: dt.date
    valid_end_date: dt.date
    invalid_reason: str | None


@dataclass(frozen=True)
class CodeIndex:
    """The concepts of one vocabulary as arrays, for looking up a column of codes at once."""

    codes: pa.Array
    concept_ids: np.ndarray
    tables: np.ndarray  # position in EVENT_TABLES of each concept's domain table
    active: np.ndarray


@dataclass
class Vocabulary:
    """The vocabulary tables' rows and the releases they were built from."""

    concepts: list[VocabularyConcept]
    relationships: list[tuple[int, int, str]]
    ancestors: list[tuple[int, int, int, int]]
    releases: dict[str, str]  # vocabulary_id -> release id

    def index(self, vocabulary_id: str) -> CodeIndex:
        rows = [c for c in self.concepts if c.vocabulary_id == vocabulary_id]
        return CodeIndex(
            codes=pa.array([c.concept_code for c in rows], pa.string()),
            concept_ids=np.array([c.concept_id for c in rows], dtype=np.int32),
            tables=np.array([event_table(c.domain_id) for c in rows], dtype=np.int8),
            active=np.array([c.standard_concept == "S" for c in rows], dtype=bool),
        )

    def concept_table(self) -> pa.Table:
        return pa.Table.from_pylist(
            [c.__dict__ for c in sorted(self.concepts, key=lambda c: c.concept_id)],
            schema=CONCEPT_SCHEMA,
        )

    def concept_relationship_table(self) -> pa.Table:
        rows = sorted(set(self.relationships))
        return pa.table(
            {
                "concept_id_1": pa.array([r[0] for r in rows], pa.int32()),
                "concept_id_2": pa.array([r[1] for r in rows], pa.int32()),
                "relationship_id": pa.array([r[2] for r in rows], pa.string()),
                "valid_start_date": pa.array([UNKNOWN_START] * len(rows), pa.date32()),
                "valid_end_date": pa.array([OPEN_END] * len(rows), pa.date32()),
                "invalid_reason": pa.nulls(len(rows), pa.string()),
            },
            schema=CONCEPT_RELATIONSHIP_SCHEMA,
        )

    def concept_ancestor_table(self) -> pa.Table:
        rows = sorted(self.ancestors)
        return pa.table(
            [pa.array([r[i] for r in rows], pa.int32()) for i in range(4)],
            schema=CONCEPT_ANCESTOR_SCHEMA,
        )

    def vocabulary_table(self) -> pa.Table:
        names = {
            SNOMED: ("SNOMED CT teaching edition (not SNOMED CT: curated for teaching)"),
            DMD: "dm+d teaching subset (not dm+d: curated for teaching)",
        }
        rows = [
            {
                "vocabulary_id": vocabulary_id,
                "vocabulary_name": names[vocabulary_id],
                "vocabulary_reference": "codesetlib/terminology/teaching_edition",
                "vocabulary_version": release_id,
                # the OHDSI vocabulary's own concepts are not shipped: 0 is OMOP's "no concept"
                "vocabulary_concept_id": 0,
            }
            for vocabulary_id, release_id in sorted(self.releases.items())
        ]
        return pa.Table.from_pylist(rows, schema=VOCABULARY_SCHEMA)


def event_table(domain_id: str) -> int:
    return EVENT_TABLES.index(TABLE_OF_DOMAIN.get(domain_id, "observation"))


def release_date(terminology: Terminology) -> dt.date:
    return dt.datetime.strptime(terminology.release.version, "%Y%m%d").date()


def _validity(
    code: str, active: bool, history: list[Terminology]
) -> tuple[dt.date, dt.date, str | None]:
    """valid_start_date, valid_end_date and invalid_reason of a code from the releases in order: it
    starts with the first release that holds it (1970-01-01 when that is the first one, whose own
    start is not known) and ends the day before the first release that inactivates it."""
    holding = [t for t in history if t.lookup(code) is not None]
    start = UNKNOWN_START if holding[0] is history[0] else release_date(holding[0])
    if active:
        return start, OPEN_END, None
    ended = next(t for t in holding if not t.concept(code).active)
    reason = "U" if history[-1].replacements(code) else "D"
    return start, release_date(ended) - dt.timedelta(days=1), reason


def _snomed_domain_and_class(fsn: str | None) -> tuple[str, str]:
    tag = semantic_tag(fsn or "") or ""
    return DOMAIN_OF_TAG.get(tag, "Observation"), CLASS_OF_TAG.get(tag, "Clinical Finding")


def _dmd_kinds(terminology: Terminology) -> dict[str, str]:
    """The dm+d type (VTM, VMP, AMP, VMPP, AMPP) of each code, from the release's files."""
    kinds: dict[str, str] = {}
    for kind in dmd_release.KINDS:
        path = dmd_release.release_file(terminology.release.path, kind)
        for record in dmd_release.read_records(path, kind.name):
            kinds[record.values[kind.id_field]] = kind.name
    return kinds


def _numbered(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (-1, code)


def build_vocabulary(snomed_history: list[str], dmd_history: list[str]) -> Vocabulary:
    """The vocabulary from the last release of each history (release ids, oldest first); the
    earlier ones date when concepts came and went."""
    snomed = [open_release(r) for r in snomed_history]
    dmd = [open_release(r) for r in dmd_history]
    latest = {SNOMED: snomed[-1], DMD: dmd[-1]}
    kinds = _dmd_kinds(dmd[-1])
    codes = [
        (vocabulary_id, code)
        for vocabulary_id in sorted(latest)
        for code in sorted(latest[vocabulary_id].codes(), key=_numbered)
    ]
    ids = {key: CONCEPT_ID_BASE + i for i, key in enumerate(codes)}
    concepts = []
    for vocabulary_id, code in codes:
        terminology = latest[vocabulary_id]
        concept = terminology.concept(code)
        if vocabulary_id == SNOMED:
            domain, concept_class = _snomed_domain_and_class(concept.fully_specified_name)
            start, end, reason = _validity(code, concept.active, snomed)
        else:
            domain, concept_class = "Drug", kinds.get(code, "Drug Product")
            start, end, reason = _validity(code, concept.active, dmd)
        concepts.append(
            VocabularyConcept(
                concept_id=ids[vocabulary_id, code],
                concept_name=concept.term[:255],
                domain_id=domain,
                vocabulary_id=vocabulary_id,
                concept_class_id=concept_class,
                standard_concept="S" if concept.active else None,
                concept_code=code,
                valid_start_date=start,
                valid_end_date=end,
                invalid_reason=reason,
            )
        )
    vocabulary = Vocabulary(
        concepts=concepts,
        relationships=[],
        ancestors=[],
        releases={v: t.release.id for v, t in latest.items()},
    )
    for vocabulary_id, terminology in latest.items():
        own = {code: ids[v, code] for v, code in codes if v == vocabulary_id}
        vocabulary.relationships += relationship_rows(terminology, own)
        standard = [c.concept_code for c in concepts if c.vocabulary_id == vocabulary_id]
        standard = [code for code in standard if terminology.concept(code).active]
        vocabulary.ancestors += ancestor_rows(terminology, standard, own)
    return vocabulary


def relationship_rows(terminology: Terminology, ids: dict[str, int]) -> list[tuple[int, int, str]]:
    """concept_relationship rows of one vocabulary: maps, the hierarchy both ways, and the history
    of inactive concepts."""
    rows: list[tuple[int, int, str]] = []
    for code, concept_id in ids.items():
        if terminology.concept(code).active:
            rows += [(concept_id, concept_id, "Maps to"), (concept_id, concept_id, "Mapped from")]
            for parent in sorted(terminology.parents(code)):
                if parent in ids:
                    rows += [
                        (concept_id, ids[parent], "Is a"),
                        (ids[parent], concept_id, "Subsumes"),
                    ]
            continue
        history = terminology.replacements(code)
        for association, targets in sorted(history.items()):
            names = HISTORY_RELATIONSHIPS.get(association)
            for target in sorted(targets):
                if names is not None and target in ids:
                    rows += [
                        (concept_id, ids[target], names[0]),
                        (ids[target], concept_id, names[1]),
                    ]
        replacement = maps_to(terminology, history)
        if replacement is None or replacement not in ids:
            continue
        rows += [
            (concept_id, ids[replacement], "Maps to"),
            (ids[replacement], concept_id, "Mapped from"),
        ]
    return rows


def maps_to(terminology: Terminology, history: dict[str, frozenset[str]]) -> str | None:
    """The one active concept an inactive concept is replaced by, or None when there is none or
    several."""
    for association in ("REPLACED_BY", "SAME_AS", "POSSIBLY_EQUIVALENT_TO"):
        targets = [t for t in history.get(association, ()) if _is_active(terminology, t)]
        if targets:
            return targets[0] if len(targets) == 1 else None
    return None


def _is_active(terminology: Terminology, code: str) -> bool:
    concept = terminology.lookup(code)
    return concept is not None and concept.active


def ancestor_rows(
    terminology: Terminology, codes: Iterable[str], ids: dict[str, int]
) -> list[tuple[int, int, int, int]]:
    """concept_ancestor rows for `codes`: each with itself (0 levels) and every ancestor, with the
    fewest and the most is-a steps between them."""

    @cache
    def levels(code: str) -> dict[str, tuple[int, int]]:
        found = {code: (0, 0)}
        for parent in terminology.parents(code):
            for ancestor, (low, high) in levels(parent).items():
                if ancestor in found:
                    known = found[ancestor]
                    found[ancestor] = (min(known[0], low + 1), max(known[1], high + 1))
                else:
                    found[ancestor] = (low + 1, high + 1)
        return found

    return [
        (ids[ancestor], ids[code], low, high)
        for code in codes
        for ancestor, (low, high) in levels(code).items()
        if ancestor in ids
    ]
