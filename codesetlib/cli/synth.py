"""The `codeset synth` subcommand: its arguments and what it runs.

`--format kit` (the default) writes the kit's own dataset folder. `--format omop` and `--format ehrql`
generate that dataset into a hidden folder beside `--out` (or read the one `--from` names) and write
it as an OMOP CDM 5.4 (a DuckDB file when `--out` ends with `.duckdb`, otherwise a folder of Parquet
tables) or as ehrQL core tables (Parquet, or CSV with `--table-format csv`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from codesetlib.core.errors import DatasetError

if TYPE_CHECKING:
    from codesetlib.data.formats.output import FormatWritten
    from codesetlib.data.synthetic.params import SynthParams

FORMATS = ("kit", "omop", "ehrql")
GENERATION_OPTIONS = ("patients", "practices", "seed", "config", "calibration", "workers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, help="number of patients (default 2000)")
    parser.add_argument("--practices", type=int, help="number of practices (default 10)")
    parser.add_argument("--seed", type=int, help="random seed (default 42)")
    parser.add_argument("--config", help="YAML file of parameter overrides (SynthParams fields)")
    parser.add_argument("--calibration", help="calibration YAML (default: the shipped NCL one)")
    parser.add_argument("--workers", type=int, help="worker processes (default: up to 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="output folder (or .duckdb file for omop)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="kit",
        help="kit: the kit's dataset folder (default); omop: an OMOP CDM 5.4, a DuckDB file when "
        "--out ends with .duckdb, else a folder of Parquet tables; ehrql: ehrQL core tables",
    )
    parser.add_argument(
        "--from",
        dest="from_dataset",
        metavar="DATASET",
        help="with --format omop or ehrql: convert this generated dataset instead of generating one",
    )
    parser.add_argument(
        "--table-format",
        choices=("parquet", "csv"),
        help="with --format ehrql: write each table as Parquet (default) or CSV",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it is not something the kit wrote (its content is lost)",
    )


def run(args: argparse.Namespace) -> int:
    # The generator (pandas, numpy, pydantic) is imported when it runs, not when the parser is built.
    from codesetlib.core.atomic import StagedFolder
    from codesetlib.data.synthetic.generate import generate_dataset

    _check_options(args)
    if args.format == "kit":
        manifest = generate_dataset(
            _params(args),
            Path(args.out),
            workers=args.workers,
            progress=_progress(args),
            force=args.force,
        )
        rows = ", ".join(f"{k} {v['rows']}" for k, v in manifest["tables"].items())
        print(f"wrote {args.out}: {rows}")
        return 0
    out = Path(args.out)
    # Refused before generating, so that minutes of generation do not end in a refusal.
    _refuse_foreign(args.format, out, args.force)
    if args.from_dataset:
        written = _convert(args, Path(args.from_dataset), out)
    else:
        params = _params(args)
        # The dataset is generated in a hidden folder beside --out rather than in the system's
        # temporary folder, which may be too small for a large one; it goes however the run ends.
        staging = StagedFolder(out)
        try:
            dataset = staging.path / "dataset"
            generate_dataset(params, dataset, workers=args.workers, progress=_progress(args))
            written = _convert(args, dataset, out)
        finally:
            staging.abandon()
    print(f"wrote {written.out} ({written.format}): {written.summary()}")
    for note in written.notes:
        print(f"  note: {note.sentence()}")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options that mean nothing with the chosen format."""
    if args.format == "kit" and args.from_dataset:
        raise DatasetError(
            "converts a dataset to another format: give it with --format omop or ehrql",
            field="--from",
        )
    if args.table_format and args.format != "ehrql":
        raise DatasetError("is for --format ehrql only", field="--table-format")
    if args.format == "ehrql" and Path(args.out).suffix.lower() == ".duckdb":
        raise DatasetError(
            "ehrQL tables are written to a folder; a .duckdb file is for --format omop",
            path=args.out,
        )
    if args.from_dataset:
        given = [f"--{name}" for name in GENERATION_OPTIONS if getattr(args, name) is not None]
        if given:
            raise DatasetError(
                f"names a dataset already generated, and {', '.join(given)} set how one is "
                "generated: give one or the other",
                field="--from",
            )


def _params(args: argparse.Namespace) -> SynthParams:
    from codesetlib.data.synthetic.params import load_params, make_params

    given = {
        name: getattr(args, name)
        for name in ("patients", "practices", "seed", "calibration")
        if getattr(args, name) is not None
    }
    if given.get("calibration"):
        given["calibration"] = str(Path(given["calibration"]).resolve())
    return load_params(Path(args.config), **given) if args.config else make_params(**given)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None


def _refuse_foreign(format_name: str, out: Path, force: bool) -> None:
    from codesetlib.data.formats.ehrql import refuse_foreign_ehrql
    from codesetlib.data.formats.omop import refuse_foreign_omop

    (refuse_foreign_omop if format_name == "omop" else refuse_foreign_ehrql)(out, force)


def _convert(args: argparse.Namespace, dataset: Path, out: Path) -> FormatWritten:
    from codesetlib.data.formats import write_ehrql, write_omop

    if args.format == "omop":
        return write_omop(dataset, out, force=args.force)
    return write_ehrql(dataset, out, table_format=args.table_format or "parquet", force=args.force)
