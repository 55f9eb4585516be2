"""SNOMED CT: read an RF2 release, a folder or a zip as it is downloaded, into a `Terminology`.

A release package is laid out as users receive it: `Snapshot/Terminology/sct2_Concept_Snapshot_*.txt`,
`sct2_Description_Snapshot-en_*.txt`, `sct2_Relationship_Snapshot_*.txt` (every active relationship:
is-a and the attributes ECL refines on), and under `Snapshot/Refset/` the language refsets (preferred
terms, en-GB first), the historical association refsets (replacements) and the simple refsets (e.g. the
primary-care cluster refsets). An edition download (the UK Clinical Edition, the UK Drug Extension, the
UK Monolith) is a zip holding one or more packages, perhaps inside another zip; every package is read
and the release is their union, the latest version of a component winning. Files are streamed from the
zip, never extracted. Where the release carries `Full/` files, the Full concept and association files
date the history (when a concept was inactivated, what replaced it and when).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from codesetlib.core.csvfiles import require_columns
from codesetlib.core.errors import TerminologyError
from codesetlib.core.textfiles import one_line, text_lines
from codesetlib.terminology.archives import ReleaseFile, folder_files, is_zip, zip_members
from codesetlib.terminology.base import MalformedRelease, MissingReleaseFile, Release
from codesetlib.terminology.cache import index_path
from codesetlib.terminology.identifiers import (
    CONCEPT_PARTITIONS,
    first_bad_sctid,
    sctid_problem,
    verhoeff_valid,
)
from codesetlib.terminology.index import (
    ASSOCIATION_COLUMNS,
    IndexedTerminology,
    ReleaseTables,
    build_index,
    empty_table,
    quiet,
)

__all__ = ["CONCEPT_PARTITIONS", "SnomedCT", "find_release", "sctid_problem", "verhoeff_valid"]

SYSTEM = "snomedct"
IS_A = "116680003"
FSN_TYPE = "900000000000003001"
PREFERRED = "900000000000548007"
GB_ENGLISH = "900000000000508004"
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


def semantic_tag(fully_specified_name: str) -> str | None:
    """The semantic tag of a fully specified name, e.g. 'disorder'."""
    match = SEMANTIC_TAG.search(fully_specified_name)
    return match.group(1) if match else None


_FOLDER = re.compile(r"SnomedCT_(?P<edition>[A-Za-z]+?)RF2_[A-Za-z]+_(?P<date>\d{8})T\d{6}Z")
_FILE = re.compile(
    r"sct2_Concept_(?P<prefix>[A-Za-z]*)Snapshot_(?P<edition>[A-Za-z0-9]+)_(?P<date>\d{8})\.txt$"
)
# The packages that complete an edition rather than name it: a UK Clinical Edition download holds the
# International release and the UK Edition module beside the UK Clinical Extension.
_BASE_EDITIONS = {"international", "ukedition"}
_CONTENT_TYPES = ("Snapshot", "Full", "Delta")
# Each file the index reads: its name (a module prefix such as UKCL, UKDG or MONO may stand before the
# content type, and UK files say -en-GB), and how a message names it.
CORE = {
    "concept": (r"sct2_Concept_[A-Za-z]*Snapshot_.+\.txt", "sct2_Concept_Snapshot_*.txt"),
    "description": (
        r"sct2_Description_[A-Za-z]*Snapshot-en(-[A-Za-z]+)?_.+\.txt",
        "sct2_Description_Snapshot-en_*.txt",
    ),
    "relationship": (
        r"sct2_Relationship_[A-Za-z]*Snapshot_.+\.txt",
        "sct2_Relationship_Snapshot_*.txt",
    ),
}
OPTIONAL = {
    "language": r"der2_cRefset_Language[A-Za-z]*Snapshot-en(-[A-Za-z]+)?_.+\.txt",
    "association": r"der2_cRefset_Association(Reference)?[A-Za-z]*Snapshot_.+\.txt",
    "simple": r"der2_Refset_Simple[A-Za-z]*Snapshot_.+\.txt",
    "concept_full": r"sct2_Concept_[A-Za-z]*Full_.+\.txt",
    "association_full": r"der2_cRefset_Association(Reference)?[A-Za-z]*Full_.+\.txt",
}
_PATTERNS = {kind: re.compile(pattern) for kind, (pattern, _) in CORE.items()} | {
    kind: re.compile(pattern) for kind, pattern in OPTIONAL.items()
}
# Language refsets in the order their preferred terms win: the NHS realm (clinical, then pharmacy),
# the UK English refsets, then GB English; any other language refset comes after these.
LANGUAGE_ORDER = (
    "999001261000000100",
    "999000691000001104",
    "999001251000000103",
    "999000681000001101",
    GB_ENGLISH,
)

Source = Path | ReleaseFile


@dataclass(frozen=True)
class Package:
    """One RF2 package of a release: a folder holding `Snapshot/` (and often `Full/`), such as
    `SnomedCT_UKClinicalRF2_PRODUCTION_20250401T000001Z`; an edition download may hold several."""

    name: str
    where: str
    files: tuple[ReleaseFile, ...]

    def matching(self, kind: str) -> list[ReleaseFile]:
        return [f for f in self.files if _PATTERNS[kind].fullmatch(f.name)]

    def identity(self) -> tuple[str, str]:
        """(edition, YYYYMMDD) from the package folder's name, else from its concept file's name."""
        folder = _FOLDER.search(self.name)
        if folder:
            return folder["edition"], folder["date"]
        concept = self.core("concept")
        by_file = _FILE.search(concept.name)
        if not by_file:
            raise TerminologyError(
                "cannot tell the release date: expected a file named sct2_Concept_Snapshot_<EDITION>_"
                "<YYYYMMDD>.txt",
                path=str(concept),
            )
        return by_file["prefix"] or by_file["edition"], by_file["date"]

    def core(self, kind: str) -> ReleaseFile:
        """The one file of a core kind (concept, description, relationship) the package must hold."""
        found = self.matching(kind)
        if not found:
            # A folder where the file should be is named as such, not as a missing file.
            folder = Path(self.where) / "Snapshot" / "Terminology"
            entries = sorted(folder.iterdir()) if folder.is_dir() else []
            for entry in entries:
                if entry.is_dir() and _PATTERNS[kind].fullmatch(entry.name):
                    raise MalformedRelease("is a folder, not a file", path=str(entry))
        if len(found) != 1:
            what = "no file" if not found else f"{len(found)} files"
            raise MissingReleaseFile(
                f"expected one file matching {CORE[kind][1]}, found {what}",
                path=f"{self.where}/Snapshot/Terminology",
            )
        return found[0]


def release_sources(path: Path) -> list[ReleaseFile]:
    """Every file of the release at `path`: a folder, or a zip (with the zips inside it)."""
    return zip_members(path) if is_zip(path) else folder_files(path)


def packages(path: Path, sources: list[ReleaseFile] | None = None) -> list[Package]:
    """The RF2 packages of the release at `path`: each folder holding `Snapshot/`, `Full/` or `Delta/`."""
    grouped: dict[tuple[str, ...], list[ReleaseFile]] = {}
    samples: dict[tuple[str, ...], ReleaseFile] = {}
    for source in release_sources(path) if sources is None else sources:
        parts = source.parts
        at = [i for i, part in enumerate(parts[:-1]) if part in _CONTENT_TYPES]
        if not at:
            continue
        root = parts[: at[-1]]
        samples.setdefault(root, source)
        if (
            parts[at[-1]] == "Snapshot"
            or _PATTERNS["concept_full"].fullmatch(source.name)
            or (_PATTERNS["association_full"].fullmatch(source.name))
        ):
            grouped.setdefault(root, []).append(source)
    found = []
    for root, files in sorted(grouped.items()):
        sample = samples[root]
        depth = len(sample.parts) - len(root)
        where = "/".join(str(sample).split("/")[:-depth])
        name = root[-1] if root else str(path)
        found.append(Package(name, where, tuple(files)))
    if not found:
        where = f"{path}/Snapshot/Terminology" if not is_zip(path) else str(path)
        raise MissingReleaseFile(
            f"expected one file matching {CORE['concept'][1]}, found no file", path=where
        )
    return found


def find_release(path: Path) -> Release:
    """The identity of the RF2 release at `path`: a folder holding `Snapshot/`, or a zip holding one
    or more packages (an edition with the International release and extensions beside it)."""
    return _identity(path, packages(path))


def _identity(path: Path, found: list[Package]) -> Release:
    # Each package holds exactly one file of each core kind, or the release is refused here, as it
    # is found, not later when a codeset opens it.
    for package in found:
        for kind in CORE:
            package.core(kind)
    identities = [package.identity() for package in found]
    editions = sorted({edition for edition, _ in identities}, key=str.lower)
    named = [e for e in editions if e.lower() not in _BASE_EDITIONS] or editions
    if len(named) > 1 and "international" in {e.lower() for e in named}:
        named = [e for e in named if e.lower() != "international"]
    return Release(SYSTEM, "".join(named), max(date for _, date in identities), path)


def is_release(path: Path) -> bool:
    """True when `path` is an RF2 release folder (holding `Snapshot/`) or a zip holding a concept file."""
    if (path / "Snapshot").is_dir():
        return True
    return is_zip(path) and any(f.name.startswith("sct2_Concept_") for f in zip_members(path))


def read_rf2(path: Source, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of an RF2 file as (line number, row), refusing a file that lacks a required column."""
    lines = text_lines(cast(Path, path), MalformedRelease)
    try:
        reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        require_columns(reader.fieldnames, required, cast(Path, path), MalformedRelease)
        for line, row in enumerate(reader, start=2):
            if None in row or None in row.values():
                raise MalformedRelease(
                    f"expected {len(reader.fieldnames or [])} tab-separated fields",
                    path=path,
                    line=line,
                )
            yield line, row
    except csv.Error as exc:
        message = str(exc)
        if "field limit" in message:
            message = f"a field is longer than {csv.field_size_limit():,} characters"
        raise MalformedRelease(
            f"cannot be read as RF2: {message}", path=path, line=reader.reader.line_num
        ) from None
    finally:
        lines.close()


