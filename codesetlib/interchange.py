"""Import and export codesets in the formats other tools use.

- `opencodelists`: the CSV an OpenCodelists codelist downloads as (`code,term`).
- `ehrql`: a codelist CSV as ehrQL's `codelist_from_csv` reads it (a code column, named by `column`).
- `atlas`: an OHDSI ATLAS concept set expression (JSON `items`: concept, isExcluded,
  includeDescendants, includeMapped). Rules map one to one; the flat CSV formats import as one
  single-code rule per code, since they carry no hierarchy.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Literal

import yaml

from codesetlib.codeset import CODESET_FILE, Codeset, Decision, Person, Rule, write_atomically
from codesetlib.errors import CodesetFormatError
from codesetlib.expand import Expansion
from codesetlib.terminology import Terminology

Format = Literal["opencodelists", "ehrql", "atlas"]
FORMATS: tuple[Format, ...] = ("opencodelists", "ehrql", "atlas")
VOCABULARY = {"snomedct": "SNOMED", "dmd": "dm+d", "icd10": "ICD10"}


def export_codeset(codeset: Codeset, expansion: Expansion, fmt: Format) -> str:
    """The codeset in format `fmt`, as text."""
    if fmt == "atlas":
        return json.dumps(_atlas_expression(codeset), indent=2) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "term"])
    writer.writerows((row.code, row.term) for row in expansion.codes)
    return out.getvalue()


def _atlas_expression(codeset: Codeset) -> dict:
    items = []
    for rule in codeset.rules:
        if rule.search is not None:
            raise CodesetFormatError(
                f"rule {rule.id} selects by search, which an ATLAS concept set cannot express; "
                "export as opencodelists instead",
                field=f"rules[{rule.id}]",
            )
        code = rule.concept or rule.code
        items.append(
            {
                "concept": {
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
) -> list[Rule]:
    """Rules that reproduce the codelist in `path`; every code must be in `terminology`."""
    if fmt == "atlas":
        return _rules_from_atlas(path, terminology)
    return _rules_from_csv(path, terminology, "code" if fmt == "opencodelists" else column)


def _term(code: str, terminology: Terminology, path: Path, line: int, field: str) -> str:
    concept = terminology.lookup(code)
    if concept is None:
        raise CodesetFormatError(
            f"code {code} is not in {terminology.release.id}", path=path, line=line, field=field
        )
    return concept.term


def _rules_from_csv(path: Path, terminology: Terminology, column: str) -> list[Rule]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise CodesetFormatError(
                f"no column '{column}' (columns: {', '.join(reader.fieldnames or [])})",
                path=path,
                line=1,
            )
        rules = []
        for line, row in enumerate(reader, start=2):
            code = (row[column] or "").strip()
            if not code:
                raise CodesetFormatError("blank code", path=path, line=line, field=column)
            term = _term(code, terminology, path, line, column)
            rules.append(Rule(id=f"R{len(rules) + 1}", action="include", code=code, term=term))
    if not rules:
        raise CodesetFormatError("no codes", path=path)
    return rules


def _rules_from_atlas(path: Path, terminology: Terminology) -> list[Rule]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CodesetFormatError(
            f"not an ATLAS concept set expression ({exc})", path=path
        ) from None
    rules = []
    for n, item in enumerate(items):
        field = f"items[{n}].concept.CONCEPT_CODE"
        code = str(item.get("concept", {}).get("CONCEPT_CODE", "")).strip()
        if not code:
            raise CodesetFormatError("missing concept code", path=path, field=field)
        if item.get("includeMapped"):
            raise CodesetFormatError(
                "includeMapped is not supported: map the concepts first",
                path=path,
                field=f"items[{n}]",
            )
        term = _term(code, terminology, path, None, field)
        action = "exclude" if item.get("isExcluded") else "include"
        rid = f"R{n + 1}"
        if item.get("includeDescendants"):
            rules.append(Rule(id=rid, action=action, concept=code, term=term, descendants=True))
        else:
            rules.append(Rule(id=rid, action=action, code=code, term=term))
    return rules


def new_codeset(
    codeset_id: str,
    *,
    title: str,
    coding_system: str,
    release: str,
    rules: list[Rule],
    author: str,
    purpose: str,
    source: str | None = None,
    today: dt.date | None = None,
) -> Codeset:
    """A draft codeset (version 0.1.0) with its rules, recording where it came from."""
    today = today or dt.date.today()
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
    return Codeset(
        id=codeset_id,
        title=title,
        version="0.1.0",
        status="draft",
        coding_system=coding_system,
        terminology_release=release,
        purpose=purpose,
        rules=rules,
        authors=[Person(name=author)],
        decisions=decisions,
    )


def write_codeset(folder: Path, codeset: Codeset) -> Path:
    """Write `codeset.yaml` for a new codeset folder (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = codeset.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"id": data.pop("id"), **data}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return write_atomically(folder / CODESET_FILE, text)
