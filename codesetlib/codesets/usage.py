"""National code usage beside a codeset's codes: NHS England's published yearly counts per code.

Two publications are read, each saved by the user as tab-separated text in a folder named by
`CODESET_USAGE_PATH` (several folders separated by `:`, as for `CODESET_TERMINOLOGY_PATH`):

- SNOMED CT, "SNOMED code usage in primary care": one file per reporting year, 1 August to 31 July,
  named `SNOMED_code_usage_2023-24.txt`, with the columns `SNOMED_Concept_ID`, `Description`,
  `Usage`, `Active_at_Start`, `Active_at_End`. Usage is the number of times the code was added to a
  GP record in England, rounded by NHS England to the nearest 10, with `*` for 1 to 4.
- ICD-10, the 4-character diagnosis table of "Hospital Admitted Patient Care Activity" (Hospital
  Episode Statistics), one file per financial year, 1 April to 31 March, named
  `ICD10_code_usage_2023-24.txt` (or `hosp-epis-stat-admi-diag-2023-24...txt`), with the columns
  `ICD10_Code`, `Description`, `Usage`: the table's code, its description and its count of episodes
  with the code in any diagnosis position, as opencodecounts takes them; `*` marks a count the
  publisher suppressed.

Both publications list only the codes used in the year, so a code a file does not list was used
0 times. Every file is checked whole (header, every count, every code) and a bad one is a
`UsageFileError` naming the file, the line and the field; nothing is skipped. Each file is read once
into a Parquet index in the kit's cache folder, named by the file's SHA-256 (remembered by its
fingerprint, `core.file_hashes`), so a warm look-up reads only the rows it asks for.

This module is in the codesets layer because usage is evidence about the codes of codesets (their
cards, lint and the builder read it) and not a terminology release: it has no hierarchy and no
terms of its own, and it checks its codes with the terminology layer's identifier rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesetlib.codesets.expand import Expansion, code_sort_key
from codesetlib.core import atomic
from codesetlib.core.errors import CodesetError, file_problem
from codesetlib.core.file_hashes import file_sha256, fingerprint
from codesetlib.core.paths import cache_dir
from codesetlib.core.textfiles import one_line, read_text
from codesetlib.terminology import Terminology
from codesetlib.terminology.identifiers import (
    first_bad_sctid,
    icd10_problem,
    normalise_icd10,
    sctid_problem,
)

USAGE_PATH_VARIABLE = "CODESET_USAGE_PATH"
SNOMEDCT, ICD10 = "snomedct", "icd10"
SYSTEMS = (SNOMEDCT, ICD10)
# Bump when the index layout changes, so that old cache entries are not read with new code.
INDEX_FORMAT = 1
COLUMNS = {
    SNOMEDCT: ["SNOMED_Concept_ID", "Description", "Usage", "Active_at_Start", "Active_at_End"],
    ICD10: ["ICD10_Code", "Description", "Usage"],
}
# What a `*` in the Usage column stands for, as each publisher says it.
SUPPRESSED_SHOWN = {SNOMEDCT: "1–4", ICD10: "suppressed"}
# The month and day each reporting year starts: August for primary care, April for hospitals.
YEAR_STARTS = {SNOMEDCT: (8, 1), ICD10: (4, 1)}
PUBLICATIONS = {
    SNOMEDCT: (
        "NHS England, SNOMED code usage in primary care: times each code was added to a GP record "
        "in England, 1 August to 31 July, rounded by NHS England to the nearest 10 ('1–4' stands for "
        "the '*' published for 1 to 4 uses)"
    ),
    ICD10: (
        "NHS England, Hospital Admitted Patient Care Activity: episodes with each 4-character "
        "ICD-10 code in any diagnosis position, 1 April to 31 March, as published ('suppressed' "
        "stands for a '*' in the published table)"
    ),
}
_NAMES = (
    (SNOMEDCT, re.compile(r"^SNOMED_code_usage_(?P<start>\d{4})-(?P<end>\d{2})\.(txt|tsv)$", re.I)),
    (ICD10, re.compile(r"^ICD10_code_usage_(?P<start>\d{4})-(?P<end>\d{2})\.(txt|tsv)$", re.I)),
    (
        ICD10,
        re.compile(
            r"^hosp-epis-stat-admi-diag-(?P<start>\d{4})-(?P<end>\d{2})\b.*\.(txt|tsv)$", re.I
        ),
    ),
)
_WORKBOOK = re.compile(r"^(hosp-epis-stat-admi-diag-.*|SNOMED_code_usage_\d{4}-\d{2})\.xlsx$", re.I)
_COUNT = re.compile(r"^(\d+|\d{1,3}(,\d{3})+)$")
FRAME_COLUMNS = ["code", "year", "usage", "suppressed", "active_at_start", "active_at_end"]


class UsageFileError(CodesetError):
    """A usage file that cannot be read: a wrong header or name, a count or a code that is not one."""


@dataclass(frozen=True)
class UsageFile:
    """One year of one publication: the file, its coding system, its year (`2023-24`) and its hash."""

    path: Path
    system: str
    year: str
    sha256: str

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        """The first and last day the year's counts cover."""
        month, day = YEAR_STARTS[self.system]
        start = dt.date(int(self.year[:4]), month, day)
        return start, dt.date(start.year + 1, month, day) - dt.timedelta(days=1)