def release_files(path: Path, found: list[Package] | None = None) -> dict[str, list[ReleaseFile]]:
    """The RF2 files of the release at `path` that the index is built from, by kind: one concept,
    description and relationship file in every package; refsets and Full files where present."""
    found = packages(path) if found is None else found
    files: dict[str, list[ReleaseFile]] = {kind: [] for kind in _PATTERNS}
    for package in found:
        for kind in CORE:
            files[kind].append(package.core(kind))
        for kind in OPTIONAL:
            files[kind] += package.matching(kind)
    return files


def read_rf2_columns(
    path: Source, required: list[str], optional: list[str] | None = None
) -> pa.Table:
    """The `required` columns of an RF2 file as strings (and those of `optional` it has), plus the
    `line` each row was read from. The file is streamed (from its zip, if it is in one) and parsed in
    bulk with pyarrow; if that fails, the row-by-row reader finds the line.
    """
    lines = text_lines(cast(Path, path), MalformedRelease)
    try:
        header = next(lines, "").rstrip("\r\n").split("\t")
    finally:
        lines.close()
    require_columns(header, required, cast(Path, path), MalformedRelease)
    columns = required + [c for c in optional or [] if c in header and c not in required]
    try:
        with _opened(path) as stream:
            table = arrow_csv.read_csv(
                stream,
                parse_options=arrow_csv.ParseOptions(delimiter="\t", quote_char=False),
                convert_options=arrow_csv.ConvertOptions(
                    include_columns=columns, column_types=dict.fromkeys(header, pa.string())
                ),
            )
    except (pa.ArrowException, OSError) as error:
        # The bulk parser says what is wrong but not where: the row reader finds the line (a bad
        # byte, a row of the wrong width); failing that, pyarrow's own words are the message.
        for _ in read_rf2(path, required):
            pass
        raise MalformedRelease(
            f"cannot be read as RF2: {one_line(str(error))}", path=path
        ) from None
    return table.append_column("line", pa.array(np.arange(2, table.num_rows + 2)))


