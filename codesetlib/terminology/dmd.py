"""dm+d: read an NHSBSA dm+d XML release folder into a `Terminology`.

A release folder holds the XML files as NHSBSA ships them: `f_vtm2_3*.xml` (VTM: VTMID, NM, INVALID),
`f_vmp2_3*.xml` (VMP: VPID, VTMID, NM, INVALID), `f_amp2_3*.xml` (AMP: APID, VPID, NM, DESC, INVALID),
`f_vmpp2_3*.xml` (VMPP: VPPID, VPID, NM, INVALID) and `f_ampp2_3*.xml` (AMPP: APPID, VPPID, APID, NM,
INVALID). The hierarchy runs VTM → VMP → AMP and VMP → VMPP → AMPP (an AMPP also sits under its AMP),
so `descendants_of` a VTM gives every product and pack of that ingredient. An INVALID item is inactive;
a changed identifier (VTMIDPREV, VPIDPREV) is history: the old code is REPLACED_BY the new one. The
release may also be the zip NHSBSA ships (`nhsbsa_dmd_<version>_<date>….zip`, perhaps inside a TRUD
download's zip): its XML files are streamed from it, never extracted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from xml.parsers import expat

import pyarrow as pa

from codesetlib.core.errors import file_problem
from codesetlib.core.textfiles import one_line
from codesetlib.terminology.archives import ReleaseFile, is_zip, zip_members
from codesetlib.terminology.base import MalformedRelease, MissingReleaseFile, Release
from codesetlib.terminology.cache import index_path
from codesetlib.terminology.identifiers import dmd_id_problem, first_bad_sctid
from codesetlib.terminology.index import IndexedTerminology, ReleaseTables, build_index

SYSTEM = "dmd"


@dataclass(frozen=True)
class Kind:
    """One dm+d item type: its file, its record element, its id field and its parent fields."""

    name: str
    pattern: str
    id_field: str
    parents: tuple[str, ...]
    optional_parents: tuple[str, ...] = ()
    previous: str | None = None


KINDS = (
    Kind("VTM", "f_vtm2_3*.xml", "VTMID", (), previous="VTMIDPREV"),
    Kind("VMP", "f_vmp2_3*.xml", "VPID", (), ("VTMID",), previous="VPIDPREV"),
    Kind("AMP", "f_amp2_3*.xml", "APID", ("VPID",)),
    Kind("VMPP", "f_vmpp2_3*.xml", "VPPID", ("VPID",)),
    Kind("AMPP", "f_ampp2_3*.xml", "APPID", ("VPPID", "APID")),
)
FIELDS = {"NM", "DESC", "ABBREVNM", "INVALID", "VTMID", "VPID", "APID", "VPPID", "APPID"} | {
    "VTMIDPREV",
    "VPIDPREV",
}
_FOLDER = re.compile(r"nhsbsa_dmd_(?P<edition>[^_]+)_(?P<date>\d{8})\d{6}")
_FILE = re.compile(r"f_vtm2_3(?P<day>\d{2})(?P<month>\d{2})(?P<year>\d{2})\.xml$")


@dataclass(frozen=True)
class Record:
    """One item of a dm+d file: its fields' text and the line each field was read from."""

    line: int
    values: dict[str, str]
    lines: dict[str, int]


def is_release(path: Path) -> bool:
    """True when `path` looks like a dm+d XML release folder, or a zip holding the VTM file."""
    if is_zip(path):
        return any(fnmatch(f.name, KINDS[0].pattern) for f in zip_members(path))
    return path.is_dir() and any(path.glob("f_vtm2_3*.xml"))


def find_release(path: Path) -> Release:
    """The identity of the dm+d release in folder `path`: from `nhsbsa_dmd_<edition>_<date>…` or the
    date in the VTM file name (`f_vtm2_3DDMMYY.xml`); a numbered edition is reported as `nhsbsa`."""
    folder = _FOLDER.search(path.name)
    if folder:
        edition = folder["edition"]
        edition = "nhsbsa" if re.fullmatch(r"[\d.]+", edition) else edition
        return Release(SYSTEM, edition, folder["date"], path)
    by_file = _FILE.search(release_file(path, KINDS[0]).name)
    if not by_file:
        raise MalformedRelease(
            "cannot tell the release date: expected a folder named nhsbsa_dmd_<edition>_"
            "<YYYYMMDDhhmmss> or a file named f_vtm2_3<DDMMYY>.xml",
            path=path,
        )
    date = f"20{by_file['year']}{by_file['month']}{by_file['day']}"
    return Release(SYSTEM, "nhsbsa", date, path)


def release_file(path: Path, kind: Kind) -> ReleaseFile:
    """The one file of `kind` in the release folder or zip."""
    if is_zip(path):
        found = [f for f in zip_members(path) if fnmatch(f.name, kind.pattern)]
    else:
        found = [ReleaseFile(p) for p in sorted(path.glob(kind.pattern))]
    if len(found) != 1:
        what = "no file" if not found else f"{len(found)} files"
        raise MissingReleaseFile(
            f"expected one {kind.name} file matching {kind.pattern}, found {what}", path=path
        )
    return found[0]


