"""FHIR R4 ValueSets: a codeset written as one, and one read back as a draft codeset.

What the kit writes (`valueset`), field by field:

- `url`: `<base>/<id>`, the base a placeholder (`https://example.org/fhir/ValueSet`) until the user
  names their own with `--base-url`; `id` is the codeset's id with `-` for `_`, as FHIR ids allow;
  `identifier`: the codeset's id in the namespace of the base; `name`: the id in CamelCase.
- `title`, `version`, `purpose`; `description` the clinical intent; `status` draft (for a draft or a
  version under review), active (published) or retired; `date` the version's date (its publication,
  else its changelog entry, else its release's date); `publisher` the first author's affiliation (or
  name) and `contact` every author by name.
- `useContext`: the care setting as `venue` and the query as `workflow` (HL7's usage context types),
  each data source as `data-source` of the kit's own context type (`KIT_CONTEXT_TYPE`).
- `compose`: one include of the coding system (`http://snomed.info/sct`, `https://dmd.nhs.uk`,
  `http://hl7.org/fhir/sid/icd-10`) at the release's version. SNOMED CT names the edition's module
  and the date, `http://snomed.info/sct/<module>/version/<date>`, and selects by a `constraint`
  filter holding the codeset's rules as one ECL expression (`ecl.codeset_ecl`, checked to select the
  expansion's active codes; an inactive code the rules name is listed in a second include, since ECL
  selects active concepts only), else by an explicit concept list, as dm+d and ICD-10 always are.
- `expansion`: every code the rules give, with its term (and `inactive` when it is), the release as
  its `version` parameter, and a timestamp at the version's date, so that the same version always
  gives the same file.

The ValueSet is checked against the FHIR R4 model of `fhir.resources` before it is written (8.x holds
R4 as `R4B`, whose ValueSet is R4's), and a file read back is checked against it too, its errors
naming the file and the FHIR path (`compose.include[0].filter[0].value`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from codesetlib.codesets.ecl import codeset_ecl, evaluate_ecl, rules_from_ecl
from codesetlib.codesets.expand import Expansion, code_sort_key
from codesetlib.codesets.fitting import Fit, fit_codes
from codesetlib.codesets.model import Codeset, CodesetRule, ContextOfUse, Person
from codesetlib.core.errors import CodesetError, CodesetFormatError
from codesetlib.core.textfiles import one_line, read_json
from codesetlib.terminology import Release, Terminology, available_releases, open_release

DEFAULT_BASE_URL = "https://example.org/fhir/ValueSet"
SYSTEM_URIS = {
    "snomedct": "http://snomed.info/sct",
    "dmd": "https://dmd.nhs.uk",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
}
CODING_SYSTEMS = {uri: system for system, uri in SYSTEM_URIS.items()}
# The module that names each SNOMED CT edition in a version URI, by the edition a release folder
# is named for; another edition's module is given with --snomed-module.
EDITION_MODULES = {
    "international": "900000000000207008",
    "ukedition": "83821000000107",
    "teaching": "19999999103",
}
SNOMED_VERSION = re.compile(
    r"^http://snomed\.info/sct/(?P<module>\d+)(?:/version/(?P<date>\d{8}))?$"
)
USAGE_CONTEXT_TYPE = "http://terminology.hl7.org/CodeSystem/usage-context-type"
KIT_CONTEXT_TYPE = "urn:codesetlib:usage-context-type"
STATUS = {"draft": "draft", "review": "draft", "published": "active", "retired": "retired"}
FILTER_OPS = {"is-a", "descendent-of", "="}


def fhir_id(codeset_id: str) -> str:
    """A FHIR resource id for a codeset id (FHIR ids allow `-` and `.`, not `_`)."""
    return codeset_id.replace("_", "-")


def fhir_name(codeset_id: str) -> str:
    """A computer-usable FHIR name: the id in CamelCase, starting with a capital letter."""
    name = "".join(part[:1].upper() + part[1:] for part in codeset_id.split("_"))
    return name if name[:1].isalpha() else "Codeset" + name


def release_version(release: Release, snomed_module: str | None = None) -> str:
    """The release as a FHIR code system version: for SNOMED CT the edition's module and the date."""
    if release.system != "snomedct":
        return release.version
    module = snomed_module or EDITION_MODULES.get(release.edition.lower())
    if module is None:
        raise CodesetFormatError(
            f"the module of SNOMED CT edition '{release.edition}' ({release.id}) is not known to "
            "the kit; give it with --snomed-module (e.g. 83821000000107 for the UK Edition)",
            field="terminology_release",
        )
    return f"http://snomed.info/sct/{module}/version/{release.version}"