def _opened(path: Source) -> AbstractContextManager[IO[bytes]]:
    return path.open("rb")


def _first_missing(table: pa.Table, column: str, known: pa.Array) -> int | None:
    """Position of the first row whose `column` is not among the `known` codes."""
    present = pc.is_in(table[column], value_set=known).to_numpy(zero_copy_only=False)
    return None if present.all() else int(np.argmin(present))


def _read_concepts(path: Source) -> pa.Table:
    concepts = read_rf2_columns(path, ["id", "active"], ["effectiveTime"])
    bad = first_bad_sctid(concepts["id"].to_pylist())
    if bad is not None:
        code = concepts["id"][bad].as_py()
        raise MalformedRelease(
            f"concept id {code}: {sctid_problem(code)}",
            path=path,
            line=bad + 2,
            field="id",
        )
    _refuse_repeats(concepts, path)
    return concepts


def _refuse_repeats(concepts: pa.Table, path: Source) -> None:
    """A Snapshot holds one row per concept; a repeated id would make the release ambiguous."""
    ids = concepts["id"].to_numpy(zero_copy_only=False)
    order = np.argsort(ids, kind="stable")
    repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if repeated.size:
        later = order[repeated + 1]
        second = int(later.min())
        first = int(order[repeated[np.argmin(later)]])
        raise MalformedRelease(
            f"concept id {ids[second]} appears again (first on line {first + 2}); a Snapshot holds one "
            "row per concept",
            path=path,
            line=second + 2,
            field="id",
        )