@dataclass(frozen=True)
class UsageIndex:
    """The usage files found on the search path, each indexed, and the files there that are not
    usage files (left alone, and listed so that a user can see what was not read)."""

    files: tuple[UsageFile, ...]
    ignored: tuple[Path, ...] = ()

    def years(self, system: str) -> list[str]:
        """The years loaded for `system`, oldest first."""
        return sorted(f.year for f in self.files if f.system == system)

    def loaded(self, system: str) -> bool:
        """Whether any usage file of `system` is loaded."""
        return any(f.system == system for f in self.files)

    def latest_year(self, system: str) -> str | None:
        years = self.years(system)
        return years[-1] if years else None

    def usage_of(self, codes: Iterable[str], system: str) -> pd.DataFrame:
        """Every code (as given, each once) in every loaded year of `system`: its usage (0 when the
        year's file does not list it, missing when suppressed), whether suppressed, and whether it
        was active at the year's start and end (missing when the file does not say)."""
        asked = list(dict.fromkeys(codes))
        stored = {code: _stored_form(code, system) for code in asked}
        files = sorted((f for f in self.files if f.system == system), key=lambda f: f.year)
        found = {f.year: _rows_of(f, sorted(set(stored.values()))) for f in files}
        rows = []
        for code in asked:
            for year, listed in found.items():
                row = listed.get(stored[code])
                if row is None:
                    rows.append((code, year, 0, False, pd.NA, pd.NA))
                else:
                    rows.append((code, year, *row))
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        return frame.astype(
            {
                "code": "string",
                "year": "string",
                "usage": "Int64",
                "suppressed": "bool",
                "active_at_start": "boolean",
                "active_at_end": "boolean",
            }
        )


def _stored_form(code: str, system: str) -> str:
    code = code.strip()
    return normalise_icd10(code) if system == ICD10 else code


def usage_search_paths() -> list[Path]:
    """The folders named by CODESET_USAGE_PATH, in order (none when it is unset)."""
    named = os.environ.get(USAGE_PATH_VARIABLE, "")
    return [Path(p) for p in named.split(os.pathsep) if p]


def _identify(path: Path) -> tuple[str, str] | None:
    """The coding system and year a file's name gives, or None when it names no usage file."""
    for system, pattern in _NAMES:
        match = pattern.match(path.name)
        if match:
            start, end = int(match["start"]), int(match["end"])
            if (start + 1) % 100 != end:
                raise UsageFileError(
                    f"the name gives the year {match['start']}-{match['end']}, which is not one "
                    f"year (expected {start}-{(start + 1) % 100:02d})",
                    path=path,
                )
            return system, f"{start}-{end:02d}"
    return None


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.readline(4096).decode("utf-8-sig", "replace").rstrip("\r\n")
    except OSError as exc:
        raise UsageFileError(file_problem(exc), path=path) from None


