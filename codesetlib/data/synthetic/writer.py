"""Write a dataset's tables as Parquet, chunk by chunk, into a staging folder put in place whole.

Files are byte-identical for the same rows: fixed schemas, fixed row-group size, no timestamps.
A dataset folder is the kit's when its manifest.json is one the writer wrote and it holds nothing
else but the tables that manifest lists; only such a folder (or an empty one) is replaced without
`force`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesetlib.core.atomic import StagedFolder, refuse_existing
from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic.dates import NO_DATE

SCHEMA_VERSION = "1.0"
MANIFEST = "manifest.json"
# What the kit writes in a dataset folder besides the tables its manifest lists.
KIT_FILES = frozenset({MANIFEST})
ROW_GROUP_SIZE = 262_144
DATE = pa.date32()
SCHEMAS = {
    "practices": pa.schema(
        [("practice_id", pa.int32()), ("borough", pa.string()), ("list_size", pa.int32())]
    ),
    "patients": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("sex", pa.string()),
            ("date_of_birth", DATE),
            ("date_of_death", DATE),
            ("imd_quintile", pa.int8()),
        ]
    ),
    "registrations": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("practice_id", pa.int32()),
            ("start_date", DATE),
            ("end_date", DATE),
        ]
    ),
    "clinical_events": pa.schema(
        [("patient_id", pa.int64()), ("date", DATE), ("code", pa.string()), ("value", pa.float64())]
    ),
    "medications": pa.schema([("patient_id", pa.int64()), ("date", DATE), ("code", pa.string())]),
    "truth_conditions": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("condition", pa.string()),
            ("onset_date", DATE),
            ("how_diagnosed", pa.string()),
        ]
    ),
    "truth_attributes": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("ethnicity", pa.string()),
            ("main_language", pa.string()),
            ("employment_status", pa.string()),
            ("family_history_of_cancer", pa.bool_()),
        ]
    ),
}

Column = np.ndarray | tuple[np.ndarray, list[str]]


def arrow_column(values: Column, kind: pa.DataType) -> pa.Array:
    """An Arrow column from generator arrays: (indices, names) for strings, day numbers for dates
    (NO_DATE is null), NaN for a missing float."""
    if isinstance(values, tuple):
        indices, names = values
        return pa.array(names, pa.string()).take(pa.array(np.asarray(indices, dtype=np.int32)))
    if kind == DATE:
        days = np.asarray(values, dtype=np.int64)
        return pa.array(days.astype(np.int32), pa.int32(), mask=days == NO_DATE).cast(DATE)
    if pa.types.is_floating(kind):
        return pa.array(values, kind, mask=np.isnan(values))
    return pa.array(values, kind)


def arrow_table(name: str, columns: dict[str, Column]) -> pa.Table:
    """A table of the dataset from a chunk's columns, in the schema's column order."""
    schema = SCHEMAS[name]
    return pa.Table.from_arrays(
        [arrow_column(columns[f.name], f.type) for f in schema], schema=schema
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_kit_manifest(manifest: object) -> bool:
    """Whether a parsed manifest.json is one the writer wrote: a schema version, parameters, and a
    row count and SHA-256 for every table."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        return False
    tables = manifest["tables"]
    return (
        isinstance(manifest.get("schema_version"), str)
        and isinstance(manifest.get("parameters"), dict)
        and all(isinstance(t, dict) and {"rows", "sha256"} <= set(t) for t in tables.values())
    )


def why_not_a_kit_dataset(folder: Path) -> str | None:
    """None when `folder` is empty or a dataset the kit wrote and nothing else; otherwise why it
    is not (what replacing it would lose)."""
    if folder.is_symlink():
        return "is a link, not a dataset folder the kit wrote"
    if not folder.is_dir():
        return "is a file, not a dataset the kit wrote"
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return None
    path = folder / MANIFEST
    if not path.is_file():
        return f"is not a dataset the kit wrote (it holds no {MANIFEST})"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        manifest = None
    if not is_kit_manifest(manifest):
        return f"is not a dataset the kit wrote ({path} is not a manifest the kit wrote)"
    ours = KIT_FILES | {f"{name}.parquet" for name in manifest["tables"]}
    # A folder or link where a table should be is not a table the kit wrote.
    theirs = [
        name
        for name in names
        if name not in ours or (folder / name).is_symlink() or not (folder / name).is_file()
    ]
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        return f"holds {shown}, which the kit did not write"
    return None


def refuse_foreign_dataset(out_dir: Path, force: bool) -> None:
    """Refuse to replace `out_dir` unless it is absent, empty or the kit's, or `force` is given."""
    refuse_existing(
        out_dir,
        force=force,
        not_owned=why_not_a_kit_dataset,
        replace_with="the dataset",
        error=DatasetError,
    )


class DatasetWriter:
    """Writes the tables of one dataset into a staging folder; `commit` puts it in place whole.

    A folder at `out_dir` that is not the kit's (see `why_not_a_kit_dataset`) is refused before
    anything is written, and again before it is replaced, unless `force` is given."""

    def __init__(self, out_dir: Path, *, force: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.force = force
        refuse_foreign_dataset(self.out_dir, force)
        self.staged = StagedFolder(self.out_dir)
        self.staging = self.staged.path
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = dict.fromkeys(SCHEMAS, 0)

    def write(self, name: str, columns: dict[str, Column]) -> None:
        """Append a chunk's rows of one table."""
        table = arrow_table(name, columns)
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(
                self.staging / f"{name}.parquet", SCHEMAS[name], compression="zstd"
            )
        self.writers[name].write_table(table, row_group_size=ROW_GROUP_SIZE)
        self.rows[name] += table.num_rows

    def commit(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Close every file, write the manifest with row counts, sizes and hashes, and move into place."""
        for name in SCHEMAS:
            if name not in self.writers:  # a table with no rows still gets its file and schema
                self.writers[name] = pq.ParquetWriter(
                    self.staging / f"{name}.parquet", SCHEMAS[name], compression="zstd"
                )
            self.writers[name].close()
        tables = {
            name: {
                "rows": self.rows[name],
                "bytes": (self.staging / f"{name}.parquet").stat().st_size,
                "sha256": sha256_of(self.staging / f"{name}.parquet"),
            }
            for name in SCHEMAS
        }
        manifest = {**manifest, "schema_version": SCHEMA_VERSION, "tables": tables}
        (self.staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # Something may have been put in the folder while the dataset was generated.
        refuse_foreign_dataset(self.out_dir, self.force)
        self.staged.commit()
        return manifest

    def abandon(self) -> None:
        """Remove the staging folder after a failure; the previous dataset stays as it was."""
        for writer in self.writers.values():
            # closing after an error may fail again; the folder goes anyway
            with contextlib.suppress(Exception):
                writer.close()
        self.staged.abandon()
