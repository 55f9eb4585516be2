"""A cohort or a measure run on any data source, as `codeset cohort` and `codeset measure` run them.

The definition is the same whatever the source; what a source cannot provide is said, not guessed:
an output column it does not hold (an OMOP CDM has no deprivation quintile or borough) is left out of
the output and named, and every row the source left out on the way in is listed with its count
beside the attrition.

A cohort is written to a file as DuckDB hands over its rows, in Arrow batches, so its size is not
bounded by memory: no pandas frame of it is built (`write_cohort`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.engines.ibis_engine import IbisEngine
from codesetlib.cohorts.load import load_definition
from codesetlib.cohorts.measures import Intervals, Measure, compute_measure, protect_measure
from codesetlib.cohorts.model import CodesetCodes, CohortDefinition
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.errors import CohortError
from codesetlib.data.sources import DataSource, SourceNote

if TYPE_CHECKING:
    import pyarrow as pa

# Rows per Arrow batch a cohort is written in: a Parquet row group each, and the most held at once.
BATCH_ROWS = 256 * 1024

# Output columns read from an optional table or column, and where.
OPTIONAL_COLUMNS = {
    "imd_quintile": ("patients", "imd_quintile"),
    "borough": ("practices", "borough"),
}


@dataclass(frozen=True)
class SourceRun:
    """What a run on a source shows: the definition as run, the engine, the codes, the columns left
    out and the source's notes."""

    definition: CohortDefinition
    engine: IbisEngine
    codesets: Mapping[str, CodesetCodes]
    left_out: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[SourceNote]:
        opened = getattr(self.engine, "opened", None)
        return list(opened.notes) if opened is not None else []

    @property
    def details(self) -> dict[str, Any]:
        opened = getattr(self.engine, "opened", None)
        return dict(opened.details) if opened is not None else {}


def prepare(
    definition_path: str | Path,
    data: str | Path | DataSource,
    *,
    codesets_dir: str | Path,
    versions: Mapping[str, str | None] | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
    spark: bool = False,
    spark_master: str | None = None,
) -> SourceRun:
    """Load the definition and its codesets, open the source, and leave out the output columns the
    source cannot provide (only those the definition lists; a criterion it cannot run is refused
    by the engine's checks). `threads`, `memory_limit` and `temp_directory` set DuckDB's
    connection (`DataSource.open`). With `spark` the kit's dataset is run by Spark: in local mode,
    or on the standalone cluster at `spark_master` (`spark_source.open_spark_engine`)."""
    path = Path(definition_path)
    if not path.is_file():
        raise CohortError("cohort definition not found", path=path)
    definition = load_definition(path)
    codesets = codeset_codes(codesets_dir, definition.codesets_used(), versions)
    engine: IbisEngine
    if spark:
        from codesetlib.cohorts.engines.spark_source import open_spark_engine

        engine = open_spark_engine(
            data,
            spark_master,
            threads=threads,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
        )
    else:
        engine = open_engine(
            data, threads=threads, memory_limit=memory_limit, temp_directory=temp_directory
        )
    schemas = engine.schemas()
    left_out = [
        column
        for column in definition.output_columns()
        if column in OPTIONAL_COLUMNS
        and OPTIONAL_COLUMNS[column][1] not in schemas.get(OPTIONAL_COLUMNS[column][0], set())
    ]
    if left_out and definition.columns is not None:
        kept = [c for c in definition.columns if c not in left_out]
        definition = definition.model_copy(update={"columns": kept})
    return SourceRun(definition, engine, codesets, left_out)


def run_cohort_on(run: SourceRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's rows and its attrition."""
    return (
        run.engine.cohort(run.definition, run.codesets),
        run.engine.attrition(run.definition, run.codesets),
    )


def cohort_batches(run: SourceRun, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """The cohort's rows (those `engine.cohort` gives, in the same order) as Arrow batches read
    as the database produces them, dates as dates.

    On DuckDB the plan's kept SQL is run and its result read batch by batch; on a server, through
    Ibis's batches of the same plan."""
    import ibis.expr.operations as ops
    import pyarrow as pa

    from codesetlib.cohorts.engines.database_engine import DatabaseEngine, for_server
    from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine

    engine = run.engine
    expr = engine.plan(run.definition, run.codesets).patients()
    if isinstance(engine, DuckDBEngine) and not expr.op().find(ops.InMemoryTable):
        rows = engine.con.con.sql(engine.compiled_sql(expr)).to_arrow_reader(batch_rows)
    else:
        served = for_server(expr) if isinstance(engine, DatabaseEngine) else expr
        rows = engine.con.to_pyarrow_batches(served, chunk_size=batch_rows)
    # The expression's types (DuckDB's 128-bit sums as int64, as the engines give them), with every
    # date or timestamp written as a date, as the cohort's rows have always been written.
    types = expr.schema().to_pyarrow()
    written = pa.schema(
        [pa.field(f.name, pa.date32()) if pa.types.is_timestamp(f.type) else f for f in types]
    )
    batches = (batch.cast(types).cast(written) for batch in rows)
    return pa.RecordBatchReader.from_batches(written, batches)


def write_cohort(run: SourceRun, path: Path) -> int:
    """Write the cohort's rows whole to `path`, as CSV or Parquet by its suffix, batch by batch;
    the number of rows written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from codesetlib.core import atomic

    rows = cohort_batches(run)
    written = 0
    with atomic.file_written_whole(path) as temporary:
        writer: pq.ParquetWriter | pacsv.CSVWriter
        if path.suffix.lower() == ".parquet":
            writer = pq.ParquetWriter(temporary, rows.schema, compression="zstd")
        else:
            writer = pacsv.CSVWriter(temporary, rows.schema)
        with writer:
            for batch in rows:
                writer.write_batch(batch)
                written += batch.num_rows
    return written


def protected_attrition(attrition: pd.DataFrame, settings: DisclosureSettings) -> pd.DataFrame:
    """The attrition table as it may be shown: patients and exclusions suppressed and rounded."""
    return protect_counts(attrition, ["patients", "excluded"], settings)


def default_intervals(definition: CohortDefinition, months: int = 12) -> Intervals:
    """Monthly intervals over the `months` months that end on the definition's index date."""
    end = definition.index_date.date
    if end is None:
        raise CohortError(
            f"the cohort {definition.id} has a per-patient index date: give --start and --end"
        )
    first = (end.replace(day=1) - pd.DateOffset(months=months - 1)).date()
    return Intervals(start=first, end=end, frequency="monthly")


def run_measure_on(
    run: SourceRun,
    *,
    numerator: str,
    denominator: str | None = None,
    group_by: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    frequency: str = "monthly",
    settings: DisclosureSettings | None = None,
) -> pd.DataFrame:
    """The measure per interval and group, protected as `settings` say."""
    if (start is None) != (end is None):
        raise CohortError("give both --start and --end, or neither")
    intervals = (
        default_intervals(run.definition)
        if start is None
        else Intervals.model_validate({"start": start, "end": end, "frequency": frequency})
    )
    measure = Measure(
        id=f"{run.definition.id}_{numerator}",
        definition=run.definition,
        numerator=numerator,
        denominator=denominator,
        group_by=list(group_by or []),
        intervals=intervals,
    )
    table = compute_measure(measure, run.codesets, run.engine)
    return protect_measure(table, settings or DisclosureSettings())
