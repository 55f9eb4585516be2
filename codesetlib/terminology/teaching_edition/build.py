"""Build the teaching SNOMED CT and dm+d releases from their human-readable sources.

`source/snomedct_concepts.csv` holds one row per concept (terms, parents, provenance and history);
`build_snomedct_releases` turns it into two RF2 Snapshot releases laid out as NHS England ships them,
and `build_dmd_releases` turns `source/dmd.xml` into two dm+d XML releases. The output is derived:
the same source always gives byte-identical files (fixed effective times, sorted rows, identifiers
numbered in source order and uuid5 refset member ids), so edit the source and rebuild, never the
output. Run `codeset teaching-edition [OUT_DIR]`.
"""

from __future__ import annotations

import csv
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from stdnum import verhoeff

from codesetlib.core.csvfiles import require_columns
from codesetlib.core.errors import TerminologyError
from codesetlib.terminology.identifiers import dmd_id_problem, sctid_problem

HERE = Path(__file__).parent
SNOMEDCT_SOURCE = HERE / "source" / "snomedct_concepts.csv"
DMD_SOURCE = HERE / "source" / "dmd.xml"
SHIPPED_RELEASES = HERE / "releases"

RELEASES = ("20240401", "20250401")
NAMESPACE = "9999999"  # the extension namespace used for every invented identifier
EDITION = "TEACH"

ROOT = "138875005"
IS_A = "116680003"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
PRIMITIVE = "900000000000074008"
INFERRED = "900000000000011006"
EXISTENTIAL = "900000000000451002"
CASE_INSENSITIVE = "900000000000448009"
INITIAL_CHARACTER_INSENSITIVE = "900000000000020002"
GB_LANGUAGE = "999001261000000100"
PREFERRED = "900000000000548007"
ACCEPTABLE = "900000000000549004"
CORE_MODULE = "900000000000207008"
MODEL_MODULE = "900000000000012004"
UK_CLINICAL_MODULE = "999000011000000103"
ASSOCIATION_REFSETS = {
    "REPLACED_BY": "900000000000526001",
    "SAME_AS": "900000000000527005",
    "POSSIBLY_EQUIVALENT_TO": "900000000000523009",
}
SINGLE_TARGET = {"REPLACED_BY", "SAME_AS"}
MEMBER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "codesetlib:teaching-edition")

COLUMNS = [
    "concept_id",
    "fsn",
    "preferred_term",
    "synonyms",
    "parents",
    "synthetic",
    "source",
    "domain",
    "added_in",
    "inactivated_in",
    "replaced_by",
    "association",
]

# ----------------------------------------------------------------------------- identifiers


def verhoeff_check_digit(body: str) -> str:
    """The Verhoeff check digit that completes `body` (python-stdnum, as the loaders use)."""
    return verhoeff.calc_check_digit(body)


def extension_id(item: int, partition: str) -> str:
    """An identifier in the teaching namespace: item, namespace, partition and check digit."""
    body = f"{item}{NAMESPACE}{partition}"
    return body + verhoeff_check_digit(body)


def in_teaching_namespace(code: str) -> bool:
    """True for an extension identifier in the teaching namespace (partition 1x)."""
    return len(code) > 10 and code[-3] == "1" and code[-10:-3] == NAMESPACE


TEACHING_MODULE = extension_id(1, "10")


def module_of(code: str) -> str:
    """The module a component belongs to, read from its identifier.

    Invented components are in the teaching module, UK extension concepts (namespace 1000000) in the
    UK clinical extension module, metadata concepts in the model component module and the rest in
    the International core module.
    """
    if in_teaching_namespace(code):
        return TEACHING_MODULE
    if code.startswith("9000000000000"):
        return MODEL_MODULE
    if code[-3] == "1" and code[-10:-3] == "1000000":
        return UK_CLINICAL_MODULE
    return CORE_MODULE


# ----------------------------------------------------------------------------- the source


