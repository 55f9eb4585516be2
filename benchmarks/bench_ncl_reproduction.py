"""The North Central London reproduction at full scale: about 1.4 million adults in five boroughs.

Generates the calibrated synthetic population, runs the reproduction, and records each published
figure beside the reproduced one (with its 95% interval), the fault biases and the timings in
benchmarks/results/ncl_reproduction.{json,md}. Run: .venv/bin/python benchmarks/bench_ncl_reproduction.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.reproductions import ncl

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=2_050_000, help="patients of all ages")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generate_dataset(
            SynthParams(patients=args.patients, practices=250, seed=args.seed), Path(tmp) / "d"
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        result = ncl.reproduce(
            Path(tmp) / "d",
            ROOT / "codesets",
            ROOT / "data/reference/cancer_incidence.csv",
            ncl.Period(),
        )
        reproduced = time.perf_counter() - started
    summary = result.summary
    adults = int(summary.loc[summary["measure"] == "ethnicity", "denominator"].item())
    record = {
        "patients": args.patients,
        "adults_in_population": adults,
        "seed": args.seed,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "seconds": {"generate": round(generated, 2), "reproduce": round(reproduced, 2)},
        "figures": json.loads(summary.to_json(orient="records")),
        "faults": json.loads(result.faults.to_json(orient="records")),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp_json = RESULTS / ".ncl_reproduction.json.tmp"
    tmp_json.write_text(json.dumps(record, indent=2) + "\n")
    tmp_json.replace(RESULTS / "ncl_reproduction.json")
    lines = [
        "# North Central London reproduction at full scale",
        "",
        f"{args.patients:,} synthetic patients (seed {args.seed}), of whom {adults:,} adults registered and alive on "
        f"2025-03-31, in 250 practices in five boroughs. Machine: {os.cpu_count()} cores. Generating took "
        f"{generated:.1f} s; the reproduction (every measure and five faults) {reproduced:.1f} s.",
        "",
        "| Figure | Published | Reproduced (95% CI) | Inside |",
        "|---|---|---|---|",
    ]
    for row in summary.itertuples():
        published = (
            f"{row.published:.1%}" if row.published == row.published else row.published_words
        )
        inside = "—" if row.recovered is None else ("yes" if row.recovered else "no")
        lines.append(
            f"| {row.label} | {published} | {row.reproduced:.2%} ({row.low:.2%}–{row.high:.2%}) | {inside} |"
        )
    lines += ["", "| Fault | Figure | Correct | Faulty | Bias (points) |", "|---|---|---|---|---|"]
    for row in result.faults.itertuples():
        lines.append(
            f"| {row.fault} | {row.measure} | {row.correct:.1%} | {row.faulty:.1%} | {row._8:+.1f} |"
        )
    lines += ["", "Run with `.venv/bin/python benchmarks/bench_ncl_reproduction.py`.", ""]
    tmp_md = RESULTS / ".ncl_reproduction.md.tmp"
    tmp_md.write_text("\n".join(lines))
    tmp_md.replace(RESULTS / "ncl_reproduction.md")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
