"""The DuckDB engine: runs cohort plans over a data source's tables in an embedded database.

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

from codesetlib.cohorts.engines.ibis_engine import IbisEngine, remembered
from codesetlib.cohorts.relations import content_name
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import DataSource, OpenedSource, data_source


class DuckDBEngine(IbisEngine):
    """A DuckDB connection with a data source's tables registered as views.

    `data` is a source (`codesetlib.data.sources`) or what names one: a folder of the kit's Parquet
    tables, or `omop:PATH`, `ehrql:PATH`, `mapped:MAPPING.yaml`. `patients` and `clinical_events`
    must exist; the other tables are read when present, and a definition that needs a missing one
    is refused before it runs.
    """

    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        data: Path | str | DataSource,
        threads: int | None = None,
        opened: OpenedSource | None = None,
    ) -> None:
        self.source = data_source(data)
        self.opened = self.source.open(threads) if opened is None else opened
        if self.opened.backend != "duckdb":
            raise DatasetError(
                f"{self.source.spec()} is not read through DuckDB; use open_engine() for it"
            )
        self.dataset_dir = Path(self.source.location)
        super().__init__(self.opened.con, dict(self.opened.tables))
        self.coding_systems = dict(self.opened.coding_systems)
        self._sql: OrderedDict[ops.Node, str] = OrderedDict()

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