@dataclass(frozen=True)
class SourceConcept:
    """One row of the concept source: a concept, its terms, parents, provenance and history."""

    line: int
    concept_id: str
    fsn: str
    preferred_term: str
    synonyms: tuple[str, ...]
    parents: tuple[str, ...]
    synthetic: bool
    source: str
    domain: str
    added_in: str
    inactivated_in: str
    replaced_by: tuple[str, ...]
    association: str

    def in_release(self, release: str) -> bool:
        """True when the concept exists (active or not) in `release`."""
        return self.added_in <= release

    def active_in(self, release: str) -> bool:
        """True when the concept is in `release` and not yet inactivated there."""
        inactive = bool(self.inactivated_in) and self.inactivated_in <= release
        return self.in_release(release) and not inactive

    def effective_time(self, release: str) -> str:
        """The effective time of the concept's latest change as seen from `release`."""
        return self.added_in if self.active_in(release) else self.inactivated_in

    def terms(self) -> list[tuple[str, str, str]]:
        """(type id, term, acceptability) for the FSN, the preferred term and each synonym."""
        found = [(FSN, self.fsn, PREFERRED), (SYNONYM, self.preferred_term, PREFERRED)]
        return found + [(SYNONYM, term, ACCEPTABLE) for term in self.synonyms]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def read_source(path: Path = SNOMEDCT_SOURCE) -> list[SourceConcept]:
    """The rows of the concept source CSV, with their line numbers."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        require_columns(reader.fieldnames, COLUMNS, path, TerminologyError)
        return [_source_row(line, row) for line, row in enumerate(reader, start=2)]


def _source_row(line: int, row: dict[str, str]) -> SourceConcept:
    return SourceConcept(
        line=line,
        concept_id=row["concept_id"].strip(),
        fsn=row["fsn"].strip(),
        preferred_term=row["preferred_term"].strip(),
        synonyms=_split(row["synonyms"]),
        parents=_split(row["parents"]),
        synthetic=row["synthetic"].strip() == "1",
        source=row["source"].strip(),
        domain=row["domain"].strip(),
        added_in=row["added_in"].strip(),
        inactivated_in=row["inactivated_in"].strip(),
        replaced_by=_split(row["replaced_by"]),
        association=row["association"].strip(),
    )


# ----------------------------------------------------------------------------- verification


class _Refusal:
    """Raises a TerminologyError that names the source file, the line and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, row: SourceConcept, field: str, message: str) -> TerminologyError:
        return TerminologyError(message, path=self.path, line=row.line, field=field)


def verify_source(rows: list[SourceConcept], path: Path = SNOMEDCT_SOURCE) -> None:
    """Refuse a source with a bad identifier, a duplicate, a dangling parent or target, or a cycle.

    Checks every row on its own, then each release as a whole (parents and replacement targets must
    exist and be active in every release where they are used), then the is-a graph for cycles.
    """
    refuse = _Refusal(path)
    seen: dict[str, SourceConcept] = {}
    names: dict[str, SourceConcept] = {}
    for row in rows:
        _verify_row(row, refuse)
        if row.concept_id in seen:
            first = seen[row.concept_id].line
            raise refuse(row, "concept_id", f"{row.concept_id} duplicates line {first}")
        if row.fsn in names:
            raise refuse(row, "fsn", f"'{row.fsn}' duplicates line {names[row.fsn].line}")
        seen[row.concept_id] = row
        names[row.fsn] = row
    for release in RELEASES:
        _verify_release(rows, seen, release, refuse)
    _verify_acyclic(rows, seen, refuse)


def _verify_row(row: SourceConcept, refuse: _Refusal) -> None:
    problem = sctid_problem(row.concept_id)
    if problem:
        raise refuse(row, "concept_id", f"{row.concept_id}: {problem}")
    if row.synthetic != in_teaching_namespace(row.concept_id):
        raise refuse(
            row, "synthetic", f"synthetic concepts, and only they, use namespace {NAMESPACE}"
        )
    if row.synthetic != (row.source == "synthetic") or not row.source:
        raise refuse(row, "source", "give a citation for a real identifier, 'synthetic' otherwise")
    if not row.fsn.endswith(")") or " (" not in row.fsn:
        raise refuse(row, "fsn", f"'{row.fsn}' has no semantic tag")
    if not row.preferred_term:
        raise refuse(row, "preferred_term", "is empty")
    _verify_dates(row, refuse)
    _verify_history(row, refuse)


def _verify_dates(row: SourceConcept, refuse: _Refusal) -> None:
    if row.added_in not in RELEASES:
        raise refuse(row, "added_in", f"'{row.added_in}' is not one of {', '.join(RELEASES)}")
    if row.inactivated_in and row.inactivated_in not in RELEASES:
        raise refuse(row, "inactivated_in", f"'{row.inactivated_in}' is not a release date")
    if row.inactivated_in and row.inactivated_in < row.added_in:
        raise refuse(row, "inactivated_in", "is before added_in")
    if (row.concept_id == ROOT) != (not row.parents):
        raise refuse(row, "parents", "every concept but the root needs a parent")