def _header_system(line: str) -> str | None:
    cells = [c.strip().lower() for c in line.split("\t")]
    return next((s for s, cols in COLUMNS.items() if cells == [c.lower() for c in cols]), None)


def _candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UsageFileError(
            f"{USAGE_PATH_VARIABLE} names this, which is not a folder of usage files", path=folder
        )
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())
    except OSError as exc:
        raise UsageFileError(file_problem(exc), path=folder) from None


def _classify(path: Path) -> tuple[str, str] | None:
    """A usage file's system and year, None for a file that is no usage file; refuses a workbook
    saved as it was downloaded and a usage file whose name does not give its year."""
    if _WORKBOOK.match(path.name):
        raise UsageFileError(
            "a workbook as downloaded: save the usage table as tab-separated text named "
            "SNOMED_code_usage_<year>.txt or ICD10_code_usage_<year>.txt (see codesets/README.md)",
            path=path,
        )
    identified = _identify(path)
    if identified is None and path.suffix.lower() in {".txt", ".tsv", ".csv"}:
        system = _header_system(_first_line(path))
        if system is not None:
            example = "SNOMED_code_usage" if system == SNOMEDCT else "ICD10_code_usage"
            raise UsageFileError(
                f"holds {system} usage by its header, but its name does not give the year: name "
                f"it {example}_2023-24.txt for the year from 2023 to 2024",
                path=path,
            )
    return identified


def _stamps(folders: list[Path]) -> tuple:
    """What identifies the state of every file in the folders without reading any."""
    out = []
    for folder in folders:
        for path in _candidates(folder):
            try:
                out.append((str(path), tuple(fingerprint(path.stat()))))
            except OSError as exc:
                raise UsageFileError(file_problem(exc), path=path) from None
    return (tuple(str(f) for f in folders), tuple(out))


def load_usage(folders: list[Path] | None = None) -> UsageIndex:
    """The usage files in `folders` (default: those named by CODESET_USAGE_PATH), each checked and
    indexed; the same files in the same state give the same index without being read again."""
    folders = usage_search_paths() if folders is None else [Path(f) for f in folders]
    return _load(_stamps(folders), str(cache_dir()))


@functools.lru_cache(maxsize=8)
def _load(stamps: tuple, cache: str) -> UsageIndex:
    files: list[UsageFile] = []
    ignored: list[Path] = []
    seen: dict[tuple[str, str], Path] = {}
    for name, _ in stamps[1]:
        path = Path(name)
        identified = _classify(path)
        if identified is None:
            ignored.append(path)
            continue
        system, year = identified
        if (system, year) in seen:
            raise UsageFileError(
                f"a second {system} usage file for {year} (the first is {seen[system, year]}): "
                "keep one file per year",
                path=path,
            )
        seen[system, year] = path
        try:
            usage_file = UsageFile(path, system, year, file_sha256(path))
        except OSError as exc:
            raise UsageFileError(file_problem(exc), path=path) from None
        _ensure_indexed(usage_file)
        files.append(usage_file)
    return UsageIndex(tuple(files), tuple(ignored))


def usage_of(codes: Iterable[str], system: str, index: UsageIndex | None = None) -> pd.DataFrame:
    """Usage of `codes` per loaded year of `system`: code, year, usage, suppressed,
    active_at_start, active_at_end (see `UsageIndex.usage_of`)."""
    return (index or load_usage()).usage_of(codes, system)


# Reading one file.


def _count(value: str) -> int | None:
    """A published count: digits (thousands may be separated by commas), or `*` for suppressed."""
    if value == "*":
        return None
    if not _COUNT.match(value):
        raise ValueError(value)
    return int(value.replace(",", ""))


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(value)
    return value == "1"


