"""Benchmark a cohort on a Spark standalone cluster against DuckDB, each as a whole process.

Generates the kit's synthetic dataset (the generator's own data), starts a master and two workers of
one core and 1 GB each from the pinned PySpark (as the tests do, `tests/spark_cluster.py`), and times,
taking turns:

- DuckDB: `codeset cohort cohorts/diabetes_control.yaml --data FOLDER --out cohort.parquet`;
- the cluster: a Python process that opens `cluster_session(MASTER)`, runs the same definition with
  `SparkEngine` and writes the same Parquet file (a new application each time, so its start, the
  executors' start and reading the tables are in the time, as a user meets them).

The two cohorts are checked to hold the same rows. Start-up of the cluster itself is reported apart.

Usage: python benchmarks/bench_spark_cluster.py [--patients 1000000] [--repeats 3]
Writes benchmarks/results/spark_cluster.json and spark_cluster.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
DEFINITION = ROOT / "cohorts" / "diabetes_control.yaml"
CLUSTER_PROGRAM = """
import sys
from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.engines.spark_engine import SparkEngine, cluster_session
from codesetlib.cohorts.load import load_definition

master, folder, out = sys.argv[1:4]
session = cluster_session(master, app_name="codesetlib-bench")
session.sparkContext.setLogLevel("ERROR")
definition = load_definition("cohorts/diabetes_control.yaml")
codesets = codeset_codes("codesets", definition.codesets_used())
SparkEngine(folder, session).cohort(definition, codesets).to_parquet(out)
session.stop()
"""


def whole_process(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def same_rows(a: Path, b: Path) -> int:
    """The two cohorts hold the same rows, compared as plain Python values; their number."""
    from tests.spec.dataset import records

    left, right = pd.read_parquet(a), pd.read_parquet(b)
    assert list(left.columns) == list(right.columns)
    assert records(left.sort_values("patient_id")) == records(right.sort_values("patient_id"))
    return len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from codesetlib.data.synthetic.generate import generate_dataset
    from codesetlib.data.synthetic.params import SynthParams
    from tests.spark_cluster import running_cluster

    codeset = Path(sys.executable).parent / "codeset"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dataset"
        generate_dataset(SynthParams(patients=args.patients, seed=42), folder, progress=False)
        duck_out, spark_out = Path(tmp) / "duckdb.parquet", Path(tmp) / "spark.parquet"
        start = time.perf_counter()
        with running_cluster() as cluster:
            cluster_start_s = time.perf_counter() - start
            runs = {
                "duckdb": [
                    *(str(codeset), "cohort", str(DEFINITION), "--data", str(folder)),
                    *("--out", str(duck_out), "--force"),
                ],
                "spark_cluster": [
                    *(sys.executable, "-c", CLUSTER_PROGRAM, cluster.master_url),
                    *(str(folder), str(spark_out)),
                ],
            }
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.repeats):
                for name, command in runs.items():
                    times[name].append(whole_process(command))
        rows = same_rows(duck_out, spark_out)
    summary = {
        name: {
            "min_s": round(min(ts), 2),
            "median_s": round(statistics.median(ts), 2),
            "max_s": round(max(ts), 2),
        }
        for name, ts in times.items()
    }
    result = {
        "benchmark": "spark_cluster",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cluster": "a master and 2 workers (1 core, 1 GB each) on this machine",
        "patients": args.patients,
        "cohort_rows": rows,
        "repeats": args.repeats,
        "cluster_start_s": round(cluster_start_s, 1),
        "whole_process": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark_cluster.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Cohort on a Spark standalone cluster against DuckDB",
        "",
        f"Run {result['date']} on {os.cpu_count()} shared CPUs with "
        "`python benchmarks/bench_spark_cluster.py`: the diabetes cohort on "
        f"{args.patients:,} generated patients ({rows:,} in the cohort, the same rows from both), "
        f"each run a whole process, {args.repeats} runs taken in turn. The cluster ({result['cluster']}) "
        f"took {result['cluster_start_s']} s to start, not counted below.",
        "",
        "| Engine | min s | median s | max s |",
        "|---|---:|---:|---:|",
    ]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['min_s']} | {s['median_s']} | {s['max_s']} |")
    (RESULTS / "spark_cluster.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