def _verify_history(row: SourceConcept, refuse: _Refusal) -> None:
    if row.replaced_by and not row.inactivated_in:
        raise refuse(row, "replaced_by", "only an inactivated concept has replacements")
    if bool(row.replaced_by) != bool(row.association):
        raise refuse(row, "association", "give an association exactly when replaced_by is set")
    if row.association and row.association not in ASSOCIATION_REFSETS:
        known = ", ".join(ASSOCIATION_REFSETS)
        raise refuse(row, "association", f"'{row.association}' is not one of {known}")
    if row.association in SINGLE_TARGET and len(row.replaced_by) != 1:
        raise refuse(row, "replaced_by", f"{row.association} takes exactly one target")


def _verify_release(
    rows: list[SourceConcept], by_id: dict[str, SourceConcept], release: str, refuse: _Refusal
) -> None:
    for row in rows:
        if not row.in_release(release):
            continue
        if row.active_in(release):
            for parent in row.parents:
                _require_active(row, "parents", parent, by_id, release, refuse)
        elif row.inactivated_in <= release:
            for target in row.replaced_by:
                _require_active(row, "replaced_by", target, by_id, release, refuse)


def _require_active(
    row: SourceConcept,
    field: str,
    code: str,
    by_id: dict[str, SourceConcept],
    release: str,
    refuse: _Refusal,
) -> None:
    other = by_id.get(code)
    if other is None or not other.in_release(release):
        raise refuse(row, field, f"{code} does not exist in release {release}")
    if not other.active_in(release):
        raise refuse(row, field, f"{code} is inactive in release {release}")


def _verify_acyclic(
    rows: list[SourceConcept], by_id: dict[str, SourceConcept], refuse: _Refusal
) -> None:
    done: set[str] = set()
    for row in rows:
        _walk_up(row.concept_id, by_id, done, [], refuse)


def _walk_up(
    code: str, by_id: dict[str, SourceConcept], done: set[str], path: list[str], refuse: _Refusal
) -> None:
    if code in done:
        return
    if code in path:
        cycle = " -> ".join([*path[path.index(code) :], code])
        raise refuse(by_id[code], "parents", f"is-a cycle: {cycle}")
    for parent in by_id[code].parents:
        if parent in by_id:
            _walk_up(parent, by_id, done, [*path, code], refuse)
    done.add(code)


# ----------------------------------------------------------------------------- RF2 rows


@dataclass(frozen=True)
class Rf2Rows:
    """The rows of one RF2 Snapshot release, each file as a sorted list of field tuples."""

    concepts: list[tuple[str, ...]]
    descriptions: list[tuple[str, ...]]
    relationships: list[tuple[str, ...]]
    language: list[tuple[str, ...]]
    associations: list[tuple[str, ...]]


def _numbered(rows: list[SourceConcept]) -> Iterator[SourceConcept]:
    """Rows in identifier order, so that generated identifiers do not depend on the CSV order."""
    return iter(sorted(rows, key=lambda r: int(r.concept_id)))


def description_ids(rows: list[SourceConcept]) -> dict[tuple[str, int], str]:
    """Description identifiers by (concept id, position among its terms), numbered over all rows.

    Numbering runs over every concept of every release, so a description keeps its identifier from
    one release to the next.
    """
    ids: dict[tuple[str, int], str] = {}
    for row in _numbered(rows):
        for position in range(len(row.terms())):
            ids[(row.concept_id, position)] = extension_id(len(ids) + 1, "11")
    return ids


def relationship_ids(rows: list[SourceConcept]) -> dict[tuple[str, str], str]:
    """Is-a relationship identifiers by (source, destination), numbered over all rows."""
    ids: dict[tuple[str, str], str] = {}
    for row in _numbered(rows):
        for parent in sorted(row.parents, key=int):
            ids[(row.concept_id, parent)] = extension_id(len(ids) + 1, "12")
    return ids


def case_significance(term: str) -> str:
    """Case significance: initial character insensitive when a later letter is upper case."""
    return INITIAL_CHARACTER_INSENSITIVE if any(c.isupper() for c in term[1:]) else CASE_INSENSITIVE


def member_id(*parts: str) -> str:
    """A reference set member id that is the same on every build (uuid5 of what it records)."""
    return str(uuid.uuid5(MEMBER_NAMESPACE, ":".join(parts)))