def _read_descriptions(path: Source, known: pa.Array) -> pa.Table:
    descriptions = read_rf2_columns(
        path, ["id", "active", "conceptId", "typeId", "term"], ["effectiveTime"]
    )
    bad = _first_missing(descriptions, "conceptId", known)
    if bad is not None:
        row = descriptions.slice(bad, 1).to_pylist()[0]
        raise MalformedRelease(
            f"description {row['id']} names concept {row['conceptId']}, which is not in the release",
            path=path,
            line=bad + 2,
            field="conceptId",
        )
    return descriptions


def _refuse_unknown(
    rows: pa.Table, fields: tuple[str, ...], known: pa.Array, what: str, path
) -> None:
    problems = [
        (bad, field) for field in fields if (bad := _first_missing(rows, field, known)) is not None
    ]
    if problems:
        bad, field = min(problems)
        code = rows[field][bad].as_py()
        raise MalformedRelease(
            f"{what} row names concept {code}, which is not in the release",
            path=path,
            line=rows["line"][bad].as_py(),
            field=field,
        )


def _read_relationships(path: Source, known: pa.Array) -> tuple[pa.Table, pa.Table]:
    """The active is-a edges (child, parent, line) and every active relationship (source, type,
    destination, grp) of a relationship file, refusing a row that names a concept not in the release."""
    rows = read_rf2_columns(
        path, ["active", "sourceId", "destinationId", "typeId"], ["relationshipGroup"]
    )
    active = rows.filter(pc.equal(rows["active"], "1"))
    is_a = active.filter(pc.equal(active["typeId"], IS_A))
    _refuse_unknown(is_a, ("sourceId", "destinationId"), known, "is-a", path)
    # The type is not checked: a subset of SNOMED CT (the teaching edition, a test release) need not
    # hold the attribute concepts themselves, and a type is matched by its code.
    _refuse_unknown(active, ("sourceId", "destinationId"), known, "relationship", path)
    group = (
        active["relationshipGroup"]
        if "relationshipGroup" in active.column_names
        else pa.array(["0"] * active.num_rows, pa.string())
    )
    relationships = pa.table(
        {
            "source": active["sourceId"],
            "type": active["typeId"],
            "destination": active["destinationId"],
            "grp": pc.cast(group, pa.int32()),
        }
    )
    edges = pa.table(
        {"child": is_a["sourceId"], "parent": is_a["destinationId"], "line": is_a["line"]}
    )
    return edges, relationships


