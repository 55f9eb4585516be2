"""SNOMED CT: read an RF2 Snapshot release folder into a `Terminology`.

A release folder is laid out as users receive it: `Snapshot/Terminology/sct2_Concept_Snapshot_*.txt`,
`sct2_Description_Snapshot-en_*.txt`, `sct2_Relationship_Snapshot_*.txt`, and under `Snapshot/Refset/`
the language refset (preferred terms) and the historical association refset (replacements).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from codesetlib.core.csvfiles import require_columns
from codesetlib.core.errors import TerminologyError
from codesetlib.core.textfiles import one_line, text_lines
from codesetlib.terminology.base import MalformedRelease, MissingReleaseFile, Release
from codesetlib.terminology.cache import index_path
from codesetlib.terminology.identifiers import (
    CONCEPT_PARTITIONS,
    first_bad_sctid,
    sctid_problem,
    verhoeff_valid,
)
from codesetlib.terminology.index import IndexedTerminology, ReleaseTables, build_index

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
        raise MissingReleaseFile(f"expected one file matching {pattern}, found {what}", path=folder)
    return found[0]


def _optional_file(root: Path, pattern: str) -> Path | None:
    found = sorted((root / "Snapshot" / "Refset").rglob(pattern))
    return found[0] if found else None


def read_rf2(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of an RF2 file as (line number, row), refusing a file that lacks a required column."""
    lines = text_lines(path, MalformedRelease)
    try:
        reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        require_columns(reader.fieldnames, required, path, MalformedRelease)
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


def release_files(path: Path) -> dict[str, Path | None]:
    """The RF2 files of the release in `path` that the index is built from (refsets are optional)."""
    return {
        "concept": _one_file(path, "Terminology", "sct2_Concept_Snapshot_*.txt"),
        "description": _one_file(path, "Terminology", "sct2_Description_Snapshot-en_*.txt"),
        "relationship": _one_file(path, "Terminology", "sct2_Relationship_Snapshot_*.txt"),
        "language": _optional_file(path, "der2_cRefset_LanguageSnapshot*.txt"),
        "association": _optional_file(path, "der2_cRefset_AssociationSnapshot*.txt"),
    }


def read_rf2_columns(path: Path, required: list[str]) -> pa.Table:
    """The `required` columns of an RF2 file as strings, plus the `line` each row was read from.

    The file is parsed in bulk with pyarrow; if that fails, the row-by-row reader finds the line.
    """
    lines = text_lines(path, MalformedRelease)
    try:
        header = next(lines, "").rstrip("\r\n").split("\t")
    finally:
        lines.close()
    require_columns(header, required, path, MalformedRelease)
    try:
        table = arrow_csv.read_csv(
            path,
            parse_options=arrow_csv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=arrow_csv.ConvertOptions(
                include_columns=required, column_types=dict.fromkeys(header, pa.string())
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


def _first_missing(table: pa.Table, column: str, known: pa.Array) -> int | None:
    """Position of the first row whose `column` is not among the `known` codes."""
    present = pc.is_in(table[column], value_set=known).to_numpy(zero_copy_only=False)
    return None if present.all() else int(np.argmin(present))


def _read_concepts(path: Path) -> pa.Table:
    concepts = read_rf2_columns(path, ["id", "active"])
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


def _refuse_repeats(concepts: pa.Table, path: Path) -> None:
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


def _read_descriptions(path: Path, known: pa.Array) -> pa.Table:
    descriptions = read_rf2_columns(path, ["id", "active", "conceptId", "typeId", "term"])
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


def _read_is_a(path: Path, known: pa.Array) -> pa.Table:
    rows = read_rf2_columns(path, ["active", "sourceId", "destinationId", "typeId"])
    is_a = rows.filter(pc.and_(pc.equal(rows["active"], "1"), pc.equal(rows["typeId"], IS_A)))
    problems = [
        (bad, field)
        for field in ("sourceId", "destinationId")
        if (bad := _first_missing(is_a, field, known)) is not None
    ]
    if problems:
        bad, field = min(problems)
        code = is_a[field][bad].as_py()
        raise MalformedRelease(
            f"is-a row names concept {code}, which is not in the release",
            path=path,
            line=is_a["line"][bad].as_py(),
            field=field,
        )
    return pa.table(
        {"child": is_a["sourceId"], "parent": is_a["destinationId"], "line": is_a["line"]}
    )


def _read_refset(path: Path | None, columns: list[str]) -> pa.Table:
    if path is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return read_rf2_columns(path, columns)


# Preferred term: a synonym preferred in GB English, else preferred in another language refset, else the
# first active synonym; the fully specified name only when a concept has no synonym.
_NAMES = f"""
WITH preferred AS (
    SELECT referencedComponentId AS id,
           min(CASE WHEN refsetId = '{GB_ENGLISH}' THEN 0 ELSE 1 END) AS rank
    FROM language WHERE active = '1' AND acceptabilityId = '{PREFERRED}' GROUP BY 1
), named AS (
    SELECT d.conceptId, d.typeId, d.term, d.line, coalesce(p.rank, 2) AS rank
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


def read_release(files: dict[str, Path | None]) -> ReleaseTables:
    """Read and check the RF2 files of one release into the tables the index is built from."""
    concepts = _read_concepts(files["concept"])
    known = concepts["id"].combine_chunks()
    descriptions = _read_descriptions(files["description"], known)
    is_a = _read_is_a(files["relationship"], known)
    language = _read_refset(
        files["language"], ["active", "refsetId", "referencedComponentId", "acceptabilityId"]
    )
    association = _read_refset(
        files["association"], ["active", "refsetId", "referencedComponentId", "targetComponentId"]
    )
    with duckdb.connect() as db:
        for name, table in [
            ("concepts", concepts),
            ("descriptions", descriptions),
            ("language", language),
            ("association", association),
            ("association_names", _association_names()),
        ]:
            db.register(name, table)
        return ReleaseTables(
            concepts=db.sql(_NAMES).to_arrow_table(),
            descriptions=db.sql(
                "SELECT conceptId AS code, term FROM descriptions WHERE active = '1'"
            ).to_arrow_table(),
            is_a=is_a,
            history=db.sql(
                "SELECT a.referencedComponentId AS code, n.association, a.targetComponentId AS target "
                "FROM association a JOIN association_names n USING (refsetId) WHERE a.active = '1'"
            ).to_arrow_table(),
            is_a_path=files["relationship"],
        )


class SnomedCT(IndexedTerminology):
    """A SNOMED CT release read from an RF2 Snapshot folder, indexed once into the cache."""

    def __init__(self, path: Path) -> None:
        release = find_release(path)
        files = release_files(path)
        sources = [f for f in files.values() if f is not None]
        target = index_path(release.id, sources, extra=str(path.resolve()))
        if not target.exists():
            build_index(read_release(files), release, target)
        super().__init__(target, release)

    def code_problem(self, code: str) -> str | None:
        return sctid_problem(code)