def rf2_rows(rows: list[SourceConcept], release: str) -> Rf2Rows:
    """Every row of every file of `release`, sorted."""
    present = [row for row in _numbered(rows) if row.in_release(release)]
    descriptions, language = _description_rows(rows, present)
    return Rf2Rows(
        concepts=[_concept_row(row, release) for row in present],
        descriptions=descriptions,
        relationships=_relationship_rows(rows, present, release),
        language=sorted(language),
        associations=sorted(_association_rows(present, release)),
    )


def _concept_row(row: SourceConcept, release: str) -> tuple[str, ...]:
    active = "1" if row.active_in(release) else "0"
    time = row.effective_time(release)
    return (row.concept_id, time, active, module_of(row.concept_id), PRIMITIVE)


def _description_rows(
    rows: list[SourceConcept], present: list[SourceConcept]
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    ids = description_ids(rows)
    descriptions, language = [], []
    for row in present:
        for position, (type_id, term, acceptability) in enumerate(row.terms()):
            did = ids[(row.concept_id, position)]
            module = module_of(did)
            descriptions.append(
                (did, row.added_in, "1", module, row.concept_id, "en", type_id, term,
                 case_significance(term))
            )  # fmt: skip
            language.append(
                (member_id("language", GB_LANGUAGE, did), row.added_in, "1", module, GB_LANGUAGE,
                 did, acceptability)
            )  # fmt: skip
    return descriptions, language


def _relationship_rows(
    rows: list[SourceConcept], present: list[SourceConcept], release: str
) -> list[tuple[str, ...]]:
    ids = relationship_ids(rows)
    found = []
    for row in present:
        active = "1" if row.active_in(release) else "0"
        time = row.effective_time(release)
        for parent in sorted(row.parents, key=int):
            rid = ids[(row.concept_id, parent)]
            found.append(
                (rid, time, active, module_of(rid), row.concept_id, parent, "0", IS_A, INFERRED,
                 EXISTENTIAL)
            )  # fmt: skip
    return found


def _association_rows(present: list[SourceConcept], release: str) -> Iterator[tuple[str, ...]]:
    for row in present:
        if row.active_in(release) or not row.replaced_by:
            continue
        refset = ASSOCIATION_REFSETS[row.association]
        for target in row.replaced_by:
            uid = member_id("association", refset, row.concept_id, target)
            yield (uid, row.inactivated_in, "1", TEACHING_MODULE, refset, row.concept_id, target)


# ----------------------------------------------------------------------------- writing RF2

HEADERS = {
    "concepts": ("id", "effectiveTime", "active", "moduleId", "definitionStatusId"),
    "descriptions": (
        "id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
        "caseSignificanceId",
    ),
    "relationships": (
        "id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId",
        "relationshipGroup", "typeId", "characteristicTypeId", "modifierId",
    ),
    "language": (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId",
        "acceptabilityId",
    ),
    "associations": (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId",
        "targetComponentId",
    ),
}  # fmt: skip


def release_folder_name(release: str) -> str:
    """The release package folder, named as NHS England names its RF2 packages."""
    return f"SnomedCT_TeachingRF2_PRODUCTION_{release}T120000Z"


def release_files(folder: Path, release: str) -> dict[str, Path]:
    """Where each RF2 file of `release` goes inside its package folder."""
    terminology = folder / "Snapshot" / "Terminology"
    refset = folder / "Snapshot" / "Refset"
    suffix = f"{EDITION}_{release}.txt"
    return {
        "concepts": terminology / f"sct2_Concept_Snapshot_{suffix}",
        "descriptions": terminology / f"sct2_Description_Snapshot-en_{suffix}",
        "relationships": terminology / f"sct2_Relationship_Snapshot_{suffix}",
        "language": refset / "Language" / f"der2_cRefset_LanguageSnapshot-en_{suffix}",
        "associations": refset / "Content" / f"der2_cRefset_AssociationSnapshot_{suffix}",
    }


def write_rf2_file(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Write a tab-separated RF2 file with CRLF line endings, as RF2 releases are published."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header), *("\t".join(row) for row in rows)]
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))


def write_snomedct_release(rows: list[SourceConcept], release: str, out_dir: Path) -> Path:
    """Write one RF2 Snapshot release under `out_dir/snomedct/` and return its package folder."""
    folder = out_dir / "snomedct" / release_folder_name(release)
    content = rf2_rows(rows, release)
    for name, path in release_files(folder, release).items():
        write_rf2_file(path, HEADERS[name], getattr(content, name))
    return folder


