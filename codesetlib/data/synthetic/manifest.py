"""A dataset's manifest, and the check of its tables against it before any of them is read.

The writer records in `manifest.json` each table's row count, size in bytes and SHA-256. Every reader
of a dataset gets the paths of the tables it opens from `dataset_tables`, which first checks each one
against the manifest: a table that is missing, is not a file, cannot be read, has another size or
other content is a `DatasetError` naming its file, so a damaged dataset is never analysed. Hashes are
remembered by each file's fingerprint (`codesetlib.core.file_hashes`), so an unchanged table is not read
twice. A folder of tables without a manifest.json is data the kit did not write (an extract, a test's
hand-made tables): there is nothing to check it against, and it is read as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codesetlib.core.errors import DatasetError
from codesetlib.core.file_hashes import file_sha256
from codesetlib.data.synthetic.writer import MANIFEST, is_kit_manifest


def _reason(exc: OSError) -> str:
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    return (exc.strerror or str(exc)).lower()


def _present(path: Path) -> bool:
    """Whether anything (a file, folder or link) is at `path`; a `DatasetError` when the file system
    will not say (a folder above it may not be entered)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise DatasetError(f"cannot read: {_reason(exc)}", path=path) from None
    return True


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the dataset in `folder`; a `DatasetError` naming manifest.json (and the field)
    when it is missing, unreadable, not JSON or not a manifest the kit writes."""
    path = Path(folder) / MANIFEST
    if not _present(path):
        raise DatasetError(
            "no manifest.json: not a generated dataset (run `codeset synth --out DIR`)",
            path=folder,
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read: {_reason(exc)}", path=path) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"byte {exc.start} is not UTF-8", path=path) from None
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"not JSON: {exc}", path=path) from None
    if not is_kit_manifest(manifest):
        raise DatasetError(
            "not a manifest the kit writes (it needs schema_version, parameters, and rows and "
            "sha256 for every table)",
            path=path,
            field="tables",
        )
    return manifest


def table_problem(path: Path, entry: dict[str, Any]) -> str | None:
    """Why the table file at `path` does not match its manifest entry, or None when it does."""
    try:
        if path.is_symlink() and not path.exists():
            return "is a link to nothing"
        if not path.exists():
            return "is missing"
        if not path.is_file():
            return "is not a file"
        size = path.stat().st_size
        recorded = entry.get("bytes")
        if isinstance(recorded, int) and size != recorded:
            change = "truncated" if size < recorded else "grown"
            return (
                f"is {size} bytes where the manifest records {recorded} "
                f"({change} since it was written)"
            )
        sha256 = file_sha256(path)
    except OSError as exc:
        return f"cannot be read: {_reason(exc)}"
    if sha256 != entry["sha256"]:
        return (
            f"has other content than the manifest records (SHA-256 {sha256[:12]}…, manifest "
            f"{str(entry['sha256'])[:12]}…): it was changed or damaged after it was written"
        )
    return None


def verify_dataset(folder: Path, names: Iterable[str] | None = None) -> dict[str, Any]:
    """Check the tables `names` (default: every table the manifest lists) of the dataset in `folder`
    against its manifest; return the manifest. The first table that does not match is a
    `DatasetError` naming its file (and how many others do not match either)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    tables = manifest["tables"]
    wanted = list(tables) if names is None else list(names)
    unlisted = [
        name for name in wanted if name not in tables and _present(table_path(folder, name))
    ]
    if unlisted:
        raise DatasetError(
            f"{MANIFEST} lists no table {unlisted[0]}: a dataset's tables are the ones its "
            "manifest lists",
            path=table_path(folder, unlisted[0]),
        )
    problems = [
        (name, problem)
        for name in wanted
        if name in tables
        and (problem := table_problem(table_path(folder, name), tables[name])) is not None
    ]
    if problems:
        name, problem = problems[0]
        others = (
            f" ({len(problems) - 1} other table(s) do not match either)" if problems[1:] else ""
        )
        raise DatasetError(
            f"{problem}; the dataset does not match its {MANIFEST}{others}",
            path=table_path(folder, name),
        )
    return manifest


def table_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{name}.parquet"


def dataset_tables(folder: Path, names: Iterable[str]) -> dict[str, Path]:
    """The files of the tables `names` that the dataset in `folder` holds, by name, each checked
    against the dataset's manifest first (when it has one). A table the dataset does not hold is
    left out; whether it is needed is the reader's to say."""
    folder = Path(folder)
    names = list(names)
    if _present(folder / MANIFEST):
        listed = verify_dataset(folder, names)["tables"]
        return {name: table_path(folder, name) for name in names if name in listed}
    return {name: table_path(folder, name) for name in names if table_path(folder, name).is_file()}


def dataset_damage(folder: Path) -> DatasetError | None:
    """What is wrong with the tables of the dataset in `folder` against its manifest, or None."""
    try:
        verify_dataset(folder)
    except DatasetError as exc:
        return exc
    return None