def version_date(codeset: Codeset, release: Release) -> dt.date:
    """The date a version carries: its publication, else its changelog entry, else its release's."""
    if codeset.published is not None:
        return codeset.published.date
    entry = next((c for c in codeset.changelog if c.version == codeset.version), None)
    if entry is not None:
        return entry.date
    # A release is versioned by its date (20240401) or, for ICD-10, its year (2019).
    digits = re.match(r"\d{4}(\d{4})?", release.version)
    try:
        if digits and digits[1]:
            return dt.datetime.strptime(digits[0], "%Y%m%d").date()
        if digits:
            return dt.date(int(digits[0]), 1, 1)
    except ValueError:
        pass
    raise CodesetFormatError(
        f"version {codeset.version} has no date (no publication or changelog entry) and release "
        f"{release.id} is not versioned by a date; add a changelog entry",
        field="changelog",
    )


def _use_context(context: ContextOfUse | None) -> list[dict]:
    if context is None:
        return []

    def entry(system: str, code: str, text: str) -> dict:
        return {"code": {"system": system, "code": code}, "valueCodeableConcept": {"text": text}}

    return [
        entry(USAGE_CONTEXT_TYPE, "venue", context.care_setting),
        entry(USAGE_CONTEXT_TYPE, "workflow", context.query),
        *(entry(KIT_CONTEXT_TYPE, "data-source", source) for source in context.data_sources),
    ]


def _codeset_ecl(
    codeset: Codeset, expansion: Expansion, terminology: Terminology, notes: list[str]
) -> str | None:
    """The codeset's rules as ECL, checked to select the expansion's active codes; None (and a
    note) when the ECL module cannot write them or what it writes selects other codes."""
    try:
        expression = codeset_ecl(codeset, terminology)
        selected = evaluate_ecl(expression, terminology)
    except CodesetError as exc:
        notes.append(f"the rules are written as a list of concepts, not ECL: {exc.message}")
        return None
    active = {row.code for row in expansion.codes if row.active}
    if selected != active:
        notes.append(
            "the rules are written as a list of concepts, not ECL: the ECL written for them "
            f"selects {len(selected ^ active)} code(s) the expansion does not agree on"
        )
        return None
    return expression


