"""A codeset's files: its folder `codesets/<id>/` with `codeset.yaml` (metadata and rules) and
`codes.csv` (its codes), the versions archived under `history/`, and the folder's `codesets.yaml`.

Each codeset lives in its own folder so that a change to it reads as a diff. Reading validates against
the model (`model.py`) and names file, line and field of what is wrong; writing is atomic.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from codesetlib.codesets.model import (
    CODESET_ID,
    PATTERN_HINTS,
    SEMVER,
    CodeRow,
    Codeset,
    FolderSettings,
    version_key,
)
from codesetlib.core import atomic
from codesetlib.core.csvfiles import csv_text, read_csv, require_columns
from codesetlib.core.errors import CodesetFormatError, CodesetNotFound
from codesetlib.core.textfiles import one_line
from codesetlib.core.yamlfile import validate_yaml

CODESET_FILE = "codeset.yaml"
CODES_FILE = "codes.csv"
HISTORY_DIR = "history"
SETTINGS_FILE = "codesets.yaml"
CODES_COLUMNS = ["code", "term", "rule", "active"]


def codeset_dir(codesets_root: Path, codeset_id: str) -> Path:
    """The folder of codeset `codeset_id`; a clear error lists the codesets there are.

    An id names a folder in `codesets_root` and nothing else: one such as `../../elsewhere/x` is
    refused, so that what a study or cohort names cannot lie outside its codesets folder."""
    if not re.fullmatch(CODESET_ID, codeset_id):
        raise CodesetNotFound(
            f"'{codeset_id}' is not a codeset id: a codeset is named by its folder in "
            f"{codesets_root}, with {PATTERN_HINTS[CODESET_ID]}"
        )
    folder = codesets_root / codeset_id
    if not (folder / CODESET_FILE).is_file():
        known = ", ".join(available_codesets(codesets_root)) or "none"
        raise CodesetNotFound(
            f"no codeset '{codeset_id}' (expected {folder / CODESET_FILE}; available: {known})"
        )
    return folder


def available_codesets(codesets_root: Path) -> list[str]:
    """Ids of the codesets under `codesets_root`."""
    if not codesets_root.is_dir():
        return []
    return sorted(p.parent.name for p in codesets_root.glob(f"*/{CODESET_FILE}"))


def load_folder_settings(codesets_root: Path) -> FolderSettings:
    """The settings of a folder of codesets: its `codesets.yaml`, or the defaults when it has none."""
    path = codesets_root / SETTINGS_FILE
    if not path.exists():
        return FolderSettings()
    return validate_yaml(path, FolderSettings, CodesetFormatError)


def archived_versions(folder: Path) -> list[str]:
    """The versions archived under `folder/history/`, oldest first.

    Everything there is a version folder holding its codeset.yaml; anything else (`history/old/`, a
    stray file) is refused by name rather than skipped, since `codeset check` must see every version."""
    history = folder / HISTORY_DIR
    if not history.exists():
        return []
    if not history.is_dir():
        raise CodesetFormatError(
            "expected a folder of archived versions, found a file", path=history
        )
    found = []
    for entry in sorted(history.iterdir()):
        if entry.name.startswith("."):  # the file manager's own files, e.g. .DS_Store
            continue
        if not entry.is_dir() or not re.fullmatch(SEMVER, entry.name):
            raise CodesetFormatError(
                f"not a version: each entry of {HISTORY_DIR}/ is a folder named for the version it "
                f"archives, {PATTERN_HINTS[SEMVER]}",
                path=entry,
            )
        if not (entry / CODESET_FILE).is_file():
            raise CodesetFormatError(
                f"an archived version holds {CODESET_FILE} and {CODES_FILE}; {CODESET_FILE} is missing",
                path=entry,
            )
        found.append(entry.name)
    return sorted(found, key=version_key)


def load_codeset(folder: Path) -> Codeset:
    """Read and validate `folder/codeset.yaml`; its id must match the folder name.

    Each version is validated once per process: the model is immutable, so the one read is shared
    by every layer that asks for it until the file's content changes, when it is read again."""
    path = folder / CODESET_FILE
    try:
        fingerprint: str | None = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        fingerprint = None  # validate_yaml says what is wrong with it
    codeset = (
        _parsed_codeset(path, fingerprint)
        if fingerprint is not None
        else validate_yaml(path, Codeset, CodesetFormatError, PATTERN_HINTS)
    )
    expected = folder.parent.name if folder.parent.name == HISTORY_DIR else folder.name
    if folder.parent.name != HISTORY_DIR and codeset.id != expected:
        raise CodesetFormatError(
            f"id '{codeset.id}' does not match the folder name '{folder.name}'",
            path=path,
            field="id",
        )
    return codeset


@functools.lru_cache(maxsize=512)
def _parsed_codeset(path: Path, fingerprint: str) -> Codeset:
    """The validated codeset.yaml at `path` whose content has the SHA-256 `fingerprint`."""
    return validate_yaml(path, Codeset, CodesetFormatError, PATTERN_HINTS)


def codeset_reads() -> int:
    """How many codeset.yaml files this process has read and validated (each version once)."""
    return _parsed_codeset.cache_info().misses


def read_codes(folder: Path) -> list[CodeRow]:
    """Read `folder/codes.csv`, refusing a missing column, a blank code or a duplicate with its row.

    Cells the kit escaped against spreadsheet formulas when writing are read back as they were."""
    path = folder / CODES_FILE
    records = read_csv(path, CodesetFormatError)
    header = records[0][1] if records else []
    require_columns(header, CODES_COLUMNS, path, CodesetFormatError)
    rows, seen = [], set()
    for line, cells in records[1:]:
        if len(cells) != len(header):
            raise CodesetFormatError(
                f"expected {len(header)} cells, as the header has, found {len(cells)}",
                path=path,
                line=line,
            )
        row = dict(zip(header, cells, strict=True))
        code = row["code"].strip()
        if not code:
            raise CodesetFormatError("blank code", path=path, line=line, field="code")
        if code in seen:
            raise CodesetFormatError(
                f"code {one_line(code)} is listed twice", path=path, line=line, field="code"
            )
        if row["active"] not in ("true", "false"):
            raise CodesetFormatError(
                f"expected true or false, found {row['active']!r}",
                path=path,
                line=line,
                field="active",
            )
        seen.add(code)
        rows.append(
            CodeRow(code=code, term=row["term"], rule=row["rule"], active=row["active"] == "true")
        )
    return rows


def codes_csv_text(rows: list[CodeRow]) -> str:
    """`codes.csv` as text: the canonical form that is written and hashed, escaped against formulas."""
    return csv_text(
        CODES_COLUMNS,
        ([row.code, row.term, row.rule, "true" if row.active else "false"] for row in rows),
    )


def write_codes(folder: Path, rows: list[CodeRow]) -> Path:
    """Write `codes.csv` atomically."""
    return atomic.write_text(folder / CODES_FILE, codes_csv_text(rows))
