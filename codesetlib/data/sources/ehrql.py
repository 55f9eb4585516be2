"""OpenSAFELY's ehrQL `core` schema tables as files in one folder, read as the kit's tables.

The files are the ones ehrQL reads as dummy tables: `patients`, `practice_registrations`,
`clinical_events` and `medications`, each `.csv`, `.csv.gz` or `.parquet` (in either case), with
ehrQL's column names: `practice_pseudo_id` becomes `practice_id`, `snomedct_code` and `dmd_code`
become `code`, `numeric_value` becomes `value`, and the practices table is made from the distinct
practices of the registrations (with `practice_stp` and `practice_nuts1_region_name` when present).
Dates are ISO (YYYY-MM-DD). The columns ehrQL allows to be empty (date of death, the end of a
registration, a numeric value) may also be absent from a file; a note says what that means.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

from codesetlib.core.errors import DatasetError, file_problem
from codesetlib.data.sources.base import DataSource, OpenedSource, duckdb_settings
from codesetlib.data.sources.extracts import ExtractMapping, open_extract

CORE_TABLES = ("patients", "practice_registrations", "clinical_events", "medications")
REQUIRED = ("patients", "clinical_events")
SUFFIXES = (".csv", ".csv.gz", ".parquet")
# Columns of practice_registrations that describe the practice, carried to the practices table.
PRACTICE_COLUMNS = ("practice_stp", "practice_nuts1_region_name")


class EhrqlTables(DataSource):
    """A folder of ehrQL core tables (CSV or Parquet), such as ehrQL's dummy tables."""

    kind = "ehrql"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def location(self) -> str:
        return str(self.folder)

    def files(self) -> dict[str, Path]:
        """The file of each core table the folder has; two files for one table are refused."""
        if not self.folder.is_dir():
            problem = "is a file, not a folder" if self.folder.exists() else "folder not found"
            raise DatasetError(problem, path=self.folder)
        found: dict[str, list[Path]] = {}
        for path in sorted(self.folder.iterdir()):
            name = path.name.lower()
            for table in CORE_TABLES:
                if path.is_file() and name in {table + suffix for suffix in SUFFIXES}:
                    found.setdefault(table, []).append(path)
        for table, paths in found.items():
            if len(paths) > 1:
                raise DatasetError(
                    f"table {table} is in {len(paths)} files ({', '.join(p.name for p in paths)}); "
                    "keep one",
                    path=self.folder,
                )
        for table in REQUIRED:
            if table not in found:
                raise DatasetError(
                    f"table {table} is missing (expected {table}.csv, {table}.csv.gz or "
                    f"{table}.parquet)",
                    path=self.folder,
                )
        return {table: paths[0] for table, paths in found.items()}

    def mapping(self) -> ExtractMapping:
        """The core tables as an extract mapping: ehrQL's columns to the kit's."""
        files = self.files()
        columns = {table: header(path) for table, path in files.items()}

        def optional(table: str, name: str) -> dict[str, Any]:
            return {name: name} if name in columns[table] else {}

        tables: dict[str, Any] = {
            "patients": {
                "file": "patients",
                "patient_id": "patient_id",
                "sex": "sex",
                "date_of_birth": "date_of_birth",
                **optional("patients", "date_of_death"),
            },
            "clinical_events": {
                "file": "clinical_events",
                "code_system": "snomedct",
                "patient_id": "patient_id",
                "date": "date",
                "code": "snomedct_code",
                **(
                    {"value": "numeric_value"}
                    if "numeric_value" in columns["clinical_events"]
                    else {}
                ),
            },
        }
        if "practice_registrations" in files:
            tables["registrations"] = {
                "file": "practice_registrations",
                "patient_id": "patient_id",
                "practice_id": "practice_pseudo_id",
                "start_date": "start_date",
                **optional("practice_registrations", "end_date"),
                "practice_columns": {
                    c: c for c in PRACTICE_COLUMNS if c in columns["practice_registrations"]
                },
            }
        if "medications" in files:
            tables["medications"] = {
                "file": "medications",
                "code_system": "dmd",
                "patient_id": "patient_id",
                "date": "date",
                "code": "dmd_code",
            }
        return ExtractMapping.model_validate(
            {
                "description": "ehrQL core tables",
                "files": {table: {"path": path.name} for table, path in files.items()},
                "date_format": "%Y-%m-%d",
                "tables": tables,
            }
        )

    def open(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> OpenedSource:
        details = {"kind": self.kind, "folder": str(self.folder)}
        settings = duckdb_settings(threads, memory_limit, temp_directory)
        return open_extract(self.mapping(), self.folder, settings, details)


def header(path: Path) -> list[str]:
    """The column names of a CSV (first line) or Parquet file (its schema)."""
    try:
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as handle:
            first = handle.readline().decode("utf-8-sig")
    except OSError as exc:
        raise DatasetError(file_problem(exc), path=path) from None
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text: its header cannot be read", path=path, line=1) from None
    except Exception as exc:  # pyarrow's errors for a file that is not Parquet
        raise DatasetError(f"cannot be read: {exc}", path=path) from None
    return next(csv.reader(io.StringIO(first)), [])