def read_usage_file(path: Path, system: str) -> pa.Table:
    """Every row of a usage file, checked: code (as the kit stores it), usage (null when
    suppressed), suppressed, active_at_start, active_at_end (null for hospital files)."""
    columns = COLUMNS[system]
    lines = read_text(path, UsageFileError).split("\n")
    header = lines[0].rstrip("\r")
    if _header_system(header) != system:
        raise UsageFileError(
            f"expected the tab-separated header {' '.join(columns)}, found "
            f"{one_line(header) or 'nothing'}",
            path=path,
            line=1,
        )
    codes: list[str] = []
    usage: list[int | None] = []
    starts: list[bool | None] = []
    ends: list[bool | None] = []
    lines_of: list[int] = []
    first_seen: dict[str, int] = {}
    for number, text in enumerate(lines[1:], start=2):
        text = text.rstrip("\r")
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split("\t")]
        if len(fields) != len(columns):
            raise UsageFileError(
                f"expected {len(columns)} tab-separated fields, found {len(fields)}",
                path=path,
                line=number,
            )
        code = fields[0]
        if system == ICD10:
            problem = icd10_problem(code)
            if problem:
                raise UsageFileError(
                    f"{one_line(code)!r} is not an ICD-10 code: {problem}",
                    path=path,
                    line=number,
                    field=columns[0],
                )
            code = normalise_icd10(code)
        if code in first_seen:
            raise UsageFileError(
                f"{code} is listed twice (first on line {first_seen[code]})",
                path=path,
                line=number,
                field=columns[0],
            )
        first_seen[code] = number
        try:
            count = _count(fields[2])
        except ValueError:
            raise UsageFileError(
                f"{one_line(fields[2])!r} is not a count: expected a whole number or * (suppressed)",
                path=path,
                line=number,
                field="Usage",
            ) from None
        flags: list[bool | None] = [None, None]
        for i, name in enumerate(columns[3:]):
            try:
                flags[i] = _flag(fields[3 + i])
            except ValueError:
                raise UsageFileError(
                    f"{one_line(fields[3 + i])!r} is not 1 (active) or 0 (not active)",
                    path=path,
                    line=number,
                    field=name,
                ) from None
        codes.append(code)
        usage.append(count)
        starts.append(flags[0])
        ends.append(flags[1])
        lines_of.append(number)
    if system == SNOMEDCT:
        bad = first_bad_sctid(codes)
        if bad is not None:
            raise UsageFileError(
                f"{one_line(codes[bad])!r} is not a SNOMED CT concept id: {sctid_problem(codes[bad])}",
                path=path,
                line=lines_of[bad],
                field=columns[0],
            )
    return pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "usage": pa.array(usage, pa.int64()),
            "suppressed": pa.array([u is None for u in usage], pa.bool_()),
            "active_at_start": pa.array(starts, pa.bool_()),
            "active_at_end": pa.array(ends, pa.bool_()),
        }
    )


# The index of each file in the cache folder.


def _index_path(usage_file: UsageFile) -> Path:
    name = f"{usage_file.system}-{usage_file.sha256[:32]}-v{INDEX_FORMAT}.parquet"
    return cache_dir() / "usage" / name


