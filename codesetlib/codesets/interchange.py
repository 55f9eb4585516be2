"""Import and export codesets in the formats other tools use.

- `opencodelists`: the CSV an OpenCodelists codelist downloads as (`code,term`).
- `ehrql`: a codelist CSV as ehrQL's `codelist_from_csv` reads it (a code column, named by `column`).
- `atlas`: an OHDSI ATLAS concept set expression (JSON `items`: concept, isExcluded,
  includeDescendants, includeMapped). Rules map one to one. ATLAS names a concept by its OMOP
  `CONCEPT_ID`, which only an OMOP vocabulary release holds: a codeset on such a release exports each
  concept as CONCEPT holds it (id, name, domain, class, standard and validity), and so does any codeset
  when a vocabulary release of its coding system is given; otherwise a concept is exported by its code,
  name and vocabulary alone.
- `fhir`: a FHIR R4 ValueSet (JSON), written and read by `fhir.py`.
- `ecl`: one SNOMED CT ECL expression, written and read by `ecl/convert.py`.

A flat list carries no hierarchy: `rules_from_file` reads it as one single-code rule per code, and
`import_codelist` (what `codeset import` runs) fits the fewest hierarchy rules that give exactly its
codes (`fitting.py`), as it does for an ATLAS set of single codes and a ValueSet's concept list.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from codesetlib.codesets.expand import Expansion
from codesetlib.codesets.files import CODESET_FILE
from codesetlib.codesets.fitting import Fit, fit_codes
from codesetlib.codesets.model import Codeset, CodesetRule, Decision, Person
from codesetlib.core import atomic
from codesetlib.core.csvfiles import csv_text, read_csv
from codesetlib.core.errors import CodesetFormatError
from codesetlib.core.textfiles import one_line, read_json
from codesetlib.terminology import Concept, Terminology, open_release
from codesetlib.terminology.omop_vocabulary import RELEASE_PREFIX, OmopVocabulary

Format = Literal["opencodelists", "ehrql", "atlas"]
# The formats every codeset card offers to download; `fhir` is exported and imported by command.
FORMATS: tuple[Format, ...] = ("opencodelists", "ehrql", "atlas")
EXCHANGE_FORMATS = (*FORMATS, "fhir", "ecl")
DEFAULT_RELEASE = "snomedct-teaching-20240401"
VOCABULARY = {"snomedct": "SNOMED", "dmd": "dm+d", "icd10": "ICD10"}


def export_codeset(
    codeset: Codeset, expansion: Expansion, fmt: Format, *, vocabulary: OmopVocabulary | None = None
) -> str:
    """The codeset in format `fmt`, as text (CSV cells escaped against spreadsheet formulas).

    An ATLAS concept set carries each concept's CONCEPT_ID from `vocabulary` (an OMOP vocabulary
    release of the codeset's coding system) or, without one, from the codeset's own release when that
    is an OMOP vocabulary release."""
    if fmt == "atlas":
        vocabulary = vocabulary or _own_vocabulary(expansion)
        return json.dumps(_atlas_expression(codeset, vocabulary), indent=2) + "\n"
    return csv_text(["code", "term"], ([row.code, row.term] for row in expansion.codes))


def _own_vocabulary(expansion: Expansion) -> OmopVocabulary | None:
    # Only an OMOP release is opened here: the export of any other stays as it was, with no look-up.
    if not expansion.release.startswith(RELEASE_PREFIX):
        return None
    terminology = open_release(expansion.release)
    return terminology if isinstance(terminology, OmopVocabulary) else None


def vocabulary_id(terminology: Terminology) -> str:
    """The OMOP vocabulary_id of a release's codes, as ATLAS writes it (`SNOMED`, `ICD10CM`…)."""
    if isinstance(terminology, OmopVocabulary):
        return terminology.vocabulary_id
    return VOCABULARY.get(terminology.system, terminology.system)