def _read_is_a(path: Source, known: pa.Array) -> pa.Table:
    return _read_relationships(path, known)[0]


def _read_all(paths: list[ReleaseFile], columns: list[str], optional: list[str] | None = None):
    tables = [read_rf2_columns(path, columns, optional) for path in paths]
    if not tables:
        return pa.table({c: pa.array([], pa.string()) for c in columns + (optional or [])})
    return pa.concat_tables(tables, promote_options="default")


def _latest(table: pa.Table, key: str) -> pa.Table:
    """One row per `key`, the latest by effectiveTime: how the snapshots of several packages combine
    when an extension carries a later version of a component of the release it extends."""
    if "effectiveTime" not in table.column_names:
        return table
    with quiet(duckdb.connect()) as db:
        db.register("rows", table)
        return db.sql(
            f"SELECT * FROM rows QUALIFY row_number() OVER (PARTITION BY {key} "
            "ORDER BY effectiveTime DESC, line DESC) = 1 ORDER BY line"
        ).to_arrow_table()


def _language_ranks() -> pa.Table:
    return pa.table({"refsetId": list(LANGUAGE_ORDER), "rank": list(range(len(LANGUAGE_ORDER)))})


# Preferred term: a synonym preferred in the first language refset of LANGUAGE_ORDER that prefers one,
# else preferred in another language refset, else the first active synonym; the fully specified name
# only when a concept has no synonym.
_NAMES = f"""
WITH preferred AS (
    SELECT l.referencedComponentId AS id, min(coalesce(r.rank, {len(LANGUAGE_ORDER)})) AS rank
    FROM language l LEFT JOIN language_ranks r USING (refsetId)
    WHERE l.active = '1' AND l.acceptabilityId = '{PREFERRED}' GROUP BY 1
), named AS (
    SELECT d.conceptId, d.typeId, d.term, d.line,
           coalesce(p.rank, {len(LANGUAGE_ORDER) + 1}) AS rank
    FROM descriptions d LEFT JOIN preferred p ON p.id = d.id WHERE d.active = '1'
), names AS (
    SELECT conceptId,
           min_by(term, rank * 10000000000 + line) FILTER (WHERE typeId <> '{FSN_TYPE}') AS term,
           min_by(term, line) FILTER (WHERE typeId = '{FSN_TYPE}') AS fsn
    FROM named GROUP BY conceptId
)
SELECT c.id AS code, c.active = '1' AS active, n.term, n.fsn
FROM concepts c LEFT JOIN names n ON n.conceptId = c.id
"""


def _association_names() -> pa.Table:
    return pa.table({"refsetId": list(ASSOCIATIONS), "association": list(ASSOCIATIONS.values())})


def _refuse_empty(concepts: pa.Table, files: list[ReleaseFile], path: Path | None) -> None:
    if concepts.num_rows:
        return
    names = ", ".join(str(f) if f.in_zip else f.name for f in files)
    raise MalformedRelease(
        f"the release holds no concepts ({names} has no rows); is this the release you meant?",
        path=path or (str(files[0]) if files else None),
    )