def _write_index(target: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(target, sink.getvalue().to_pybytes())
    except (OSError, CodesetError):
        # The index only saves reading the file again; a cache that cannot be written is no error.
        _unindexed[target] = table


# Tables whose index could not be written, kept for the life of the process instead.
_unindexed: dict[Path, pa.Table] = {}


def _ensure_indexed(usage_file: UsageFile) -> None:
    target = _index_path(usage_file)
    if target in _unindexed or _readable(target):
        return
    _write_index(target, read_usage_file(usage_file.path, usage_file.system))


def _readable(target: Path) -> bool:
    try:
        return pq.read_schema(target).names[0] == "code"
    except (OSError, pa.ArrowException):
        return False


def _rows_of(usage_file: UsageFile, codes: list[str]) -> dict[str, tuple]:
    """The rows of `codes` in one year's file, from its index: code → (usage, suppressed, active at
    start, active at end)."""
    if not codes:
        return {}
    target = _index_path(usage_file)
    if target in _unindexed:
        table = _unindexed[target]
        table = table.filter(pc.is_in(table["code"], value_set=pa.array(codes, pa.string())))
    else:
        try:
            table = pq.read_table(target, filters=[("code", "in", codes)])
        except (OSError, pa.ArrowException):
            # The entry went away or was damaged after it was checked: read the file again.
            _write_index(target, read_usage_file(usage_file.path, usage_file.system))
            return _rows_of(usage_file, codes)
    out = {}
    for row in table.to_pylist():
        shown = (
            pd.NA if row["usage"] is None else row["usage"],
            row["suppressed"],
            pd.NA if row["active_at_start"] is None else row["active_at_start"],
            pd.NA if row["active_at_end"] is None else row["active_at_end"],
        )
        out[row["code"]] = shown
    return out


# What a reader sees.


def shown_usage(usage: object, suppressed: bool, system: str) -> str:
    """A usage figure as the kit shows it: `12,340`, `0`, or what a suppressed `*` stands for."""
    if suppressed:
        return SUPPRESSED_SHOWN[system]
    return f"{int(usage):,}"  # type: ignore[call-overload]


def usage_column(year: str) -> str:
    """The heading of one year's usage column."""
    return f"Usage {year}"


def usage_by_year(
    codes: Iterable[str], system: str, index: UsageIndex | None = None
) -> pd.DataFrame:
    """One row per code (as given, each once): `Code`, then one `Usage <year>` column of text per
    loaded year, oldest first (no year columns when no file of `system` is loaded)."""
    frame = usage_of(codes, system, index)
    asked = list(dict.fromkeys(codes))
    wide = pd.DataFrame({"Code": asked})
    for year, rows in frame.groupby("year", sort=True):
        shown = {
            r.code: shown_usage(r.usage, r.suppressed, system) for r in rows.itertuples(index=False)
        }
        wide[usage_column(str(year))] = [shown[c] for c in asked]
    return wide


def describe(system: str) -> str:
    """Where the usage figures of `system` come from and what they count, in a sentence."""
    return PUBLICATIONS[system]


# What lint asks of national usage.

DEFAULT_LEFT_OUT_THRESHOLD = 1_000


@dataclass(frozen=True)
class LeftOutUse:
    """A code the rules leave out below an included concept, and its use in the latest year."""

    code: str
    below: str
    year: str
    usage: int
    excluded_by: str | None


def unused_codes(
    codes: Iterable[str], system: str, terminology: Terminology, index: UsageIndex
) -> list[str]:
    """The codes no loaded year lists as used (a suppressed `*` is use). Hospital tables count codes
    at their finest level, so an ICD-10 code with children is not judged."""
    judged = [c for c in codes if system != ICD10 or not terminology.children(c)]
    frame = index.usage_of(judged, system)
    used = set(frame.loc[frame["suppressed"] | (frame["usage"].fillna(0) > 0), "code"])
    return [c for c in judged if c not in used]


def used_codes_left_out(
    expansion: Expansion, terminology: Terminology, index: UsageIndex, threshold: int
) -> list[LeftOutUse]:
    """Descendants of the expansion's codes that the rules leave out, used more than `threshold`
    times in the latest loaded year of the release's coding system, in code order."""
    system = terminology.system
    latest = index.latest_year(system)
    included = expansion.code_set
    if latest is None or not included:
        return []
    # Walking from the highest included codes reaches every descendant of the others too.
    tops = [c for c in included if not (terminology.parents(c) & included)]
    below: dict[str, str] = {}
    for top in sorted(tops, key=code_sort_key):
        if terminology.lookup(top) is None:
            continue
        for code in terminology.descendants_of(top) - included:
            below.setdefault(code, top)
    frame = index.usage_of(sorted(below, key=code_sort_key), system)
    busy = frame[(frame["year"] == latest) & ~frame["suppressed"]]
    busy = busy[busy["usage"].fillna(0) > threshold]
    excluded_by = {
        code: effect.rule.id
        for effect in expansion.effects
        if effect.rule.action == "exclude"
        for code in effect.removed
    }
    return [
        LeftOutUse(code, below[code], latest, int(usage), excluded_by.get(code))
        for code, usage in zip(busy["code"], busy["usage"], strict=True)
    ]
