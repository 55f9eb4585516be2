"""The `codeset synth` subcommand: its arguments and what it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesetlib.synthetic.generate import SynthParams, generate_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--practices", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    params = SynthParams(patients=args.patients, seed=args.seed, practices=args.practices)
    manifest = generate_dataset(params, Path(args.out))
    rows = ", ".join(f"{k} {v['rows']}" for k, v in manifest["tables"].items())
    print(f"wrote {args.out}: {rows}")
    return 0