def _atlas_concept(rule: CodesetRule, code: str, vocabulary: OmopVocabulary) -> dict:
    """A concept as ATLAS writes it, from CONCEPT's row in `vocabulary`."""
    found = vocabulary.omop_concept(code)
    if found is None:
        raise CodesetFormatError(
            f"{code} ({rule.term}) is not in {vocabulary.release.id}, so it has no CONCEPT_ID",
            field=f"rules[{rule.id}]",
        )
    return {
        "CONCEPT_ID": found.concept_id,
        "CONCEPT_NAME": found.name,
        "STANDARD_CONCEPT": found.standard_concept or "N",
        "INVALID_REASON": found.invalid_reason or "V",
        "CONCEPT_CODE": found.code,
        "DOMAIN_ID": found.domain_id,
        "VOCABULARY_ID": found.vocabulary_id,
        "CONCEPT_CLASS_ID": found.concept_class_id,
    }


def _atlas_expression(codeset: Codeset, vocabulary: OmopVocabulary | None) -> dict:
    if vocabulary is not None and vocabulary.system != codeset.coding_system:
        raise CodesetFormatError(
            f"release {vocabulary.release.id} is {vocabulary.system}, but the codeset's "
            f"coding_system is {codeset.coding_system}",
            field="coding_system",
        )
    items = []
    for rule in codeset.rules:
        kind = next((k for k in ("search", "ecl", "refset") if getattr(rule, k) is not None), None)
        if kind is not None:
            raise CodesetFormatError(
                f"rule {rule.id} selects by {kind}, which an ATLAS concept set cannot express; "
                "export as opencodelists instead",
                field=f"rules[{rule.id}]",
            )
        code = rule.concept or rule.code or ""  # any other rule names one of them
        items.append(
            {
                "concept": _atlas_concept(rule, code, vocabulary)
                if vocabulary is not None
                else {
                    "CONCEPT_CODE": code,
                    "CONCEPT_NAME": rule.term,
                    "VOCABULARY_ID": VOCABULARY[codeset.coding_system],
                },
                "isExcluded": rule.action == "exclude",
                "includeDescendants": bool(rule.concept and rule.descendants),
                "includeMapped": False,
            }
        )
    return {"items": items}


def rules_from_file(
    path: Path, fmt: Format, terminology: Terminology, column: str = "code"
) -> list[CodesetRule]:
    """Rules that reproduce the codelist in `path`; every code must be in `terminology`."""
    if fmt == "atlas":
        return _rules_from_atlas(path, terminology)
    return _rules_from_csv(path, terminology, "code" if fmt == "opencodelists" else column)


def _concept(
    code: str, terminology: Terminology, path: Path, line: int | None, field: str
) -> Concept:
    """The release's concept for `code`; a malformed code is refused as such, not as unknown."""
    concept = terminology.lookup(code)
    if concept is None:
        # A code that is not printable is no code of any system, so its escaped form says the same.
        missing = terminology.missing(one_line(code))
        raise CodesetFormatError(missing.message, path=path, line=line, field=field)
    return concept


def _rules_from_csv(path: Path, terminology: Terminology, column: str) -> list[CodesetRule]:
    records = read_csv(path, CodesetFormatError)
    header = records[0][1] if records else []
    if column not in header:
        raise CodesetFormatError(
            f"no column '{column}' (columns: {one_line(', '.join(header)) or 'none'})",
            path=path,
            line=1,
        )
    at = header.index(column)
    rules = []
    for line, cells in records[1:]:
        code = cells[at].strip() if at < len(cells) else ""
        if not code:
            raise CodesetFormatError("blank code", path=path, line=line, field=column)
        concept = _concept(code, terminology, path, line, column)
        rules.append(
            CodesetRule(
                id=f"R{len(rules) + 1}", action="include", code=concept.code, term=concept.term
            )
        )
    if not rules:
        raise CodesetFormatError("no codes", path=path)
    return rules


