"""The DuckDB engine: runs cohort plans over a dataset's Parquet files in an embedded database."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.errors import DatasetError

REQUIRED_COLUMNS = {
    "patients": {"patient_id", "sex", "date_of_birth", "date_of_death"},
    "clinical_events": {"patient_id", "date", "code"},
}


class DuckDBEngine:
    """A DuckDB connection with the dataset's tables registered as views over their Parquet files."""

    name = "duckdb"

    def __init__(self, dataset_dir: Path) -> None:
        self.dataset_dir = Path(dataset_dir)
        self.con = ibis.duckdb.connect()
        self.tables: dict[str, ir.Table] = {}
        for name, columns in REQUIRED_COLUMNS.items():
            self.tables[name] = self._read(name, columns)

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

    def table(self, name: str) -> ir.Table:
        return self.tables[name]

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        return self.con.execute(expr)

    def sql(self, expr: ir.Table) -> str:
        """The SQL the engine runs for `expr`, saved for the record."""
        return str(ibis.to_sql(expr, dialect="duckdb"))
