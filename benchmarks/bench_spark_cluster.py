"""Benchmark a cohort on a Spark standalone cluster against DuckDB, each as a whole process.

For each size, the generator's own data (`codeset synth --patients N`, kept in
`benchmarks/.data/kit-N`, the folder the scale benchmark uses too, and generated only when it is
missing or was made with other parameters), then, taking turns, the two commands a user runs:

- DuckDB: `codeset cohort cohorts/diabetes_control.yaml --data FOLDER --out duckdb.parquet`;
- the cluster: the same with `--engine spark --spark-master MASTER --out spark.parquet`, on a master
  and two workers of one core and 1 GB each started from the pinned PySpark as the tests start them
  (`tests/spark_cluster.py`); each run is a new application, so the driver's start, the executors'
  start and reading the tables are in its time, as a user meets them.

The two files are checked to hold the same rows. Peak memory: the command's process tree (for Spark:
the Python driver and its JVM) sampled every 0.1 s, and for the cluster also the master, the workers
and their executors (the processes the cluster started, summed, idle before the run included and
given apart). Start-up of the cluster itself is reported apart. A size's result replaces the one
recorded before it; the others are kept.

Usage: python benchmarks/bench_spark_cluster.py [--patients 1000000 10000000] [--repeats 1]
Run it under the shared lock: flock /tmp/bench.lock python benchmarks/bench_spark_cluster.py ...
Writes benchmarks/results/spark_cluster.json and spark_cluster.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / ".data"
DEFINITION = ROOT / "cohorts" / "diabetes_control.yaml"
SAMPLE_S = 0.1


@dataclass(frozen=True)
class Run:
    """One command's wall time and peak resident memory (MiB): its own process tree's, and the
    cluster's processes' beside it (0 for DuckDB)."""

    seconds: float
    peak_mib: float
    cluster_peak_mib: float


def tree_rss(processes: Iterable[psutil.Process]) -> int:
    """The resident memory of the processes and all their descendants, summed."""
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for member in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
    return total


def run_process(command: list[str], cluster_pids: list[int]) -> Run:
    """Run `command` to its end, sampling its tree's memory and the cluster's."""
    cluster = [psutil.Process(pid) for pid in cluster_pids]
    peaks = [0, 0]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched = psutil.Process(child.pid)
    finished = threading.Event()

    def sample() -> None:
        while not finished.is_set():
            peaks[0] = max(peaks[0], tree_rss([watched]))
            peaks[1] = max(peaks[1], tree_rss(cluster))
            finished.wait(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    seconds = time.perf_counter() - start
    finished.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(
            f"failed (exit {child.returncode}): {' '.join(command)}\n"
            f"{stdout.decode()[-2000:]}{stderr.decode()[-4000:]}"
        )
    return Run(seconds, peaks[0] / 2**20, peaks[1] / 2**20)


def codeset(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "codeset"), *args]


def dataset(patients: int, data: Path) -> Path:
    """`data/kit-N` as `codeset synth --patients N` writes it, generated unless it is there with
    the parameters the generator would use now."""
    from codesetlib.data.synthetic.params import make_params

    folder = data / f"kit-{patients}"
    wanted = make_params(patients=patients).model_dump(mode="json")
    manifest = folder / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["parameters"] == wanted:
        return folder
    print(f"generating {patients:,} patients into {folder}", file=sys.stderr)
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        codeset("synth", "--patients", str(patients), "--out", str(folder), "--no-progress"),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return folder


def same_rows(a: Path, b: Path) -> int:
    """The two cohort files hold the same columns, types and rows; their number of rows."""
    import pyarrow.parquet as pq

    from tests.spec.dataset import records

    left, right = pq.read_table(a), pq.read_table(b)
    assert left.schema == right.schema, (left.schema, right.schema)
    assert left.num_rows == right.num_rows
    order = [("patient_id", "ascending")]
    assert records(left.sort_by(order).to_pandas()) == records(right.sort_by(order).to_pandas())
    return left.num_rows


def summary(runs: list[Run]) -> dict[str, float]:
    seconds = [r.seconds for r in runs]
    return {
        "min_s": round(min(seconds), 2),
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "peak_rss_mib": round(max(r.peak_mib for r in runs), 1),
        "cluster_peak_rss_mib": round(max(r.cluster_peak_mib for r in runs), 1),
    }


def measure_size(patients: int, repeats: int, data: Path) -> dict[str, Any]:
    """Both commands at one size, on a cluster of its own."""
    from tests.spark_cluster import WORKER_CORES, WORKER_MEMORY, WORKERS, running_cluster

    folder = dataset(patients, data)
    work = data / f"spark-cluster-{os.getpid()}"
    work.mkdir(parents=True)
    try:
        load_before = os.getloadavg()
        start = time.perf_counter()
        with running_cluster() as cluster:
            cluster_start_s = time.perf_counter() - start
            pids = [p.pid for p in cluster.processes]
            cluster_idle_mib = tree_rss(psutil.Process(pid) for pid in pids) / 2**20
            out = {"duckdb": work / "duckdb.parquet", "spark_cluster": work / "spark.parquet"}
            common = ["cohort", str(DEFINITION), "--data", str(folder.resolve()), "--force"]
            commands = {
                "duckdb": codeset(*common, "--out", str(out["duckdb"])),
                "spark_cluster": codeset(
                    *common,
                    *("--engine", "spark", "--spark-master", cluster.master_url),
                    *("--out", str(out["spark_cluster"])),
                ),
            }
            runs: dict[str, list[Run]] = {name: [] for name in commands}
            for _ in range(repeats):
                for name, command in commands.items():
                    runs[name].append(run_process(command, pids if name != "duckdb" else []))
                    print(f"{patients:,} {name}: {runs[name][-1]}", file=sys.stderr)
        rows = same_rows(out["duckdb"], out["spark_cluster"])
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    return {
        "patients": patients,
        "cohort_rows": rows,
        "repeats": repeats,
        "cluster": f"a master and {WORKERS} workers ({WORKER_CORES} core, {WORKER_MEMORY}B each) on "
        "this machine",
        "cluster_start_s": round(cluster_start_s, 1),
        "cluster_idle_rss_mib": round(cluster_idle_mib, 1),
        "commands": {
            "duckdb": "codeset cohort cohorts/diabetes_control.yaml --data DIR --out FILE",
            "spark_cluster": "codeset cohort cohorts/diabetes_control.yaml --data DIR --engine "
            "spark --spark-master MASTER --out FILE",
        },
        "whole_process": {name: summary(r) for name, r in runs.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Cohort on a Spark standalone cluster against DuckDB",
        "",
        "The diabetes cohort (`cohorts/diabetes_control.yaml`) on the generator's own data, as a user "
        "runs it: `codeset cohort ... --out FILE` on DuckDB, and the same command with `--engine "
        "spark --spark-master MASTER` on a Spark standalone cluster (a master and two workers of one "
        "core and 1 GB each, on this machine), each a whole process, taken in turn; the two files "
        "hold the same rows. Peak memory is the command's process tree (for Spark, the Python "
        "driver and its JVM); the cluster's column adds the master, the workers and their "
        "executors, with what they hold idle before the run. Written by "
        "`python benchmarks/bench_spark_cluster.py`.",
        "",
        "| Patients | Cohort rows | Engine | min s | median s | max s | peak MiB (command) | "
        "peak MiB (cluster: idle) | load before → after | run |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for size in sorted(result["sizes"].values(), key=lambda s: s["patients"]):
        load = (
            f"{size['load_average_before'][0]} → {size['load_average_after'][0]}"
            if "load_average_before" in size
            else "not recorded"
        )
        for name, s in size["whole_process"].items():
            cluster = (
                f"{s['cluster_peak_rss_mib']:,.0f} ({size['cluster_idle_rss_mib']:,.0f})"
                if name != "duckdb" and "cluster_peak_rss_mib" in s
                else "-"
            )
            peak = f"{s['peak_rss_mib']:,.0f}" if "peak_rss_mib" in s else "not recorded"
            lines.append(
                f"| {size['patients']:,} | {size['cohort_rows']:,} | {name} | {s['min_s']} | "
                f"{s['median_s']} | {s['max_s']} | {peak} | {cluster} | {load} | "
                f"{size['date'][:10]}, {size['repeats']} run(s) |"
            )
    lines += [
        "",
        "Load averages are the 1-minute figure of the 2-CPU machine, shared with other work. The "
        "cluster's start (a few seconds) is not counted. A row without peak memory was recorded "
        "before the benchmark measured it, with a Python program in place of `--engine spark`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA, help="where the datasets are kept")
    args = parser.parse_args()
    path = args.results / "spark_cluster.json"
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    sizes = dict(earlier.get("sizes", {}))
    if "sizes" not in earlier and "patients" in earlier:
        # The first recording held one size at the top level.
        sizes[str(earlier["patients"])] = {
            k: v for k, v in earlier.items() if k not in ("benchmark", "machine")
        }
    for patients in args.patients:
        sizes[str(patients)] = measure_size(patients, args.repeats, args.data_dir)
    result = {
        "benchmark": "spark_cluster",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sizes": sizes,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "spark_cluster.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