def build_snomedct_releases(out_dir: Path, source: Path = SNOMEDCT_SOURCE) -> list[Path]:
    """Verify the concept source and write every teaching RF2 release; return the package folders."""
    rows = read_source(source)
    verify_source(rows, source)
    return [write_snomedct_release(rows, release, out_dir) for release in RELEASES]


# ----------------------------------------------------------------------------- dm+d

# Each dm+d table: (element, id attribute, file stem, root element, wrapper element, fields).
DMD_TABLES = (
    ("VTM", "VTMID", "f_vtm2", "VIRTUAL_THERAPEUTIC_MOIETIES", None, ("VTMID", "INVALID", "NM")),
    ("VMP", "VPID", "f_vmp2", "VIRTUAL_MED_PRODUCTS", "VMPS", ("VPID", "VTMID", "INVALID", "NM")),
    (
        "AMP", "APID", "f_amp2", "ACTUAL_MEDICINAL_PRODUCTS", "AMPS",
        ("APID", "INVALID", "VPID", "NM", "DESC", "SUPPCD"),
    ),
    (
        "VMPP", "VPPID", "f_vmpp2", "VIRTUAL_MED_PRODUCT_PACK", "VMPPS",
        ("VPPID", "INVALID", "NM", "VPID", "QTYVAL"),
    ),
    (
        "AMPP", "APPID", "f_ampp2", "ACTUAL_MEDICINAL_PROD_PACKS", "AMPPS",
        ("APPID", "INVALID", "NM", "VPPID", "APID"),
    ),
)  # fmt: skip
# The references each table makes: attribute -> the table whose id it names.
DMD_REFERENCES = {
    "VMP": {"VTMID": "VTM"},
    "AMP": {"VPID": "VMP", "SUPPCD": "SUPPLIER"},
    "VMPP": {"VPID": "VMP"},
    "AMPP": {"VPPID": "VMPP", "APID": "AMP"},
}


@dataclass(frozen=True)
class DmdProduct:
    """One dm+d entry of the source: its table, fields, provenance and the releases it is in."""

    line: int
    table: str
    fields: dict[str, str]
    source: str
    added_in: str
    invalid_in: str

    @property
    def code(self) -> str:
        """The entry's identifier (VTMID, VPID, APID, VPPID, APPID or supplier CD)."""
        return self.fields["CD" if self.table == "SUPPLIER" else _dmd_id_field(self.table)]

    def invalid_at(self, release: str) -> bool:
        """True when the product is flagged invalid in `release`."""
        return bool(self.invalid_in) and self.invalid_in <= release


def _dmd_id_field(table: str) -> str:
    return next(spec[1] for spec in DMD_TABLES if spec[0] == table)


def read_dmd_source(path: Path = DMD_SOURCE) -> list[DmdProduct]:
    """The entries of the dm+d source file, in file order, with their line numbers."""
    parser = ET.XMLPullParser(events=("start",))
    products = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True), 1):
        parser.feed(text)
        for _, element in parser.read_events():
            if element.tag in {"SUPPLIER", *DMD_REFERENCES, "VTM"}:
                products.append(_dmd_product(line, element))
    return products


def _dmd_product(line: int, element: ET.Element) -> DmdProduct:
    attributes = dict(element.attrib)
    meta = {key: attributes.pop(key, "") for key in ("source", "added_in", "invalid_in")}
    return DmdProduct(line, element.tag, attributes, **meta)


def verify_dmd_source(
    products: list[DmdProduct], path: Path = DMD_SOURCE, snomed_ids: Iterable[str] = ()
) -> None:
    """Refuse a dm+d source with a bad or duplicate id, a missing source, or a dangling reference."""
    taken = set(snomed_ids)
    by_code: dict[str, DmdProduct] = {}
    for product in products:
        _verify_dmd_product(product, path)
        if product.code in by_code or product.code in taken:
            raise TerminologyError(f"{product.code} is used twice", path=path, line=product.line)
        by_code[product.code] = product
    for release in RELEASES:
        for product in products:
            if product.added_in <= release:
                _verify_dmd_references(product, by_code, release, path)