def _kind(value: object) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    kinds = {dict: "an object", list: "a list", str: "a string"}
    return next((k for t, k in kinds.items() if isinstance(value, t)), "a number")


def _atlas_items(path: Path) -> list:
    """The `items` list of an ATLAS concept set expression, refusing any other shape."""
    document = read_json(path, CodesetFormatError, "an ATLAS concept set expression")
    if not isinstance(document, dict) or "items" not in document:
        raise CodesetFormatError(
            f"not an ATLAS concept set expression: expected an object with a list of items, found "
            f"{_kind(document) if not isinstance(document, dict) else 'no items'}",
            path=path,
            field="items",
        )
    items = document["items"]
    if not isinstance(items, list):
        raise CodesetFormatError(
            f"expected a list of concept set items, found {_kind(items)}", path=path, field="items"
        )
    if not items:
        raise CodesetFormatError(
            "the concept set has no items: nothing to import", path=path, field="items"
        )
    return items


def _atlas_flag(item: dict, name: str, path: Path, n: int) -> bool:
    """One of an item's true/false fields; ATLAS writes JSON booleans, so nothing else is guessed at."""
    value = item.get(name, False)
    if not isinstance(value, bool):
        raise CodesetFormatError(
            f"expected true or false, found {_kind(value)} {json.dumps(value)[:40]}",
            path=path,
            field=f"items[{n}].{name}",
        )
    return value


def _atlas_code(item: object, path: Path, n: int, vocabulary: str) -> str:
    """The concept code of item `n`, refusing an item of another vocabulary or the wrong shape."""
    if not isinstance(item, dict):
        raise CodesetFormatError(
            f"expected an object with a concept, found {_kind(item)}",
            path=path,
            field=f"items[{n}]",
        )
    concept = item.get("concept")
    if not isinstance(concept, dict):
        found = "nothing" if concept is None else _kind(concept)
        raise CodesetFormatError(
            f"expected an object with CONCEPT_CODE, found {found}",
            path=path,
            field=f"items[{n}].concept",
        )
    named = concept.get("VOCABULARY_ID", vocabulary)
    if not isinstance(named, str) or named.lower() != vocabulary.lower():
        raise CodesetFormatError(
            f"vocabulary {json.dumps(named)[:40]} is not the release's coding system "
            f"({vocabulary})",
            path=path,
            field=f"items[{n}].concept.VOCABULARY_ID",
        )
    code = concept.get("CONCEPT_CODE")
    field = f"items[{n}].concept.CONCEPT_CODE"
    if isinstance(code, bool) or not isinstance(code, str | int | None):
        raise CodesetFormatError(f"expected a code, found {_kind(code)}", path=path, field=field)
    code = "" if code is None else str(code).strip()
    if not code:
        raise CodesetFormatError("missing concept code", path=path, field=field)
    return code


def _rules_from_atlas(path: Path, terminology: Terminology) -> list[CodesetRule]:
    rules = []
    for n, item in enumerate(_atlas_items(path)):
        code = _atlas_code(item, path, n, vocabulary_id(terminology))
        excluded, descendants, mapped = (
            _atlas_flag(item, name, path, n)
            for name in ("isExcluded", "includeDescendants", "includeMapped")
        )
        if mapped:
            raise CodesetFormatError(
                "includeMapped is not supported: map the concepts first",
                path=path,
                field=f"items[{n}]",
            )
        concept = _concept(code, terminology, path, None, f"items[{n}].concept.CONCEPT_CODE")
        action = "exclude" if excluded else "include"
        rid = f"R{n + 1}"
        if descendants:
            rules.append(
                CodesetRule(
                    id=rid, action=action, concept=concept.code, term=concept.term, descendants=True
                )
            )
        else:
            rules.append(CodesetRule(id=rid, action=action, code=concept.code, term=concept.term))
    return rules


