"""Benchmark the `codeset` command as a user starts it: whole processes, beside the interpreter's floor.

Times, each as a fresh process run `--repeats` times (min, median and max wall time, and the peak
resident memory of each run, read from the kernel's accounting of that child):

- the floor: `python -c pass`, the interpreter alone;
- `codeset --help`;
- `codeset show diabetes` (a command at work: reads and validates one codeset);
- `codeset cohort cohorts/diabetes_control.yaml --data data/synthetic/default --out X.parquet`
  (the cohort streamed from DuckDB to Parquet, on the generated dataset that ships).

With `--before REV`, the same commands are run on the package as it was at revision REV (extracted
with `git archive`, the same interpreter and dataset), in the same run, for the change's effect.

A second column gives what each command imports before it runs, from one `-X importtime` run (the
sum of the top-level imports, in-process). The targets are `--help` in 0.3 s or less and a command
at work started in 0.5 s or less; the cohort and measure at 1M, 10M and 60M patients are measured
by `bench_scale.py` (`results/scale.md`).

Usage: python benchmarks/bench_cli.py [--repeats 5] [--before REV]
Writes benchmarks/results/cli.json and cli.md.
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

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
DATASET = str(REPO / "data" / "synthetic" / "default")
TARGETS = {"help": 0.3, "show": 0.5}


def run_once(argv: list[str], root: Path) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MB) of one run of `argv` from the folder `root`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}):\n{errors}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def imports_seconds(argv: list[str], root: Path) -> float:
    """The seconds `argv` (a `python ...` command) spends importing, from -X importtime."""
    result = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            # A top-level import's name follows one space; a nested one is indented further.
            if cumulative.strip().isdigit() and not name.startswith("  "):
                total += int(cumulative)
    return total / 1e6


def measure(name: str, argv: list[str], repeats: int, root: Path = REPO, before=None) -> dict:
    times, peaks = [], []
    for _ in range(repeats):
        if before is not None:
            before()
        elapsed, peak = run_once(argv, root)
        times.append(elapsed)
        peaks.append(peak)
    if before is not None:
        before()
    return {
        "name": name,
        "command": " ".join(argv[3:] if argv[1:3] == ["-m", "codesetlib.cli"] else argv[1:]),
        "runs": repeats,
        "seconds": {
            "min": min(times),
            "median": statistics.median(times),
            "max": max(times),
            "all": times,
        },
        "peak_mb": {"min": min(peaks), "median": statistics.median(peaks), "max": max(peaks)},
        "imports_seconds": imports_seconds(argv, root),
    }


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "node": platform.node(),
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def write_markdown(meta: dict, rows: list[dict], path: Path) -> None:
    m = meta["machine"]
    lines = [
        "# `codeset` as a user starts it",
        "",
        f"Run {meta['date']} on {m['node']}: {m['cpu']}, {m['cpus']} CPUs (shared with other work; "
        f"load average {', '.join(map(str, m['load_average_at_start']))} at the start), "
        f"{m['memory_gib']} GiB, Python {m['python']}. Each command is a whole process run "
        f"{meta['repeats']} times from the repository root; peak memory is each run's maximum "
        "resident set, from the kernel. Imports are the sum of the top-level imports of one "
        "`-X importtime` run (in-process, a second column).",
        "",
        "| version | command | min s | median s | max s | peak MB (median) | imports s | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        s = row["seconds"]
        target = TARGETS.get(row["name"])
        said = f"≤ {target} s: {'met' if s['median'] <= target else 'not met'}" if target else ""
        lines.append(
            f"| {row['version']} | `{row['command']}` | {s['min']:.3f} | {s['median']:.3f} | {s['max']:.3f} | "
            f"{row['peak_mb']['median']:.0f} | {row['imports_seconds']:.3f} | {said} |"
        )
    now = [r for r in rows if r["version"] == "now"]
    floor = now[0]["seconds"]["median"]
    lines += [
        "",
        f"Now, above the interpreter's floor ({floor:.3f} s): "
        + "; ".join(f"`{r['command']}` +{r['seconds']['median'] - floor:.3f} s" for r in now[1:])
        + ".",
        "",
        "`--help`, a parser error and a command that reads one codeset import none of pandas, "
        "Ibis, DuckDB, Arrow, Spark, matplotlib or the notebook libraries "
        "(`tests/test_cli_start.py` guards it); each command imports what it needs when it runs. "
        "`codeset cohort --out` writes the cohort as DuckDB hands over its rows, in Arrow batches, "
        "without a pandas frame of it.",
        "",
        "The cohort and measure at 1M patients (targets 1.5 s and 3 s, peak 300 and 500 MB), and "
        "at 10M and 60M, are measured by `benchmarks/bench_scale.py`, in [`scale.md`](scale.md).",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def extracted(revision: str, folder: Path) -> Path:
    """The package, codesets and cohort definitions as they were at `revision`, in `folder`."""
    folder.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision, "codesetlib", "codesets", "cohorts", "pyproject.toml"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def commands(root: Path, out: Path, repeats: int, version: str) -> list[dict]:
    """The floor and the three commands, each measured from `root`."""
    python = sys.executable
    cli = [python, "-m", "codesetlib.cli"]

    def no_output() -> None:
        out.unlink(missing_ok=True)

    cohort = [*cli, "cohort", "cohorts/diabetes_control.yaml", "--data", DATASET]
    rows = [
        measure("floor", [python, "-c", "pass"], repeats, root),
        measure("help", [*cli, "--help"], repeats, root),
        measure("show", [*cli, "show", "diabetes"], repeats, root),
        measure("cohort", [*cohort, "--out", str(out)], repeats, root, before=no_output),
    ]
    for row in rows:
        row["version"] = version
        row["command"] = (
            row["command"].replace(str(out), "X.parquet").replace(DATASET, "data/synthetic/default")
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also measure the package at this revision")
    args = parser.parse_args()
    meta = {
        "date": dt.date.today().isoformat(),
        "repeats": args.repeats,
        "machine": machine(),
        "dataset": "data/synthetic/default",
        "before": args.before,
    }
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        out = Path(folder) / "cohort.parquet"
        rows = []
        if args.before:
            old = extracted(args.before, Path(folder) / "before")
            rows += commands(old, out, args.repeats, f"before ({args.before[:7]})")
        rows += commands(REPO, out, args.repeats, "now")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli.json").write_text(
        json.dumps({"meta": meta, "results": rows}, indent=2) + "\n", encoding="utf-8"
    )
    write_markdown(meta, rows, RESULTS / "cli.md")
    print((RESULTS / "cli.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