def _verify_dmd_product(product: DmdProduct, path: Path) -> None:
    def refuse(field: str, message: str) -> TerminologyError:
        return TerminologyError(message, path=path, line=product.line, field=field)

    id_field = "CD" if product.table == "SUPPLIER" else _dmd_id_field(product.table)
    problem = dmd_id_problem(product.code)
    if problem:
        raise refuse(id_field, f"{product.code}: {problem}")
    if (product.source == "synthetic") != in_teaching_namespace(product.code):
        raise refuse("source", f"synthetic entries, and only they, use namespace {NAMESPACE}")
    if not product.source:
        raise refuse("source", "give a citation for a real identifier, 'synthetic' otherwise")
    if product.added_in not in RELEASES:
        raise refuse("added_in", f"'{product.added_in}' is not one of {', '.join(RELEASES)}")
    if product.invalid_in and product.invalid_in not in RELEASES:
        raise refuse("invalid_in", f"'{product.invalid_in}' is not a release date")
    if not product.fields.get("NM") and product.table != "SUPPLIER":
        raise refuse("NM", "is empty")


def _verify_dmd_references(
    product: DmdProduct, by_code: dict[str, DmdProduct], release: str, path: Path
) -> None:
    for field, table in DMD_REFERENCES.get(product.table, {}).items():
        code = product.fields.get(field, "")
        other = by_code.get(code)
        if other is None or other.table != table or other.added_in > release:
            raise TerminologyError(
                f"{code or '(empty)'} names no {table} in release {release}",
                path=path,
                line=product.line,
                field=field,
            )


def dmd_folder_name(release: str) -> str:
    """The dm+d release folder, named as the NHSBSA names its weekly releases."""
    return f"nhsbsa_dmd_teaching_{release}000001"


def dmd_file_name(stem: str, release: str) -> str:
    """A dm+d file name: the table stem, '3' and the release date as DDMMYY (e.g. f_vtm2_3010424)."""
    return f"{stem}_3{release[6:8]}{release[4:6]}{release[2:4]}.xml"


def _xml_element(name: str, fields: dict[str, str], order: tuple[str, ...], indent: str) -> str:
    inner = "".join(
        f"{indent}  <{key}>{escape(fields[key])}</{key}>\n" for key in order if fields.get(key)
    )
    return f"{indent}<{name}>\n{inner}{indent}</{name}>\n"


def dmd_table_xml(products: list[DmdProduct], table: tuple, release: str) -> str:
    """One dm+d table of `release` as XML, entries in identifier order."""
    name, id_field, _, root, wrapper, order = table
    present = [p for p in products if p.table == name and p.added_in <= release]
    indent = "    " if wrapper else "  "
    body = "".join(
        _xml_element(name, _dmd_fields(p, release), order, indent)
        for p in sorted(present, key=lambda p: int(p.fields[id_field]))
    )
    if wrapper:
        body = f"  <{wrapper}>\n{body}  </{wrapper}>\n"
    return f'<?xml version="1.0" encoding="utf-8"?>\n<{root}>\n{body}</{root}>\n'


def _dmd_fields(product: DmdProduct, release: str) -> dict[str, str]:
    fields = dict(product.fields)
    if product.invalid_at(release):
        fields["INVALID"] = "1"
    return fields


def dmd_lookup_xml(products: list[DmdProduct], release: str) -> str:
    """The supplier part of the dm+d lookup file of `release`."""
    suppliers = sorted(
        (p for p in products if p.table == "SUPPLIER" and p.added_in <= release),
        key=lambda p: int(p.code),
    )
    info = "".join(_xml_element("INFO", p.fields, ("CD", "DESC"), "      ") for p in suppliers)
    body = f"  <SUPPLIER>\n{info}  </SUPPLIER>\n"
    return f'<?xml version="1.0" encoding="utf-8"?>\n<LOOKUP>\n{body}</LOOKUP>\n'


def write_dmd_release(products: list[DmdProduct], release: str, out_dir: Path) -> Path:
    """Write the dm+d XML files of `release` under `out_dir/dmd/` and return the folder."""
    folder = out_dir / "dmd" / dmd_folder_name(release)
    folder.mkdir(parents=True, exist_ok=True)
    for table in DMD_TABLES:
        text = dmd_table_xml(products, table, release)
        (folder / dmd_file_name(table[2], release)).write_bytes(text.encode("utf-8"))
    lookup = dmd_lookup_xml(products, release)
    (folder / dmd_file_name("f_lookup2", release)).write_bytes(lookup.encode("utf-8"))
    return folder


def build_dmd_releases(
    out_dir: Path, source: Path = DMD_SOURCE, snomed_source: Path = SNOMEDCT_SOURCE
) -> list[Path]:
    """Verify the dm+d source and write every teaching dm+d release; return the folders."""
    products = read_dmd_source(source)
    snomed_ids = [row.concept_id for row in read_source(snomed_source)]
    verify_dmd_source(products, source, snomed_ids)
    return [write_dmd_release(products, release, out_dir) for release in RELEASES]
