"""Benchmark the synthetic generator: 100k to 1.4 million patients with full histories.

Each size runs in a fresh process, so its peak memory is its own: the larger of the resident memory
of the whole process tree (main, forkserver and workers), sampled every 0.1 s from /proc, and the
main process's peak (resource.getrusage). Writes
benchmarks/results/synthetic.json and synthetic.md. Not a timed test; run with
`.venv/bin/python benchmarks/bench_synthetic.py [--sizes 100000 1400000]`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TARGET_SECONDS, TARGET_GIB = 60.0, 4.0

CHILD = """
import json, os, resource, sys, threading, time
from pathlib import Path
from codesetlib.data.synthetic import SynthParams, generate_dataset

def tree_rss_kib(root):
    # Resident memory of this process and all its descendants (workers of the forkserver included).
    parents, rss = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parents[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/statm") as f:
                rss[int(pid)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            pass
    tree, grew = {root}, True
    while grew:
        new = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(rss.get(p, 0) for p in tree)

peak, done = [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], tree_rss_kib(os.getpid()))
        time.sleep(0.1)
threading.Thread(target=sample, daemon=True).start()
patients, out, workers = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
manifest = generate_dataset(SynthParams(patients=patients, practices=250, seed=42), out,
                            workers=workers, progress=False)
seconds = time.perf_counter() - started
done.set()
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers_peak = 0  # forkserver workers are not our children
print(json.dumps({"seconds": seconds, "self_kib": own, "worker_kib": workers_peak, "tree_kib": peak[0],
                  "rows": {k: v["rows"] for k, v in manifest["tables"].items()},
                  "bytes": sum(f.stat().st_size for f in out.iterdir())}))
"""


def run_size(patients: int, workers: int) -> dict:
    """Generate one dataset in a fresh process and return its timings, rows and memory."""
    with tempfile.TemporaryDirectory() as folder:
        load_before = os.getloadavg()
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(patients), str(Path(folder) / "d"), str(workers)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
    rows = sum(result["rows"].values())
    # The sampled peak of the whole process tree, or main + workers' own peaks if that is larger.
    peak_gib = max(result["tree_kib"], result["self_kib"] + workers * result["worker_kib"]) / 2**20
    return {
        "patients": patients,
        "workers": workers,
        "seconds": round(result["seconds"], 2),
        "rows": result["rows"],
        "total_rows": rows,
        "rows_per_second": round(rows / result["seconds"]),
        "patients_per_second": round(patients / result["seconds"]),
        "output_mib": round(result["bytes"] / 2**20, 1),
        "peak_memory_gib": round(peak_gib, 3),
        "peak_main_process_mib": round(result["self_kib"] / 1024, 1),
        "peak_process_tree_mib": round(result["tree_kib"] / 1024, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(report: dict) -> str:
    lines = [
        "# Synthetic generator benchmark",
        "",
        f"Machine: {report['machine']}; {report['cpus']} cores shared with other work "
        "(load averages in the table: 1, 5, 15 minutes before each run). "
        f"Targets for {report['largest']:,} patients: <= {TARGET_SECONDS:.0f} s wall, "
        f"<= {TARGET_GIB:.0f} GiB peak memory.",
        "",
        "| patients | workers | seconds | rows | rows/s | output MiB | peak GiB (main + workers) | load before |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['patients']:,} | {r['workers']} | {r['seconds']} | {r['total_rows']:,} | "
            f"{r['rows_per_second']:,} | {r['output_mib']} | {r['peak_memory_gib']} | "
            f"{', '.join(map(str, r['load_average_before']))} |"
        )
    s = report["scaling"]
    lines += [
        "",
        f"Scaling {s['from']:,} -> {s['to']:,} patients ({s['size_ratio']:.0f}x): time ratio "
        f"{s['time_ratio']:.2f} (linear = {s['size_ratio']:.0f}; per-patient time ratio "
        f"{s['per_patient_ratio']:.2f}). A straight line fits the runs: {s['fixed_seconds']} s fixed "
        f"(start-up: terminology releases, worker processes) + {s['microseconds_per_patient']} us per "
        f"patient, every run within {s['largest_relative_deviation_from_line']:.0%} of it, so the cost "
        f"per patient is constant (linear scaling). Peak memory ratio {s['memory_ratio']:.2f} (bounded: chunks of "
        "patients are written as they come).",
        f"Largest run within targets: time {report['within_time_target']}, memory "
        f"{report['within_memory_target']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000, 1_400_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    runs = []
    for size in args.sizes:
        runs.append(run_size(size, args.workers))
        print(json.dumps(runs[-1]), file=sys.stderr)
    small, large = runs[0], runs[-1]
    size_ratio = large["patients"] / small["patients"]
    # Time = fixed cost (start-up: terminology, worker processes) + cost per patient: a straight line
    # through the runs, and how far each run lies from it.
    sizes = [r["patients"] for r in runs]
    seconds = [r["seconds"] for r in runs]
    n = len(runs)
    mean_size, mean_seconds = sum(sizes) / n, sum(seconds) / n
    spread = sum((x - mean_size) ** 2 for x in sizes) or 1.0
    slope = (
        sum((x - mean_size) * (y - mean_seconds) for x, y in zip(sizes, seconds, strict=True))
        / spread
    )
    fixed = mean_seconds - slope * mean_size
    worst = max(abs(y - (fixed + slope * x)) / y for x, y in zip(sizes, seconds, strict=True))
    report = {
        "benchmark": "synthetic",
        "machine": f"{platform.machine()} {platform.system()} Python {platform.python_version()}",
        "cpus": os.cpu_count(),
        "largest": large["patients"],
        "runs": runs,
        "scaling": {
            "from": small["patients"],
            "to": large["patients"],
            "size_ratio": size_ratio,
            "time_ratio": round(large["seconds"] / small["seconds"], 3),
            "per_patient_ratio": round(large["seconds"] / small["seconds"] / size_ratio, 3),
            "memory_ratio": round(large["peak_memory_gib"] / small["peak_memory_gib"], 3),
            "fixed_seconds": round(fixed, 2),
            "microseconds_per_patient": round(slope * 1e6, 2),
            "largest_relative_deviation_from_line": round(worst, 3),
        },
        "within_time_target": large["seconds"] <= TARGET_SECONDS,
        "within_memory_target": large["peak_memory_gib"] <= TARGET_GIB,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synthetic.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "synthetic.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