def read_release(files: dict[str, list[ReleaseFile]], path: Path | None = None) -> ReleaseTables:
    """Read and check the RF2 files of one release (all its packages) into the tables the index is
    built from. `path` is the release's folder or zip, named when it holds no concept."""
    several = len(files["concept"]) > 1
    concepts = pa.concat_tables([_read_concepts(f) for f in files["concept"]])
    _refuse_empty(concepts, files["concept"], path)
    if several:
        concepts = _latest(concepts, "id")
    known = concepts["id"].combine_chunks()
    descriptions = pa.concat_tables(
        [_read_descriptions(f, known) for f in files["description"]], promote_options="default"
    )
    read = [_read_relationships(f, known) for f in files["relationship"]]
    is_a = pa.concat_tables([edges for edges, _ in read])
    relationships = pa.concat_tables([rows for _, rows in read])
    language = _read_all(
        files["language"], ["active", "refsetId", "referencedComponentId", "acceptabilityId"]
    )
    association = _read_all(
        files["association"],
        ["active", "refsetId", "referencedComponentId", "targetComponentId"],
        ["effectiveTime"],
    )
    simple = _read_all(files["simple"], ["active", "refsetId", "referencedComponentId"])
    with quiet(duckdb.connect()) as db:
        for name, table in [
            ("concepts", concepts),
            ("descriptions", descriptions),
            ("language", language),
            ("language_ranks", _language_ranks()),
            ("association", association),
            ("association_names", _association_names()),
            ("simple", simple),
        ]:
            db.register(name, table)
        status, dated_associations = _history(db, files)
        return ReleaseTables(
            concepts=db.sql(_NAMES).to_arrow_table(),
            descriptions=db.sql(
                "SELECT conceptId AS code, term FROM descriptions WHERE active = '1'"
            ).to_arrow_table(),
            is_a=is_a,
            history=db.sql(
                "SELECT DISTINCT a.referencedComponentId AS code, n.association, "
                "a.targetComponentId AS target FROM association a "
                "JOIN association_names n USING (refsetId) WHERE a.active = '1'"
            ).to_arrow_table(),
            is_a_path=str(files["relationship"][0]),
            relationships=relationships,
            refset_rows=db.sql(
                "SELECT refsetId AS refset, referencedComponentId AS member, active = '1' AS active "
                "FROM simple UNION ALL SELECT refsetId, referencedComponentId, active = '1' "
                "FROM association"
            ).to_arrow_table(),
            status_history=status,
            association_history=dated_associations,
        )


def _history(
    db: duckdb.DuckDBPyConnection, files: dict[str, list[ReleaseFile]]
) -> tuple[pa.Table, pa.Table]:
    """The dated status of every inactive concept and the dated historical associations: from the
    Full files where the release has them (every version ever released), else from the Snapshot (the
    latest version, whose date is when the concept was last changed)."""
    if files["concept_full"]:
        full = _read_all(files["concept_full"], ["id", "effectiveTime", "active"])
        db.register("concept_versions", full)
    else:
        dated = "effectiveTime" in db.sql("FROM concepts LIMIT 0").columns
        effective = "effectiveTime" if dated else "NULL::VARCHAR"
        db.execute(
            f"CREATE TEMP VIEW concept_versions AS SELECT id, {effective} AS effectiveTime, active "
            "FROM concepts"
        )
    status = db.sql(
        "SELECT v.id AS code, v.effectiveTime AS effective, v.active = '1' AS active "
        "FROM concept_versions v JOIN concepts c USING (id) "
        "WHERE c.active <> '1' AND v.effectiveTime IS NOT NULL"
    ).to_arrow_table()
    if files["association_full"]:
        db.register(
            "association_versions",
            _read_all(
                files["association_full"],
                [
                    "effectiveTime",
                    "active",
                    "refsetId",
                    "referencedComponentId",
                    "targetComponentId",
                ],
            ),
        )
    else:
        db.execute("CREATE TEMP VIEW association_versions AS SELECT * FROM association")
    if "effectiveTime" not in db.sql("FROM association_versions LIMIT 0").columns:
        return status, empty_table(ASSOCIATION_COLUMNS)
    dated = db.sql(
        "SELECT a.referencedComponentId AS code, n.association, a.targetComponentId AS target, "
        "a.effectiveTime AS effective, a.active = '1' AS active FROM association_versions a "
        "JOIN association_names n USING (refsetId) WHERE a.effectiveTime IS NOT NULL"
    ).to_arrow_table()
    return status, dated


class SnomedCT(IndexedTerminology):
    """A SNOMED CT release read from an RF2 folder or zip (an edition's packages together), indexed
    once into the cache."""

    def __init__(self, path: Path) -> None:
        found = packages(path)
        files = release_files(path, found)
        release = _identity(path, found)
        sources = [path] if is_zip(path) else [f.path for kind in files.values() for f in kind]
        target = index_path(release.id, sources, extra=str(path.resolve()))
        if not target.exists():
            build_index(read_release(files, path), release, target)
        super().__init__(target, release)

    def code_problem(self, code: str) -> str | None:
        return sctid_problem(code)
