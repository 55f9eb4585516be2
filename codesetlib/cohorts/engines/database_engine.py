"""An engine on a database server the kit does not run (PostgreSQL): the same Ibis plan, compiled to
the server's SQL dialect and run where the data live, and `open_engine`, which picks the engine a
data source needs."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine, arrow_to_pandas
from codesetlib.cohorts.engines.ibis_engine import IbisEngine
from codesetlib.cohorts.relations import content_name
from codesetlib.core.errors import DatasetError
from codesetlib.data.sources import DataSource, OpenedSource, data_source

# The servers this engine runs on, by the name of their Ibis backend.
SERVERS = ("postgres",)


class DatabaseEngine(IbisEngine):
    """A source's tables on a database server's Ibis connection.

    Codes and intervals are sent to the server as temporary tables named by their content, created
    once per connection, so the plan's SQL reads the same on every run and joins them as data.
    Results come back through Arrow and are converted as the DuckDB engine converts them (dates as
    datetime64, counts as int64), so the two engines' results compare equal.
    """

    name = "database"

    def __init__(self, source: DataSource, opened: OpenedSource) -> None:
        if opened.backend not in SERVERS:
            raise DatasetError(
                f"{source.spec()}: the cohort engines run on DuckDB or on "
                f"{', '.join(SERVERS)}, not on a {opened.backend} connection"
            )
        self.source = source
        self.opened = opened
        self.name = opened.backend
        self.dialect = opened.backend
        super().__init__(opened.con, dict(opened.tables))
        self.coding_systems = dict(opened.coding_systems)
        self._relations: dict[str, ir.Table] = {}

    def relation(self, frame: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
        """The frame as a temporary table on the server, named by its content.

        Ibis's own in-memory tables cannot serve here: it registers each one under its name when a
        query first runs and drops it when the expression is freed, so a second plan joining the
        same codes would create a table that already exists, or lose one another plan still reads.
        """
        name = content_name(frame, schema, "cohort_relation")
        if name in self._relations:
            return self._relations[name]
        if self.temporary_table_exists(name):
            # Made by another engine on the same connection; its name says it holds these rows.
            table = self.con.table(name)
        else:
            types = ibis.schema(schema)
            rows = pa.Table.from_pandas(frame, schema=types.to_pyarrow(), preserve_index=False)
            table = self.con.create_table(name, schema=types, temp=True)
            self.copy_rows(name, rows)
        self._relations[name] = table
        return table

    def temporary_table_exists(self, name: str) -> bool:
        """Whether this connection already holds the temporary table `name`."""
        connection = self.con.con
        with connection.cursor() as cursor:
            found = cursor.execute("SELECT to_regclass(%s)", (f'pg_temp."{name}"',)).fetchone()
        return found is not None and found[0] is not None

    def copy_rows(self, name: str, rows: pa.Table) -> None:
        """Load the rows into the server's table `name` in one COPY (row by row INSERTs take
        seconds for a codeset of tens of thousands of codes), then gather its statistics:
        autovacuum never reads a temporary table, and without them the planner guesses a thousand
        rows or more for a few codes, plans joins for that, and may spend most of a second
        compiling the query (JIT) for a table of six rows."""
        connection = self.con.con
        columns = ", ".join(f'"{column}"' for column in rows.column_names)
        sql = f'COPY "{name}" ({columns}) FROM STDIN'
        with connection.cursor() as cursor:
            with connection.transaction(), cursor.copy(sql) as copy:
                for row in zip(*(rows[c].to_pylist() for c in rows.column_names), strict=True):
                    copy.write_row(row)
            cursor.execute(f'ANALYZE "{name}"')

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        """The result of `expr` as pandas, with the types the DuckDB engine gives."""
        return arrow_to_pandas(self.con.to_pyarrow(for_server(expr)), expr.schema())

    def sql(self, expr: ir.Table) -> str:
        """The SQL the server runs for `expr`, saved for the record."""
        return super().sql(for_server(expr))


def for_server(expr: ir.Table) -> ir.Table:
    """`expr` as PostgreSQL can run it: a yes/no counted as a number (`CAST(flag AS BIGINT)`, as
    Ibis writes it) goes through INTEGER, as PostgreSQL casts a boolean to no other number."""

    def through_int32(node: ops.Node, children: dict | None) -> ops.Node:
        if children:
            node = node.copy(**children)
        if (
            isinstance(node, ops.Cast)
            and node.arg.dtype.is_boolean()
            and node.to.is_numeric()
            and not node.to.is_int32()
        ):
            return ops.Cast(ops.Cast(node.arg, dt.int32), node.to)
        return node

    return expr.op().replace(through_int32).to_expr()


def open_engine(
    data: Path | str | DataSource,
    threads: int | None = None,
    root: Path | None = None,
    *,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> IbisEngine:
    """The engine for a data source: DuckDB for files (the kit's dataset, OMOP or core tables as
    DuckDB, Parquet or CSV, mapped extracts), the server itself for a database. `memory_limit` and
    `temp_directory` set the DuckDB connection (`DataSource.open`)."""
    source = data_source(data, root)
    given = {"memory_limit": memory_limit, "temp_directory": temp_directory}
    opened = source.open(threads, **{name: value for name, value in given.items() if value})
    if opened.backend == "duckdb":
        return DuckDBEngine(source, opened=opened)
    return DatabaseEngine(source, opened)
