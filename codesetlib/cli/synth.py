"""The `codeset synth` subcommand: its arguments and what it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesetlib.data.synthetic.generate import generate_dataset
from codesetlib.data.synthetic.params import load_params, make_params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, help="number of patients (default 2000)")
    parser.add_argument("--practices", type=int, help="number of practices (default 10)")
    parser.add_argument("--seed", type=int, help="random seed (default 42)")
    parser.add_argument("--config", help="YAML file of parameter overrides (SynthParams fields)")
    parser.add_argument("--calibration", help="calibration YAML (default: the shipped NCL one)")
    parser.add_argument("--workers", type=int, help="worker processes (default: up to 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it is not a dataset the kit wrote (its content is lost)",
    )


def run(args: argparse.Namespace) -> int:
    given = {
        name: getattr(args, name)
        for name in ("patients", "practices", "seed", "calibration")
        if getattr(args, name) is not None
    }
    if given.get("calibration"):
        given["calibration"] = str(Path(given["calibration"]).resolve())
    params = load_params(Path(args.config), **given) if args.config else make_params(**given)
    progress = False if args.no_progress else None
    manifest = generate_dataset(
        params, Path(args.out), workers=args.workers, progress=progress, force=args.force
    )
    rows = ", ".join(f"{k} {v['rows']}" for k, v in manifest["tables"].items())
    print(f"wrote {args.out}: {rows}")
    return 0