@dataclass(frozen=True)
class ImportedCodelist:
    """A codelist read for a new codeset: its rules, the release they are in, the fit that made them
    from a flat list (if one did), the metadata the file carried, and what was noticed on the way."""

    rules: list[CodesetRule]
    terminology: Terminology
    fit: Fit | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        """What `codeset import` prints before it says where the codeset went."""
        return [*(self.fit.summary() if self.fit else []), *self.notes]


def _fitted(rules: list[CodesetRule], terminology: Terminology, path: Path) -> Fit:
    """The fewest hierarchy rules for a flat list of single-code rules, checked to give its codes."""
    fit = fit_codes([r.code or "" for r in rules], terminology)
    if not fit.exact or fit.not_in_release:
        raise CodesetFormatError("the fitted rules do not give the list's codes", path=path)
    return fit


def import_codelist(
    path: Path, fmt: str, release: str | None = None, column: str = "code"
) -> ImportedCodelist:
    """Read `path` in format `fmt` as rules for a new codeset.

    A flat list (OpenCodelists, ehrQL, an ATLAS set of single codes, a ValueSet's concepts) becomes
    the fewest hierarchy rules that give exactly its codes; an ATLAS set with descendants or
    exclusions keeps its items as rules; an ECL expression, or a ValueSet holding one, gets the
    expression's rules. A ValueSet names
    its release by its version, so `release` may be left out for one; the other formats default to
    the teaching release."""
    if fmt == "fhir":
        from codesetlib.codesets.fhir import import_valueset, read_valueset, release_for

        read = read_valueset(path)
        terminology = release_for(read, release)
        got = import_valueset(read, terminology)
        return ImportedCodelist(got.rules, terminology, got.fit, got.metadata, got.notes)
    if fmt == "ecl":
        from codesetlib.codesets.ecl import import_ecl

        terminology = open_release(release or DEFAULT_RELEASE)
        return ImportedCodelist(import_ecl(path, terminology), terminology)
    if fmt not in FORMATS:
        raise CodesetFormatError(
            f"unknown format '{fmt}' (expected {', '.join(EXCHANGE_FORMATS)})", path=path
        )
    terminology = open_release(release or DEFAULT_RELEASE)
    rules = rules_from_file(path, fmt, terminology, column)  # type: ignore[arg-type]
    if all(r.action == "include" and r.code is not None for r in rules):
        fit = _fitted(rules, terminology, path)
        return ImportedCodelist(fit.rules, terminology, fit)
    return ImportedCodelist(rules, terminology)


def new_codeset(
    codeset_id: str,
    *,
    title: str,
    coding_system: str,
    release: str,
    rules: list[CodesetRule],
    author: str,
    purpose: str,
    source: str | None = None,
    today: dt.date | None = None,
    metadata: dict[str, Any] | None = None,
) -> Codeset:
    """A draft codeset (version 0.1.0) with its rules, recording where it came from.

    `metadata` fills other fields an imported file carried (clinical intent, context of use); its
    authors come first, then `author`, who made this codeset from it."""
    today = today or dt.date.today()
    # The title and purpose given win over those the file carried (the caller chooses between them).
    metadata = {k: v for k, v in (metadata or {}).items() if k not in ("title", "purpose")}
    decisions = []
    if source:
        decisions.append(
            Decision(
                about=rules[0].id,
                decision="review",
                rationale=f"Imported from {source}; every rule needs clinical review.",
                by=author,
                date=today,
            )
        )
    authors = list(metadata.pop("authors", []))
    if author not in [person.name for person in authors]:
        authors.append(Person(name=author))
    return Codeset(
        id=codeset_id,
        title=title,
        version="0.1.0",
        status="draft",
        coding_system=coding_system,
        terminology_release=release,
        purpose=purpose,
        rules=rules,
        authors=authors,
        decisions=decisions,
        **metadata,
    )


def write_codeset(folder: Path, codeset: Codeset) -> Path:
    """Write `codeset.yaml` for a new codeset folder (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = codeset.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"id": data.pop("id"), **data}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return atomic.write_text(folder / CODESET_FILE, text)