def read_records(path: Path | ReleaseFile, tag: str) -> list[Record]:
    """Every `tag` element of an XML file with its fields, read by a streaming parser that keeps lines."""
    parser = expat.ParserCreate()
    records: list[Record] = []
    state: dict = {"record": None, "field": None, "text": []}

    def start(name: str, _attrs: dict) -> None:
        if name == tag:
            state["record"] = Record(parser.CurrentLineNumber, {}, {})
        elif state["record"] is not None and name in FIELDS:
            state["field"], state["text"] = name, []
            state["record"].lines[name] = parser.CurrentLineNumber

    def end(name: str) -> None:
        if name == tag and state["record"] is not None:
            records.append(state["record"])
            state["record"] = None
        elif name == state["field"]:
            state["record"].values[name] = "".join(state["text"]).strip()
            state["field"] = None

    def text(data: str) -> None:
        if state["field"] is not None:
            state["text"].append(data)

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text
    try:
        with path.open("rb") as handle:
            parser.ParseFile(handle)
    except OSError as error:
        raise MalformedRelease(file_problem(error), path=str(path)) from None
    except expat.ExpatError as error:
        raise MalformedRelease(
            f"not well-formed XML: {expat.ErrorString(error.code)} (column {error.offset + 1})",
            path=str(path),
            line=error.lineno,
        ) from error
    return records


def _check_records(path: ReleaseFile, kind: Kind, records: list[Record]) -> None:
    for record in records:
        for field in (kind.id_field, "NM"):
            if not record.values.get(field):
                raise MalformedRelease(
                    f"{kind.name} has no {field}; every {kind.name} needs {kind.id_field} and NM",
                    path=str(path),
                    line=record.line,
                    field=field,
                )
    bad = first_bad_sctid([r.values[kind.id_field] for r in records])
    if bad is not None:
        record, code = records[bad], records[bad].values[kind.id_field]
        raise MalformedRelease(
            f"{kind.name} id {one_line(code)}: {dmd_id_problem(code)}",
            path=str(path),
            line=record.lines[kind.id_field],
            field=kind.id_field,
        )


def _edges(path: ReleaseFile, kind: Kind, records: list[Record], known: set[str]) -> list[tuple]:
    edges = []
    for record in records:
        for field in (*kind.parents, *kind.optional_parents):
            parent = record.values.get(field)
            if not parent and field in kind.optional_parents:
                continue
            line = record.lines.get(field, record.line)
            if parent not in known:
                what = (
                    f"names {one_line(parent)}, which is not"
                    if parent
                    else "is missing; it must name an item"
                )
                raise MalformedRelease(
                    f"{kind.name} {one_line(record.values[kind.id_field])}: {field} {what} in the "
                    "release",
                    path=str(path),
                    line=line,
                    field=field,
                )
            edges.append((record.values[kind.id_field], parent, line))
    return edges


def read_release(path: Path) -> ReleaseTables:
    """Read and check the five dm+d files of one release into the tables the index is built from."""
    files = {kind.name: release_file(path, kind) for kind in KINDS}
    records = {kind.name: read_records(files[kind.name], kind.name) for kind in KINDS}
    for kind in KINDS:
        _check_records(files[kind.name], kind, records[kind.name])
    known = {r.values[k.id_field] for k in KINDS for r in records[k.name]}
    concepts, descriptions, edges, history = [], [], [], []
    for kind in KINDS:
        for record in records[kind.name]:
            code, values = record.values[kind.id_field], record.values
            concepts.append((code, values.get("INVALID") != "1", values["NM"]))
            for field in ("NM", "DESC", "ABBREVNM"):
                if values.get(field):
                    descriptions.append((code, values[field]))
            if kind.previous and values.get(kind.previous):
                history.append((values[kind.previous], "REPLACED_BY", code))
        edges += _edges(files[kind.name], kind, records[kind.name], known)
    return ReleaseTables(
        concepts=_table(["code", "active", "term"], concepts).append_column(
            "fsn", pa.nulls(len(concepts), pa.string())
        ),
        descriptions=_table(["code", "term"], descriptions),
        is_a=_table(["child", "parent", "line"], edges),
        history=_table(["code", "association", "target"], history),
        is_a_path=path,
    )


def _table(names: list[str], rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    types = {"active": pa.bool_(), "line": pa.int64()}
    return pa.table(
        {n: pa.array(c, types.get(n, pa.string())) for n, c in zip(names, columns, strict=True)}
    )


class DMD(IndexedTerminology):
    """A dm+d release read from its XML files, indexed once into the cache."""

    def __init__(self, path: Path) -> None:
        release = find_release(path)
        sources = [path] if is_zip(path) else [release_file(path, kind).path for kind in KINDS]
        target = index_path(release.id, sources, extra=str(path.resolve()))
        if not target.exists():
            build_index(read_release(path), release, target)
        super().__init__(target, release)

    def code_problem(self, code: str) -> str | None:
        return dmd_id_problem(code)
