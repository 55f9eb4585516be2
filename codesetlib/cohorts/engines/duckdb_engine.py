"""The DuckDB engine: runs cohort plans over a dataset's Parquet files in an embedded database.

Each plan's SQL is compiled once and kept; results are fetched as Arrow and converted to pandas in
one step. Codes and intervals are loaded into temporary tables named by their content, so a kept
SQL text stays valid for as long as the connection lives.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from codesetlib.cohorts.engines.ibis_engine import DATASET_TABLES, IbisEngine, remembered
from codesetlib.cohorts.relations import content_name
from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic.manifest import dataset_tables

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
        self._sql: OrderedDict[ops.Node, str] = OrderedDict()
        # Each table is checked against the dataset's manifest before it is read.
        paths = dataset_tables(self.dataset_dir, DATASET_TABLES)
        for name in DATASET_TABLES:
            if name in paths or name in REQUIRED_COLUMNS:
                self.tables[name] = self._read(name, paths, REQUIRED_COLUMNS.get(name, set()))

    def _read(self, name: str, paths: dict[str, Path], columns: set[str]) -> ir.Table:
        path = paths.get(name, self.dataset_dir / f"{name}.parquet")
        if name not in paths:
            raise DatasetError(f"table {name} is missing (expected {path})", path=self.dataset_dir)
        table = self.con.read_parquet(path, table_name=name)
        missing = columns - set(table.columns)
        if missing:
            raise DatasetError(
                f"missing column(s) {', '.join(sorted(missing))}", path=path, field=name
            )
        return table

    def relation(self, frame: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
        """The frame as a temporary table named by its content (created once per connection)."""
        arrow = pa.Table.from_pandas(
            frame, schema=ibis.schema(schema).to_pyarrow(), preserve_index=False
        )
        name = content_name(frame, schema, "cohort_relation")
        raw = self.con.con
        raw.register(f"{name}_source", arrow)
        raw.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{name}" AS SELECT * FROM "{name}_source"')
        raw.unregister(f"{name}_source")
        return self.con.table(name)

    def compiled_sql(self, expr: ir.Table) -> str:
        """The SQL text DuckDB runs for `expr`, compiled once per expression."""
        return remembered(self._sql, expr.op(), lambda: self.con.compile(expr))

    def run_sql(self, sql: str) -> pa.Table:
        """Run a query and fetch its result as one Arrow table."""
        return self.con.con.sql(sql).to_arrow_table()

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        """The result of `expr` as Arrow: by its kept SQL, or by Ibis when it holds in-memory
        tables (which Ibis registers as it runs them)."""
        if expr.op().find(ops.InMemoryTable):
            return self.con.to_pyarrow(expr)
        return self.run_sql(self.compiled_sql(expr))

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        """The result of `expr` as pandas, with the column types Ibis gives (dates as datetimes)."""
        return arrow_to_pandas(self.to_pyarrow(expr), expr.schema())


def arrow_to_pandas(table: pa.Table, schema: ibis.Schema) -> pd.DataFrame:
    """One conversion of an Arrow result to pandas with the types Ibis gives: the expression's
    schema (so DuckDB's 128-bit sums come back as int64), and dates as datetime64[s]."""
    frame = table.cast(schema.to_pyarrow()).to_pandas(date_as_object=False)
    for name, dtype in schema.items():
        if dtype.is_date():
            frame[name] = frame[name].astype("datetime64[s]")
    return frame
