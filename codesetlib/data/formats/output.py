"""What the kit's format writers share: reading a generated dataset, writing tables in fixed row
groups, recording what was written, and refusing to replace what the kit did not write.

A folder of tables a format writer wrote holds `codeset_format.json` beside them: the format, the
dataset it was made from (by the hashes of its tables) and each table's file, rows, size and SHA-256.
The same dataset gives byte-identical files: row groups of a fixed size, no timestamps, keys sorted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as arrow_csv
import pyarrow.parquet as pq

from codesetlib.core.atomic import refuse_existing
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources.base import SourceNote
from codesetlib.data.synthetic.manifest import dataset_tables, read_manifest
from codesetlib.data.synthetic.writer import (
    ROW_GROUP_SIZE,
    SCHEMAS,
    sha256_of,
    why_not_a_kit_dataset,
)

FORMAT_MARKER = "codeset_format.json"
# Rows read from a kit table at a time: one row group of the kit's writer.
READ_BATCH = ROW_GROUP_SIZE


@dataclass
class FormatWritten:
    """What a format writer wrote: where, in which format, the rows of each table, and what it did
    to rows on the way (codes outside the vocabulary, patients with no registration)."""

    out: Path
    format: str
    rows: dict[str, int]
    notes: list[SourceNote] = field(default_factory=list)

    def summary(self) -> str:
        return ", ".join(f"{name} {rows}" for name, rows in self.rows.items())


@dataclass(frozen=True)
class KitDataset:
    """A generated dataset opened for conversion: its manifest and its checked table files."""

    folder: Path
    manifest: dict[str, Any]
    tables: dict[str, Path]

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.manifest["parameters"])

    def parameter(self, name: str) -> Any:
        value = self.manifest["parameters"].get(name)
        if value is None:
            raise DatasetError(
                f"the manifest's parameters lack {name}, which the conversion needs",
                path=self.folder / "manifest.json",
                field=f"parameters.{name}",
            )
        return value

    def batches(self, name: str, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows of table `name` in the order written, a row group at a time."""
        yield from pq.ParquetFile(self.tables[name]).iter_batches(
            batch_size=READ_BATCH, columns=columns
        )

    def source(self) -> dict[str, Any]:
        """What identifies the dataset in a written format's record: seed and table hashes."""
        return {
            "schema_version": self.manifest["schema_version"],
            "seed": self.manifest.get("seed"),
            "tables": {n: self.manifest["tables"][n]["sha256"] for n in sorted(self.tables)},
        }


