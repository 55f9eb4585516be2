"""The DuckDB engine: runs cohort plans over a dataset's Parquet files in an embedded database."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from codesetlib.cohort.ibis_engine import DATASET_TABLES, IbisEngine
from codesetlib.errors import DatasetError

REQUIRED_COLUMNS = {
    "patients": {"patient_id", "sex", "date_of_birth", "date_of_death"},
    "clinical_events": {"patient_id", "date", "code"},
}


class DuckDBEngine(IbisEngine):
    """A DuckDB connection with the dataset's tables registered as views over their Parquet files.

    `patients` and `clinical_events` must exist; the other tables are read when present, and a
    definition that needs a missing one is refused before it runs.
    """

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, dataset_dir: Path, threads: int | None = None) -> None:
        self.dataset_dir = Path(dataset_dir)
        con = ibis.duckdb.connect(**({"threads": threads} if threads else {}))
        super().__init__(con, {})
        for name in DATASET_TABLES:
            path = self.dataset_dir / f"{name}.parquet"
            if path.is_file() or name in REQUIRED_COLUMNS:
                self.tables[name] = self._read(name, REQUIRED_COLUMNS.get(name, set()))

    def _read(self, name: str, columns: set[str]) -> ir.Table:
        path = self.dataset_dir / f"{name}.parquet"
        if not path.is_file():
            raise DatasetError(f"table {name} is missing (expected {path})", path=self.dataset_dir)
        table = self.con.read_parquet(path, table_name=name)
        missing = columns - set(table.columns)
        if missing:
            raise DatasetError(
                f"missing column(s) {', '.join(sorted(missing))}", path=path, field=name
            )
        return table
