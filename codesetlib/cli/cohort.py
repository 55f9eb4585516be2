"""The `codeset cohort` and `codeset measure` subcommands: a cohort definition run on any data source.

SOURCE is a folder of the kit's dataset, `omop:PATH` (a DuckDB file or a folder of Parquet or CSV
tables), `omop:postgresql://USER@HOST/DB?schema=S`, `ehrql:PATH` or `mapped:MAPPING.yaml`. Both print
the attrition with disclosure control applied, the columns the source cannot provide and every row it
left out on the way in. `cohort --out` writes the cohort's rows (one per patient: row-level data to
keep where the source is kept), streamed from the database in Arrow batches so that a cohort larger
than memory can be written; `measure --out` writes the protected measure.

DuckDB runs with `--memory-limit` (default: DuckDB's own, 80% of the machine's memory) and spills
what does not fit to `--temp-dir` (default: a folder of this run's own in the kit's cache, which
DuckDB removes when it closes). `--engine spark` runs the kit's dataset on Spark instead, in local
mode or on the standalone cluster at `--spark-master` (`cohorts/engines/spark_source.py`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

OUT_SUFFIXES = (".csv", ".parquet")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _memory(text: str) -> str:
    """A memory limit as DuckDB reads one: a size with its unit, or a share of the machine's memory."""
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*([KMGT]i?B|B|%)\s*", text, flags=re.IGNORECASE):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a memory limit (a size such as 4GB or 500MiB, or a share such as 50%)"
        )
    return text.strip()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "definition", help="the cohort definition, e.g. cohorts/diabetes_control.yaml"
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="SOURCE",
        help="the data: a kit dataset folder, omop:PATH, omop:postgresql://…, ehrql:PATH or "
        "mapped:MAPPING.yaml",
    )
    parser.add_argument("--out", help="file to write, .csv or .parquet (default: none)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument(
        "--threshold", type=int, default=7, help="suppress counts of this many or fewer (default 7)"
    )
    parser.add_argument(
        "--rounding", type=int, default=5, help="round other counts to this (default 5)"
    )
    parser.add_argument(
        "--no-disclosure",
        action="store_true",
        help="show exact counts (only inside the environment that holds the data)",
    )
    parser.add_argument("--threads", type=int, help="threads for DuckDB (default: all cores)")
    parser.add_argument(
        "--memory-limit",
        type=_memory,
        help="memory DuckDB may use before it spills to --temp-dir, e.g. 4GB or 50%% (default: "
        "DuckDB's, 80%% of the machine's memory)",
    )
    parser.add_argument(
        "--temp-dir",
        help="folder DuckDB spills to (default: a folder of the run's own in the kit's cache)",
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb (default: DuckDB for files, the server for a database) or spark (the kit's "
        "dataset, in local mode or on the cluster at --spark-master)",
    )
    parser.add_argument(
        "--spark-master",
        metavar="URL",
        help="the Spark standalone cluster to run on with --engine spark, spark://HOST:PORT "
        "(default: $CODESET_SPARK_MASTER, else local mode)",
    )


def add_cohort_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def add_measure_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--numerator", required=True, help="the criterion or flag counted")
    parser.add_argument("--denominator", help="a criterion or flag the denominator must meet")
    parser.add_argument(
        "--by",
        nargs="*",
        default=["practice_id"],
        metavar="COLUMN",
        help="group by these columns (default: practice_id; none for one row per interval)",
    )
    parser.add_argument("--start", type=_date, help="first day of the first interval")
    parser.add_argument(
        "--end", type=_date, help="last day (default: the 12 months to the index date)"
    )
    parser.add_argument(
        "--frequency", choices=["monthly", "quarterly", "yearly"], default="monthly"
    )


def _settings(args: argparse.Namespace):
    from codesetlib.core.disclosure import DisclosureSettings

    return DisclosureSettings(
        enabled=not args.no_disclosure, threshold=args.threshold, rounding=args.rounding
    )


def _out(args: argparse.Namespace) -> Path | None:
    from codesetlib.core import atomic
    from codesetlib.core.errors import CodesetError

    if not args.out:
        return None
    path = Path(args.out)
    if path.suffix.lower() not in OUT_SUFFIXES:
        raise CodesetError("--out must end in .csv or .parquet", path=path)
    if path.is_dir():
        raise CodesetError("is a folder; --out names the file to write", path=path)
    atomic.check_file_target(path)
    atomic.refuse_existing(path, force=args.force, replace_with="the output")
    return path


def write_table(table: pd.DataFrame, path: Path) -> None:
    """`table` written whole to `path` as CSV or Parquet (by its suffix), dates as dates."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from codesetlib.core import atomic

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    # Dates leave as dates (the engines hand them over as midnight timestamps).
    for i, column in enumerate(arrow.schema):
        if pa.types.is_timestamp(column.type):
            arrow = arrow.set_column(i, column.name, arrow.column(i).cast(pa.date32()))
    with atomic.file_written_whole(path) as temporary:
        if path.suffix.lower() == ".parquet":
            pq.write_table(arrow, temporary, compression="zstd")
        else:
            pacsv.write_csv(arrow, temporary)


def _temp_dir(args: argparse.Namespace) -> str:
    """The folder DuckDB spills to: --temp-dir, or one of this process's own in the kit's cache (two
    runs sharing one would overwrite each other's spilled files); DuckDB makes it when it first
    spills and removes it when it closes."""
    if args.temp_dir:
        return args.temp_dir
    from codesetlib.core.errors import CodesetError, file_problem
    from codesetlib.core.paths import cache_dir

    folder = cache_dir() / "duckdb-temp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CodesetError(
            f"{file_problem(exc, writing=True)}; name a folder DuckDB may spill to with --temp-dir",
            path=folder,
        ) from None
    return str(folder / f"run-{os.getpid()}")


def _prepare(args: argparse.Namespace):
    from codesetlib.cohorts.on_source import prepare
    from codesetlib.core.errors import CodesetError

    spark = args.engine == "spark"
    if args.spark_master is not None and not spark:
        raise CodesetError("--spark-master needs --engine spark")
    return prepare(
        args.definition,
        args.data,
        codesets_dir=args.codesets_dir,
        threads=args.threads,
        memory_limit=args.memory_limit,
        temp_directory=args.temp_dir if spark else _temp_dir(args),
        spark=spark,
        spark_master=args.spark_master,
    )


def _print_header(run, args: argparse.Namespace) -> None:
    details = run.details
    kind = details.get("kind", run.engine.source.kind)
    print(f"{run.definition.id}: {run.definition.title or ''} on {kind} data ({args.data})".strip())
    if run.engine.name == "spark":
        print(f"  run by Spark ({run.engine.master})")
    for column in run.left_out:
        print(f"  column {column} left out: this source does not hold it")
    for note in run.notes:
        print(f"  left out on the way in: {note.sentence()}")


def _print_matches(run, settings) -> None:
    """On an OMOP CDM: for each codeset, the patients its codes find by the source route, the
    standard route and both (protected), and the codes that find no event, listed."""
    if run.engine.source.kind != "omop":
        return
    import pandas as pd

    from codesetlib.core.disclosure import protect_counts
    from codesetlib.data.sources.omop import match_reports

    # The codesets of each table are matched together, reading the events once.
    by_table: dict[str, dict[str, set[str]]] = {}
    for codeset_id, codes in run.codesets.items():
        table = "medications" if codes.coding_system == "dmd" else "clinical_events"
        by_table.setdefault(table, {})[codeset_id] = set(codes.codes)
    reports = {
        codeset_id: report
        for table, codesets in sorted(by_table.items())
        for codeset_id, report in match_reports(
            run.engine, codesets, table=table, per_code=False
        ).items()
    }
    for codeset_id, report in sorted(reports.items()):
        counts = pd.DataFrame(
            {
                "n": [
                    report.patients_by_source,
                    report.patients_by_standard,
                    report.patients_by_both,
                    report.patients_by_either,
                ]
            }
        )
        shown = protect_counts(counts, ["n"], settings)["n"].tolist()
        print(
            f"  codeset {codeset_id} ({report.match} matching): patients found by the source route "
            f"{shown[0]}, by the standard route {shown[1]}, by both {shown[2]}, by either {shown[3]}"
        )
        unmatched = report.unmatched
        if len(unmatched):
            print(f"    {len(unmatched)} of {len(report.codes)} codes find no event:")
            for status, group in unmatched.groupby("status", sort=True):
                print(f"      {status} ({len(group)}): {', '.join(group['code'])}")


def run_cohort(args: argparse.Namespace) -> int:
    from codesetlib.cohorts.on_source import protected_attrition, write_cohort

    out = _out(args)
    run = _prepare(args)
    attrition = run.engine.attrition(run.definition, run.codesets)
    settings = _settings(args)
    _print_header(run, args)
    _print_matches(run, settings)
    print(settings.describe())
    shown = protected_attrition(attrition, settings)
    print(shown.to_string(index=False))
    if out is not None:
        written = write_cohort(run, out)
        print(f"wrote {written:,} rows (one per patient) to {out}")
    return 0


def run_measure(args: argparse.Namespace) -> int:
    from codesetlib.cohorts.on_source import protected_attrition, run_measure_on

    out = _out(args)
    run = _prepare(args)
    settings = _settings(args)
    table = run_measure_on(
        run,
        numerator=args.numerator,
        denominator=args.denominator,
        group_by=args.by,
        start=args.start,
        end=args.end,
        frequency=args.frequency,
        settings=settings,
    )
    _print_header(run, args)
    _print_matches(run, settings)
    print(settings.describe())
    attrition = run.engine.attrition(run.definition, run.codesets)
    print(protected_attrition(attrition, settings).to_string(index=False))
    if out is not None:
        write_table(table, out)
        print(f"wrote {len(table):,} rows (intervals × groups, protected) to {out}")
    else:
        print(table.to_string(index=False))
    return 0