def open_kit_dataset(folder: Path, names: list[str]) -> KitDataset:
    """The generated dataset in `folder` with the tables `names`, each checked against the manifest
    and against the kit's schema (a `DatasetError` names the file and the column)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    paths = dataset_tables(folder, names)
    for name in names:
        if name not in paths:
            raise DatasetError(
                f"table {name} is missing (expected {folder / f'{name}.parquet'})", path=folder
            )
        try:
            schema = pq.read_schema(paths[name])
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"cannot be read as Parquet: {exc}", path=paths[name]) from None
        for wanted in SCHEMAS[name]:
            if wanted.name not in schema.names:
                raise DatasetError(
                    f"lacks column {wanted.name} (columns: {', '.join(schema.names)})",
                    path=paths[name],
                    field=wanted.name,
                )
            found = schema.field(wanted.name).type
            if found != wanted.type:
                raise DatasetError(
                    f"column {wanted.name} is {found}, where the kit's schema has {wanted.type}",
                    path=paths[name],
                    field=wanted.name,
                )
    return KitDataset(folder, manifest, paths)


class TableWriter:
    """Writes one table as Parquet (row groups of exactly ROW_GROUP_SIZE rows, whatever the sizes
    of the batches given) or as CSV, so that the same rows give the same bytes."""

    def __init__(self, path: Path, schema: pa.Schema, table_format: str = "parquet") -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | arrow_csv.CSVWriter
        if table_format == "parquet":
            self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
        elif table_format == "csv":
            self._writer = arrow_csv.CSVWriter(self.path, schema)
        else:
            raise ValueError(f"unknown table format {table_format!r}")

    def write(self, columns: dict[str, pa.Array]) -> None:
        """Append rows given as one array per column of the schema."""
        batch = pa.RecordBatch.from_arrays(
            [columns[f.name] for f in self.schema], schema=self.schema
        )
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        while self._pending_rows >= ROW_GROUP_SIZE:
            self._flush(ROW_GROUP_SIZE)

    def _flush(self, size: int) -> None:
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        head, rest = table.slice(0, size), table.slice(size)
        if isinstance(self._writer, pq.ParquetWriter):
            self._writer.write_table(head.combine_chunks(), row_group_size=ROW_GROUP_SIZE)
        else:
            self._writer.write_table(head)
        self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()


def nulls(length: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(length, kind)


def constant(length: int, value: Any, kind: pa.DataType) -> pa.Array:
    return pa.array([value] * length, kind) if length else pa.array([], kind)


def write_format_record(
    folder: Path, format_name: str, dataset: KitDataset, files: dict[str, TableWriter]
) -> None:
    """Write `codeset_format.json`: the format, the dataset it came from and every table's file."""
    tables = {
        name: {
            "file": writer.path.name,
            "rows": writer.rows,
            "bytes": writer.path.stat().st_size,
            "sha256": sha256_of(writer.path),
        }
        for name, writer in sorted(files.items())
    }
    record = {"format": format_name, "source": dataset.source(), "tables": tables}
    (folder / FORMAT_MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _format_record(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / FORMAT_MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("tables"), dict):
        return None
    tables = record["tables"]
    if not isinstance(record.get("format"), str) or not all(
        isinstance(t, dict) and isinstance(t.get("file"), str) and "sha256" in t
        for t in tables.values()
    ):
        return None
    return record


def why_not_kit_output(path: Path, is_kit_file: Callable[[Path], bool] | None = None) -> str | None:
    """None when `path` is absent, an empty folder, a dataset the kit generated or a folder of tables a
    format writer wrote (and nothing else); otherwise why replacing it would lose what the kit did
    not write. `is_kit_file(path)` says whether a file there is one the kit wrote."""
    path = Path(path)
    if path.is_symlink():
        return "is a link, not something the kit wrote"
    if path.is_file():
        if is_kit_file is not None and is_kit_file(path):
            return None
        return "is a file the kit did not write"
    if why_not_a_kit_dataset(path) is None:
        return None
    record = _format_record(path) if (path / FORMAT_MARKER).is_file() else None
    if record is None:
        return (
            "is not a folder the kit wrote (it holds no manifest.json or "
            f"{FORMAT_MARKER} the kit wrote)"
        )
    ours = {FORMAT_MARKER} | {t["file"] for t in record["tables"].values()}
    theirs = [
        p.name
        for p in sorted(path.iterdir())
        if p.name not in ours or p.is_symlink() or not p.is_file()
    ]
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        return f"holds {shown}, which the kit did not write"
    return None


def refuse_foreign_output(
    out: Path,
    *,
    force: bool,
    replace_with: str,
    is_kit_file: Callable[[Path], bool] | None = None,
) -> None:
    """Refuse to replace `out` unless it is absent or the kit's, or `force` is given."""
    refuse_existing(
        out,
        force=force,
        not_owned=lambda p: why_not_kit_output(p, is_kit_file),
        replace_with=replace_with,
        error=DatasetError,
    )


def refuse_overlap(dataset_dir: Path, out: Path) -> None:
    """Refuse an output that is the dataset being converted, or inside it, or holds it."""
    source, target = Path(dataset_dir).resolve(), Path(out).resolve()
    if source == target or source in target.parents or target in source.parents:
        raise DatasetError(
            f"the output would replace or sit inside the dataset it is made from ({source}); "
            "name another path",
            path=out,
        )
