"""An engine on a database server the kit does not run (PostgreSQL): the same Ibis plan, compiled to
the server's SQL dialect and run where the data live, and `open_engine`, which picks the engine a
data source needs."""

from __future__ import annotations

from pathlib import Path

from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine
from codesetlib.cohorts.engines.ibis_engine import IbisEngine
from codesetlib.data.sources import DataSource, OpenedSource, data_source


class DatabaseEngine(IbisEngine):
    """A source's tables on a database server's Ibis connection (codes and intervals are sent to
    it as temporary tables)."""

    name = "database"

    def __init__(self, source: DataSource, opened: OpenedSource) -> None:
        self.source = source
        self.opened = opened
        self.name = opened.backend
        self.dialect = opened.backend
        super().__init__(opened.con, dict(opened.tables))


def open_engine(
    data: Path | str | DataSource, threads: int | None = None, root: Path | None = None
) -> IbisEngine:
    """The engine for a data source: DuckDB for files (the kit's dataset, OMOP or core tables as
    DuckDB, Parquet or CSV, mapped extracts), the server itself for a database."""
    source = data_source(data, root)
    opened = source.open(threads)
    if opened.backend == "duckdb":
        return DuckDBEngine(source, opened=opened)
    return DatabaseEngine(source, opened)