def valueset(
    codeset: Codeset,
    expansion: Expansion,
    *,
    base_url: str = DEFAULT_BASE_URL,
    snomed_module: str | None = None,
    use_ecl: bool = True,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The codeset as a FHIR R4 ValueSet (a JSON object), checked against the FHIR model. What the
    kit chose to write otherwise than asked is added to `notes`."""
    notes = [] if notes is None else notes
    if codeset.coding_system not in SYSTEM_URIS:
        raise CodesetFormatError(
            f"a {codeset.coding_system} codeset has no FHIR code system the kit writes "
            f"(it writes {', '.join(SYSTEM_URIS)})",
            field="coding_system",
        )
    base = base_url.rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
        raise CodesetFormatError(
            f"base URL {one_line(base_url)[:80]!r} is not an absolute http(s) URL without spaces, "
            "query or fragment (e.g. https://example.org/fhir/ValueSet)",
            field="base_url",
        )
    terminology = open_release(expansion.release)
    release = terminology.release
    system = SYSTEM_URIS[codeset.coding_system]
    version = release_version(release, snomed_module)
    date = version_date(codeset, release)
    include: dict[str, Any] = {"system": system, "version": version}
    includes = [include]
    ecl = None
    if use_ecl and codeset.coding_system == "snomedct":
        ecl = _codeset_ecl(codeset, expansion, terminology, notes)
    if ecl is not None:
        include["filter"] = [{"property": "constraint", "op": "=", "value": ecl}]
        # ECL selects active concepts; an inactive code the rules name is listed beside it.
        inactive = [row for row in expansion.codes if not row.active]
        if inactive:
            concepts = [{"code": row.code, "display": row.term} for row in inactive]
            includes.append({"system": system, "version": version, "concept": concepts})
    else:
        include["concept"] = [{"code": row.code, "display": row.term} for row in expansion.codes]
    document: dict[str, Any] = {
        "resourceType": "ValueSet",
        "id": fhir_id(codeset.id),
        "url": f"{base}/{fhir_id(codeset.id)}",
        "identifier": [{"system": base, "value": codeset.id}],
        "version": codeset.version,
        "name": fhir_name(codeset.id),
        "title": codeset.title,
        "status": STATUS[codeset.status],
        "date": date.isoformat(),
        "publisher": codeset.authors[0].affiliation or codeset.authors[0].name,
        "contact": [{"name": person.name} for person in codeset.authors],
        "description": codeset.clinical_intent,
        "useContext": _use_context(codeset.context_of_use) or None,
        "purpose": codeset.purpose,
        "compose": {"include": includes},
        "expansion": {
            "timestamp": f"{date.isoformat()}T00:00:00Z",
            "total": len(expansion.codes),
            "parameter": [{"name": "version", "valueUri": f"{system}|{version}"}],
            "contains": [
                {"system": system, "code": row.code, "display": row.term}
                | ({} if row.active else {"inactive": True})
                for row in expansion.codes
            ],
        },
    }
    document = {k: v for k, v in document.items() if v is not None}
    _validated(document, None)
    return document


def export_fhir(
    codeset: Codeset,
    expansion: Expansion,
    *,
    base_url: str = DEFAULT_BASE_URL,
    snomed_module: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """The codeset as a FHIR R4 ValueSet in JSON."""
    document = valueset(
        codeset, expansion, base_url=base_url, snomed_module=snomed_module, notes=notes
    )
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def fhir_path(location: tuple[int | str, ...]) -> str:
    """A pydantic error location as a FHIR path: `compose.include[0].filter[0].value`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _validated(document: object, path: Path | None) -> Any:
    """The FHIR R4 ValueSet model of `document`; a failure names the FHIR path of the first error
    (for a file read, the file; for one written, the kit's own fault in what it made)."""
    from fhir.resources.R4B.valueset import ValueSet

    try:
        return ValueSet.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = fhir_path(tuple(first["loc"])) or "ValueSet"
        problem = f"not a valid FHIR R4 ValueSet: {where}: {first['msg']}"
        if len(exc.errors()) > 1:
            problem += f" (and {len(exc.errors()) - 1} more)"
        if path is None:
            problem = f"the ValueSet made for the codeset is {problem}"
        raise CodesetFormatError(problem, path=path, field=where) from None


@dataclass(frozen=True)
class Selection:
    """One include or exclude of a ValueSet's compose, as the kit reads it."""

    where: str
    system: str
    version: str | None
    codes: list[tuple[str, str]] = field(default_factory=list)  # (code, its FHIR path)
    filters: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # property, op, value, path


@dataclass(frozen=True)
class ReadValueSet:
    """What a FHIR ValueSet file says: its metadata, its compose and the codes its expansion lists."""

    path: Path
    document: dict[str, Any]
    includes: list[Selection]
    excludes: list[Selection]
    expansion: list[tuple[str, str]]  # (code, system) of expansion.contains

    @property
    def systems(self) -> set[str]:
        found = {s.system for s in [*self.includes, *self.excludes]}
        return found or {system for _, system in self.expansion}


def _load_json(path: Path) -> object:
    return read_json(path, CodesetFormatError, "a FHIR ValueSet")


def _selection(part: Any, where: str, path: Path) -> Selection:
    if part.valueSet:
        raise CodesetFormatError(
            "includes another ValueSet by reference, which the kit cannot resolve: import that "
            "ValueSet's own file",
            path=path,
            field=f"{where}.valueSet",
        )
    if not part.system:
        raise CodesetFormatError("names no code system", path=path, field=f"{where}.system")
    if part.system not in CODING_SYSTEMS:
        raise CodesetFormatError(
            f"code system {one_line(part.system)[:80]} is not one the kit reads "
            f"({', '.join(CODING_SYSTEMS)})",
            path=path,
            field=f"{where}.system",
        )
    if part.concept and part.filter:
        raise CodesetFormatError(
            "has both concepts and filters, which FHIR does not allow in one include",
            path=path,
            field=where,
        )
    if not part.concept and not part.filter:
        raise CodesetFormatError(
            "selects every code of the code system; name concepts or a filter",
            path=path,
            field=where,
        )
    filters = []
    for n, item in enumerate(part.filter or []):
        at = f"{where}.filter[{n}]"
        allowed = (item.property == "constraint" and item.op == "=") or (
            item.property == "concept" and item.op in FILTER_OPS
        )
        if not allowed:
            raise CodesetFormatError(
                f"filter '{one_line(item.property)[:40]} {one_line(item.op)[:20]}' is not one the "
                "kit reads (concept is-a, concept descendent-of, concept =, constraint =)",
                path=path,
                field=at,
            )
        filters.append((item.property, item.op, item.value.strip(), f"{at}.value"))
    codes = [
        (c.code.strip(), f"{where}.concept[{n}].code") for n, c in enumerate(part.concept or [])
    ]
    return Selection(where, CODING_SYSTEMS[part.system], part.version, codes, filters)


def read_valueset(path: Path) -> ReadValueSet:
    """Read and validate a FHIR R4 ValueSet file (JSON), refusing what the kit cannot import."""
    document = _load_json(path)
    if not isinstance(document, dict) or document.get("resourceType") != "ValueSet":
        found = document.get("resourceType") if isinstance(document, dict) else None
        raise CodesetFormatError(
            "not a FHIR ValueSet: expected an object with resourceType ValueSet"
            + (f", found {one_line(str(found))[:40]}" if found else ""),
            path=path,
            field="resourceType",
        )
    model = _validated(document, path)
    if model.status not in ("draft", "active", "retired", "unknown"):
        raise CodesetFormatError(
            f"status {one_line(str(model.status))[:40]} is not draft, active, retired or unknown",
            path=path,
            field="status",
        )
    includes, excludes = [], []
    if model.compose is not None:
        includes = [
            _selection(part, f"compose.include[{n}]", path)
            for n, part in enumerate(model.compose.include)
        ]
        excludes = [
            _selection(part, f"compose.exclude[{n}]", path)
            for n, part in enumerate(model.compose.exclude or [])
        ]
    expansion = []
    if model.expansion is not None:
        for n, entry in enumerate(model.expansion.contains or []):
            if entry.contains:
                raise CodesetFormatError(
                    "a nested expansion is not read by the kit; flatten it",
                    path=path,
                    field=f"expansion.contains[{n}].contains",
                )
            if entry.code and entry.system in CODING_SYSTEMS:
                expansion.append((entry.code.strip(), CODING_SYSTEMS[entry.system]))
            elif entry.code:
                raise CodesetFormatError(
                    f"code system {one_line(str(entry.system))[:80]} is not one the kit reads",
                    path=path,
                    field=f"expansion.contains[{n}].system",
                )
    if not includes and not expansion:
        raise CodesetFormatError(
            "the ValueSet has neither a compose nor an expanded list of codes: nothing to import",
            path=path,
            field="compose",
        )
    return ReadValueSet(path, document, includes, excludes, expansion)


def _release_named(read: ReadValueSet, system: str) -> str | None:
    """The id of the release a ValueSet's compose names by its version, if the kit has exactly one."""
    versions = {s.version for s in [*read.includes, *read.excludes] if s.version}
    if len(versions) != 1:
        return None
    version = versions.pop()
    found = []
    for release in available_releases().values():
        if release.system != system:
            continue
        if system == "snomedct":
            match = SNOMED_VERSION.match(version)
            module = EDITION_MODULES.get(release.edition.lower())
            if match and match["module"] == module and match["date"] == release.version:
                found.append(release.id)
        elif version == release.version:
            found.append(release.id)
    return found[0] if len(found) == 1 else None


def release_for(read: ReadValueSet, release_id: str | None) -> Terminology:
    """The release to read the ValueSet in: the one named, else the one its compose's version names."""
    systems = read.systems
    if len(systems) != 1:
        raise CodesetFormatError(
            f"the ValueSet mixes code systems ({', '.join(sorted(systems))}); a codeset has one",
            path=read.path,
            field="compose",
        )
    system = systems.pop()
    release_id = release_id or _release_named(read, system)
    if release_id is None:
        raise CodesetFormatError(
            f"cannot tell which {system} release the ValueSet's version names; name one with "
            "--release",
            path=read.path,
            field="compose.include[0].version",
        )
    terminology = open_release(release_id)
    if terminology.system != system:
        raise CodesetFormatError(
            f"release {release_id} is {terminology.system}, but the ValueSet's codes are {system}",
            path=read.path,
            field="compose.include[0].system",
        )
    return terminology


def _ecl_rules(ecl: str, terminology: Terminology, path: Path, where: str) -> list[CodesetRule]:
    """Rules for an ECL expression, from the ECL module; its errors name the FHIR path."""
    try:
        return rules_from_ecl(ecl, terminology)
    except CodesetError as exc:
        raise CodesetFormatError(exc.message, path=path, field=where) from None


def _ecl_codes(ecl: str, terminology: Terminology, path: Path, where: str) -> set[str]:
    """The codes an ECL expression selects, from the ECL module; its errors name the FHIR path."""
    try:
        return set(evaluate_ecl(ecl, terminology))
    except CodesetError as exc:
        raise CodesetFormatError(exc.message, path=path, field=where) from None


def _selected_codes(part: Selection, terminology: Terminology, path: Path) -> set[str]:
    if part.codes:
        found = set()
        for code, where in part.codes:
            concept = terminology.lookup(terminology.normalise(code))
            if concept is None:
                raise CodesetFormatError(
                    terminology.missing(one_line(code)).message, path=path, field=where
                )
            found.add(concept.code)
        return found
    selected: set[str] | None = None
    for prop, op, value, where in part.filters:
        if prop == "constraint":
            matched = _ecl_codes(value, terminology, path, where)
        else:
            concept = terminology.lookup(terminology.normalise(value))
            if concept is None:
                raise CodesetFormatError(
                    terminology.missing(one_line(value)).message, path=path, field=where
                )
            below = set(terminology.descendants_of(concept.code))
            matched = {"is-a": below | {concept.code}, "descendent-of": below}.get(
                op, {concept.code}
            )
        # Every filter of one include must hold (FHIR), so their codes are intersected.
        selected = matched if selected is None else selected & matched
    return selected or set()


@dataclass(frozen=True)
class ImportedValueSet:
    """A ValueSet read as a codeset's rules: from its ECL when it holds one, else fitted to its
    codes; with the metadata it carries and what the kit noticed on the way."""

    rules: list[CodesetRule]
    fit: Fit | None
    metadata: dict[str, Any]
    notes: list[str]


def _ecl_compose(read: ReadValueSet) -> tuple[str, str, list[Selection]] | None:
    """When the compose is one ECL constraint (one include of one `constraint` filter) with, at
    most, includes listing concepts beside it (inactive codes, which ECL does not select) and no
    exclude: the ECL, its FHIR path and those other includes."""
    if read.excludes:
        return None
    with_ecl = [p for p in read.includes if p.filters]
    if len(with_ecl) != 1 or len(with_ecl[0].filters) != 1:
        return None
    prop, _, value, where = with_ecl[0].filters[0]
    if prop != "constraint":
        return None
    return value, where, [p for p in read.includes if p is not with_ecl[0]]


def _context_of_use(document: dict[str, Any]) -> ContextOfUse | None:
    found: dict[str, list[str]] = {}
    for entry in document.get("useContext", []):
        code = entry.get("code", {}).get("code")
        text = entry.get("valueCodeableConcept", {}).get("text")
        if code and text:
            found.setdefault(code, []).append(text)
    if "venue" not in found or "workflow" not in found:
        return None
    return ContextOfUse(
        care_setting=found["venue"][0],
        query=found["workflow"][0],
        data_sources=found.get("data-source", []),
    )


def metadata_of(read: ReadValueSet) -> dict[str, Any]:
    """The codeset fields a ValueSet's metadata fill: title, purpose, clinical intent, context of
    use and authors (its contacts)."""
    document = read.document
    found: dict[str, Any] = {}
    if document.get("title") or document.get("name"):
        found["title"] = document.get("title") or document["name"]
    if document.get("purpose"):
        found["purpose"] = document["purpose"]
    if document.get("description"):
        found["clinical_intent"] = document["description"]
    context = _context_of_use(document)
    if context is not None:
        found["context_of_use"] = context
    names = [c["name"] for c in document.get("contact", []) if c.get("name")]
    if names:
        found["authors"] = [Person(name=name) for name in names]
    return found


def import_valueset(read: ReadValueSet, terminology: Terminology) -> ImportedValueSet:
    """Rules for a ValueSet in `terminology`: the ECL engine's when its compose is one ECL
    constraint, else the fewest hierarchy rules fitted to the codes its compose (or, without one,
    its expansion) selects. Codes the expansion lists that the compose does not give in this release
    are noted, as are codes of the compose the release lacks."""
    path = read.path
    notes: list[str] = []
    fit: Fit | None = None
    ecl = _ecl_compose(read)
    if ecl is not None:
        expression, where, beside = ecl
        rules = _ecl_rules(expression, terminology, path, where)
        codes = _ecl_codes(expression, terminology, path, where)
        notes.append(f"read the ValueSet's ECL constraint as {len(rules)} rule(s)")
        for part in beside:
            for code in sorted(_selected_codes(part, terminology, path) - codes, key=code_sort_key):
                concept = terminology.concept(code)
                rules.append(
                    CodesetRule(
                        id=f"R{len(rules) + 1}", action="include", code=code, term=concept.term
                    )
                )
                codes.add(code)
    else:
        if read.includes:
            codes = set().union(*(_selected_codes(p, terminology, path) for p in read.includes))
            for part in read.excludes:
                codes -= _selected_codes(part, terminology, path)
        else:
            codes = {code for code, _ in read.expansion}
        fit = fit_codes(sorted(codes, key=code_sort_key), terminology)
        if fit.not_in_release:
            raise CodesetFormatError(
                f"{len(fit.not_in_release)} code(s) of the expansion are not in "
                f"{terminology.release.id}: {', '.join(fit.not_in_release[:5])}",
                path=path,
                field="expansion.contains",
            )
        if not fit.exact:  # the fit checks itself; a difference is the kit's fault, said plainly
            raise CodesetFormatError(
                "the fitted rules do not give the ValueSet's codes", path=path, field="compose"
            )
        rules = fit.rules
    if not codes:
        raise CodesetFormatError("the ValueSet selects no codes", path=path, field="compose")
    if read.includes and read.expansion:
        expanded = {terminology.normalise(code) for code, _ in read.expansion}
        extra = sorted(expanded - codes, key=code_sort_key)
        missing = sorted(codes - expanded, key=code_sort_key)
        if extra:
            notes.append(
                f"{len(extra)} code(s) of the ValueSet's expansion are not selected by its compose "
                f"in {terminology.release.id}, and are not imported: {', '.join(extra[:5])}"
            )
        if missing:
            notes.append(
                f"{len(missing)} code(s) the compose selects in {terminology.release.id} are not in "
                f"the ValueSet's expansion (made in another release?): {', '.join(missing[:5])}"
            )
    return ImportedValueSet(rules, fit, metadata_of(read), notes)
