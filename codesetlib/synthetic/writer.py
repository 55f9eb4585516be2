"""Write a dataset's tables as Parquet, chunk by chunk, into a staging folder renamed into place whole.

Files are byte-identical for the same rows: fixed schemas, fixed row-group size, no timestamps."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codesetlib.synthetic.dates import NO_DATE

SCHEMA_VERSION = "1.0"
MANIFEST = "manifest.json"
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


class DatasetWriter:
    """Writes the tables of one dataset into a staging folder; `commit` renames it into place."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
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
        """Close every file, write the manifest with row counts and hashes, and move into place."""
        for name in SCHEMAS:
            if name not in self.writers:  # a table with no rows still gets its file and schema
                self.writers[name] = pq.ParquetWriter(
                    self.staging / f"{name}.parquet", SCHEMAS[name], compression="zstd"
                )
            self.writers[name].close()
        tables = {
            name: {"rows": self.rows[name], "sha256": sha256_of(self.staging / f"{name}.parquet")}
            for name in SCHEMAS
        }
        manifest = {**manifest, "schema_version": SCHEMA_VERSION, "tables": tables}
        (self.staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        self.staging.chmod(0o755)
        old = None
        if self.out_dir.exists():
            old = self.out_dir.with_name(f".{self.out_dir.name}.old.{os.getpid()}")
            self.out_dir.rename(old)
        self.staging.rename(self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest

    def abandon(self) -> None:
        """Remove the staging folder after a failure; the previous dataset stays as it was."""
        for writer in self.writers.values():
            # closing after an error may fail again; the folder goes anyway
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(self.staging, ignore_errors=True)
