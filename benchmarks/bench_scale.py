"""Benchmark the kit at national scale on one machine: generate, cohort and measure at 1M to 60M patients.

For each size (`--sizes`, default 1M, 10M and 60M patients), on the generator's own data:

- `codeset synth --patients N --out DIR`: wall time, peak memory of the whole process tree (the
  main process and its worker processes together) and the size of what it wrote. It runs once per
  dataset; the dataset is kept in `--data-dir` (`benchmarks/.data/kit-N`, shared with
  bench_sources.py) and reused, with its timing, while its manifest is unchanged.
- `codeset cohort cohorts/diabetes_control.yaml --data DIR --out X.parquet`, beside the floor: the
  cohort's count as one hand-written DuckDB query over the same Parquet files, run as a `python -c`
  process that imports DuckDB alone.
- `codeset measure cohorts/diabetes_control.yaml --numerator hba1c_controlled --data DIR --out
  Y.csv` (12 monthly intervals to the index date, by practice), beside its floor: the same measure
  by practice as one hand-written DuckDB query writing its CSV.

Each command and floor runs once untimed (its first run, which also checks the dataset's hashes
into the kit's cache), then `--runs` times (default 5 up to 10M patients and 3 above), alternating
with its floor and starting with the floor every other round, so that load from other work on the
machine falls on both alike. Peak memory is the larger of the kernel's maximum resident set of any
one process (`/usr/bin/time -v`) and the sampled sum of the resident sets of the process and all
its children. One more untimed run of the measure with exact counts (`--no-disclosure`) is
compared with the floor's counts, and the cohort's rows with the floor's count.

Results are kept by size in scale.json: a run with `--sizes 60000000` measures that size again and
keeps the others, so the sizes can be measured on different days (each states its own load,
commit and date). Writes benchmarks/results/scale.json, scale.md and scale.png.

Usage: python benchmarks/bench_scale.py [--sizes 1000000 10000000 60000000] [--runs N]
       [--data-dir DIR] [--memory-limit 8GB] [--temp-dir DIR] [--results DIR]
(a quick run: --sizes 20000 100000 --runs 2 --results /tmp/results)
The full run takes about an hour of both cores: run it alone (e.g. under `flock`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psutil

# The kit is this repository's, here and in every process started (`whole_process`).
from whole_process import CHILD_ENV, DEFINITION, NUMERATOR, RESULTS, ROOT

from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.load import load_definition
from codesetlib.data.synthetic.params import make_params

SIZES = (1_000_000, 10_000_000, 60_000_000)
TIME = Path("/usr/bin/time")
SAMPLE_SECONDS = 0.1
MB = 10**6 / 2**20  # a megabyte (10^6 bytes) in MiB
# The targets of issue 18, by size: (command, seconds at most, MiB at most or None).
TARGETS: dict[int, list[tuple[str, float, float | None]]] = {
    1_000_000: [("cohort", 1.5, 300 * MB), ("measure", 3.0, 500 * MB)],
    60_000_000: [("synth", 300.0, 8 * 1024.0), ("cohort", 60.0, None), ("measure", 180.0, None)],
}
FLOOR_SCRIPT = (
    "import sys, duckdb\n"
    "con = duckdb.connect()\n"
    # DuckDB draws a progress bar on standard output for a query of more than two seconds.
    "con.execute('SET enable_progress_bar = false')\n"
    "for setting in sys.argv[2:]: con.execute(setting)\n"
    "row = con.execute(sys.argv[1]).fetchone()\n"
    "print(row[0] if row else '')\n"
)


@dataclass(frozen=True)
class ProcessRun:
    """One command run as a process: wall time, peak memory and what it printed."""

    seconds: float
    peak_mib: float
    stdout: str


def codeset(*args: str) -> list[str]:
    """The `codeset` command of this environment, as a user runs it."""
    script = Path(sys.executable).parent / "codeset"
    start = [str(script)] if script.is_file() else [sys.executable, "-m", "codesetlib.cli"]
    return [*start, *args]


def tree_rss_bytes(process: psutil.Process) -> int:
    """The resident memory of `process` and all its descendants, summed."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        # A process may end between the listing and the reading.
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def run_process(argv: list[str]) -> ProcessRun:
    """Run `argv` from the repository to the end; wall time around the whole process, and its peak
    memory: the larger of the largest single process's (from the kernel) and the sampled sum over
    the process tree (worker processes run at once). A failure stops the benchmark."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage"
        wrapped = [str(TIME), "-v", "-o", str(report), *argv] if TIME.is_file() else argv
        peak = [0]
        start = time.perf_counter()
        child = subprocess.Popen(
            wrapped,
            cwd=ROOT,
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watched = psutil.Process(child.pid)
        finished = threading.Event()

        def sample() -> None:
            while not finished.is_set():
                peak[0] = max(peak[0], tree_rss_bytes(watched))
                finished.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = child.communicate()
        seconds = time.perf_counter() - start
        finished.set()
        sampler.join()
        text = report.read_text() if report.is_file() else ""
    if child.returncode != 0:
        raise SystemExit(f"failed (exit {child.returncode}): {' '.join(argv)}\n{stdout}{stderr}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    single = int(found.group(1)) * 1024 if found else 0
    return ProcessRun(seconds, max(single, peak[0]) / 2**20, stdout)


# --- the data ---------------------------------------------------------------------------------


def manifest_hash(folder: Path) -> str | None:
    path = folder / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def size_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20, 1)


def dataset(patients: int, data: Path, earlier: dict[str, Any] | None) -> tuple[Path, dict]:
    """The generator's dataset of `patients` in `data`, with the synth run that wrote it: generated
    (and timed) unless the cached one has the parameters the generator would use now and an earlier
    result timed the run that wrote it."""
    folder = data / f"kit-{patients}"
    wanted = make_params(patients=patients).model_dump(mode="json")
    manifest = folder / "manifest.json"
    current = manifest.is_file() and json.loads(manifest.read_text())["parameters"] == wanted
    if current and earlier and earlier.get("manifest_sha256") == manifest_hash(folder):
        return folder, earlier
    data.mkdir(parents=True, exist_ok=True)
    print(f"generating {patients:,} patients into {folder}", file=sys.stderr)
    load_before = os.getloadavg()
    # The cached folder is the kit's own dataset, which `codeset synth` replaces whole.
    run = run_process(
        codeset("synth", "--patients", str(patients), "--out", str(folder), "--no-progress")
    )
    tables = json.loads(manifest.read_text())["tables"]
    return folder, {
        "command": f"codeset synth --patients {patients} --out DIR --no-progress",
        "seconds": round(run.seconds, 1),
        "peak_rss_mib": round(run.peak_mib, 1),
        "output_mib": size_mib(folder),
        "rows": {name: entry["rows"] for name, entry in tables.items()},
        "manifest_sha256": manifest_hash(folder),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# --- the floors -------------------------------------------------------------------------------


def codes_list(codeset_id: str) -> str:
    codes = codeset_codes(ROOT / "codesets", [codeset_id])[codeset_id].codes
    return ", ".join(f"'{code}'" for code in sorted(codes))


def age_sql(day: str) -> str:
    return (
        f"year({day}) - year(p.date_of_birth) - CASE WHEN month({day}) * 100 + day({day}) "
        "< month(p.date_of_birth) * 100 + day(p.date_of_birth) THEN 1 ELSE 0 END"
    )


def cohort_floor_sql(kit: Path) -> str:
    """The cohort's count as one hand-written query (as bench_sources.py's floor): adults alive and
    registered on the index date with a diabetes code on or before it."""
    definition = load_definition(DEFINITION)
    index = definition.index_date.date
    if index is None or definition.population.age_min is None:
        raise SystemExit(f"{DEFINITION}: the floor needs a fixed index date and a minimum age")
    day = f"DATE '{index.isoformat()}'"
    return f"""
SELECT count(*) FROM read_parquet('{kit / "patients.parquet"}') p
WHERE (p.date_of_death IS NULL OR p.date_of_death > {day})
  AND {age_sql(day)} >= {definition.population.age_min}
  AND EXISTS (
    SELECT 1 FROM read_parquet('{kit / "registrations.parquet"}') r
    WHERE r.patient_id = p.patient_id AND r.start_date <= {day}
      AND (r.end_date IS NULL OR r.end_date >= {day}))
  AND p.patient_id IN (
    SELECT patient_id FROM read_parquet('{kit / "clinical_events.parquet"}')
    WHERE code IN ({codes_list("diabetes")}) AND date <= {day})
""".strip()


def measure_floor_sql(kit: Path, intervals: list[tuple[str, str]], out: Path) -> str:
    """The measure by practice as one hand-written query written to CSV: for each month, adults
    alive and registered on its last day with a diabetes code on or before it (the denominator);
    of them, those whose latest HbA1c in the 15 months to that day is at most 58 (the numerator).
    The practice is the registration's that started last (then the lowest id), and the latest
    HbA1c is ordered by date, code and value, as the kit orders them. It starts from the patients
    with a diabetes code, as a hand-written query would."""
    definition = load_definition(DEFINITION)
    age_min = definition.population.age_min
    months = ", ".join(f"(DATE '{start}', DATE '{end}')" for start, end in intervals)
    events = f"read_parquet('{kit / 'clinical_events.parquet'}')"
    query = f"""
WITH intervals(interval_start, index_date) AS (VALUES {months}),
diabetes AS (
  SELECT patient_id, min(date) AS first_date FROM {events}
  WHERE code IN ({codes_list("diabetes")}) GROUP BY patient_id),
denominator AS (
  SELECT p.patient_id, i.interval_start, i.index_date
  FROM read_parquet('{kit / "patients.parquet"}') p
  JOIN diabetes d ON d.patient_id = p.patient_id
  JOIN intervals i ON d.first_date <= i.index_date
  WHERE (p.date_of_death IS NULL OR p.date_of_death > i.index_date)
    AND {age_sql("i.index_date")} >= {age_min}),
practice AS (
  SELECT r.patient_id, i.index_date,
         arg_max(r.practice_id, (r.start_date, -r.practice_id)) AS practice_id
  FROM read_parquet('{kit / "registrations.parquet"}') r
  JOIN diabetes d ON d.patient_id = r.patient_id
  JOIN intervals i ON r.start_date <= i.index_date
    AND (r.end_date IS NULL OR r.end_date >= i.index_date)
  GROUP BY r.patient_id, i.index_date),
hba1c AS (
  SELECT e.patient_id, i.index_date,
         arg_max(e.value, (e.date, e.code, coalesce(e.value, -1e300))) AS value
  FROM {events} e
  JOIN intervals i ON e.date <= i.index_date AND e.date >= i.index_date - INTERVAL 15 MONTH
  WHERE e.code IN ({codes_list("hba1c")})
  GROUP BY e.patient_id, i.index_date)
SELECT d.interval_start, g.practice_id,
       count(*) FILTER (WHERE h.value <= 58) AS numerator, count(*) AS denominator
FROM denominator d
JOIN practice g ON g.patient_id = d.patient_id AND g.index_date = d.index_date
LEFT JOIN hba1c h ON h.patient_id = d.patient_id AND h.index_date = d.index_date
GROUP BY d.interval_start, g.practice_id
ORDER BY d.interval_start, g.practice_id
"""
    return f"COPY ({query.strip()}) TO '{out}' (HEADER)"


def duckdb_settings(args: argparse.Namespace) -> list[str]:
    """The memory limit and spill folder given to the commands, as the floor's settings."""
    settings = []
    if args.memory_limit:
        settings.append(f"SET memory_limit = '{args.memory_limit}'")
    if args.temp_dir:
        settings.append(f"SET temp_directory = '{args.temp_dir}'")
    return settings


def engine_options(args: argparse.Namespace) -> list[str]:
    options = []
    if args.memory_limit:
        options += ["--memory-limit", args.memory_limit]
    if args.temp_dir:
        options += ["--temp-dir", str(args.temp_dir)]
    return options


def data_density(rows: dict[str, int]) -> dict[str, Any]:
    """The rows of each table and the events and prescriptions per patient."""
    return {
        "rows": rows,
        "events_per_patient": round(rows["clinical_events"] / rows["patients"], 2),
        "prescriptions_per_patient": round(rows["medications"] / rows["patients"], 2),
        "practices": rows["practices"],
    }


# --- one size ---------------------------------------------------------------------------------


def summary(runs: list[ProcessRun], first: ProcessRun) -> dict[str, Any]:
    seconds = [r.seconds for r in runs]
    return {
        "runs": len(runs),
        "min_s": round(min(seconds), 2),
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "first_s": round(first.seconds, 2),
        "all_s": [round(s, 2) for s in seconds],
        "peak_rss_mib": round(max(r.peak_mib for r in [*runs, first]), 1),
    }


def exact_measure(kit: Path, out: Path, options: list[str]) -> list[tuple[str, str]]:
    """Run the measure once with exact counts to `out`; its intervals (first and last days)."""
    import pandas as pd

    run_process(
        codeset(
            *("measure", str(DEFINITION), "--numerator", NUMERATOR, "--data", str(kit)),
            *("--no-disclosure", "--force", "--out", str(out), *options),
        )
    )
    table = pd.read_csv(out, dtype=str)
    pairs = table[["interval_start", "interval_end"]].drop_duplicates()
    return [tuple(row) for row in pairs.itertuples(index=False)]


def same_counts(kit_csv: Path, floor_csv: Path) -> bool:
    """Whether the kit's exact measure and the floor's give the same counts by month and practice."""
    import pandas as pd

    columns = ["interval_start", "practice_id", "numerator", "denominator"]
    kit = pd.read_csv(kit_csv)[columns].sort_values(columns[:2]).reset_index(drop=True)
    floor = pd.read_csv(floor_csv)[columns].sort_values(columns[:2]).reset_index(drop=True)
    return kit.astype(str).equals(floor.astype(str))


def measure_size(
    patients: int, kit: Path, synth: dict[str, Any], runs: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Time every command and its floor on the dataset of `patients` in `kit`."""
    data = args.data_dir.resolve()
    options = engine_options(args)
    settings = duckdb_settings(args)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=data) as tmp:
        out = Path(tmp)
        intervals = exact_measure(kit, out / "measure-exact.csv", options)
        floor_csv = out / "measure-floor.csv"
        sqls = {
            "cohort": cohort_floor_sql(kit),
            "measure": measure_floor_sql(kit, intervals, floor_csv),
        }
        argvs = {
            ("cohort", "kit"): codeset(
                *("cohort", str(DEFINITION), "--data", str(kit)),
                *("--out", str(out / "cohort.parquet"), "--force", *options),
            ),
            ("cohort", "floor"): [sys.executable, "-c", FLOOR_SCRIPT, sqls["cohort"], *settings],
            ("measure", "kit"): codeset(
                *("measure", str(DEFINITION), "--numerator", NUMERATOR, "--data", str(kit)),
                *("--out", str(out / "measure.csv"), "--force", *options),
            ),
            ("measure", "floor"): [sys.executable, "-c", FLOOR_SCRIPT, sqls["measure"], *settings],
        }
        first = {}
        for key, argv in argvs.items():
            first[key] = run_process(argv)
            print(f"{patients:,} first {key}: {first[key].seconds:.1f} s", file=sys.stderr)
        timed: dict[tuple[str, str], list[ProcessRun]] = {key: [] for key in argvs}
        for round_ in range(runs):
            for command in ("cohort", "measure"):
                order = ("kit", "floor") if round_ % 2 == 0 else ("floor", "kit")
                for who in order:
                    timed[(command, who)].append(run_process(argvs[(command, who)]))
            print(f"{patients:,}: round {round_ + 1} of {runs} done", file=sys.stderr)
        floor_count = int(first[("cohort", "floor")].stdout.split()[-1])
        import pyarrow.parquet as pq

        cohort_rows = pq.read_metadata(out / "cohort.parquet").num_rows
        same_measure = same_counts(out / "measure-exact.csv", floor_csv)
    return {
        "patients": patients,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "options": options,
        "data": {
            "folder": str(kit.relative_to(ROOT) if kit.is_relative_to(ROOT) else kit),
            **data_density(synth["rows"]),
        },
        "timings": {
            command: {
                who: summary(timed[(command, who)], first[(command, who)])
                for who in ("kit", "floor")
            }
            for command in ("cohort", "measure")
        },
        "checks": {
            "cohort_rows": cohort_rows,
            "floor_count": floor_count,
            "cohort_rows_equal_floor_count": cohort_rows == floor_count,
            "exact_measure_equals_floor": same_measure,
        },
        "floor_sql": {k: v.replace(str(kit), "DIR") for k, v in sqls.items()},
    }


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "disk": "the data folder's file system",
        "peak_memory_by": "max(/usr/bin/time -v, sampled sum over the process tree)",
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(
            git("status", "--porcelain", "--", "codesetlib", "cohorts", "codesets")
        ),
    }


# --- the report -------------------------------------------------------------------------------


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue at a measured size: met or missed, and by how much."""
    found = []
    for patients, targets in TARGETS.items():
        result = report["sizes"].get(str(patients))
        synth = report["synth"].get(str(patients))
        for command, seconds, mib in targets:
            if (synth if command == "synth" else result) is None:
                found.append({"patients": patients, "command": command, "measured": False})
                continue
            got = synth if command == "synth" else result["timings"][command]["kit"]
            took = got["seconds"] if command == "synth" else got["median_s"]
            peak = got["peak_rss_mib"]
            found.append(
                {
                    "patients": patients,
                    "measured": True,
                    "command": command,
                    "target_s": seconds,
                    "seconds": took,
                    "target_mib": None if mib is None else round(mib, 1),
                    "peak_mib": peak,
                    "time_met": took <= seconds,
                    "memory_met": mib is None or peak <= mib,
                }
            )
    return found


def verdict_line(v: dict[str, Any]) -> str:
    if not v["measured"]:
        return f"- `codeset {v['command']}` at {v['patients']:,} patients: not measured yet."
    what = "median" if v["command"] != "synth" else "one run"
    time_text = (
        f"{v['seconds']} s ({what}) against ≤ {v['target_s']:g} s: "
        + ("**met**" if v["time_met"] else f"**missed** by {v['seconds'] - v['target_s']:.1f} s")
        + (
            f", {v['seconds'] / v['target_s']:.2f}× the target"
            if not v["time_met"]
            else f", {v['target_s'] - v['seconds']:.1f} s to spare"
        )
    )
    line = f"- `codeset {v['command']}` at {v['patients']:,} patients: {time_text}"
    if v["target_mib"] is not None:
        line += f"; peak {v['peak_mib']} MiB against ≤ {v['target_mib']} MiB: " + (
            f"**met** ({v['target_mib'] - v['peak_mib']:.0f} MiB to spare)"
            if v["memory_met"]
            else f"**missed** by {v['peak_mib'] - v['target_mib']:.0f} MiB"
        )
    return line + "."


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    sizes = [report["sizes"][k] for k in sorted(report["sizes"], key=int)]
    synths = {int(k): report["synth"][k] for k in sorted(report["synth"], key=int)}
    lines = [
        "# National scale on one machine: `codeset synth`, `cohort` and `measure` from 1M to 60M "
        "patients",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, shared with other "
        f"work; {m['system']}, Python {m['python']}, DuckDB {m['duckdb']}. Each size was measured "
        "on its own date, commit and load (below). Run by `python benchmarks/bench_scale.py`.",
        "",
        "![Seconds and peak memory against patients, log-log](scale.png)",
        "",
        "## Targets (issue 18)",
        "",
        *[verdict_line(v) for v in report["verdicts"]],
        "",
        "Megabytes are 10^6 bytes (300 MB = 286.1 MiB, 500 MB = 476.8 MiB), 8 GiB = 8192 MiB.",
        "",
        "## Data",
        "",
        "| patients | clinical events | per patient | prescriptions | per patient | practices | "
        "Parquet MiB | synth s | synth peak MiB (process tree) | synth load before → after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for patients, g in synths.items():
        d = data_density(g["rows"])
        lines.append(
            f"| {patients:,} | {d['rows']['clinical_events']:,} | {d['events_per_patient']} | "
            f"{d['rows']['medications']:,} | {d['prescriptions_per_patient']} | {d['practices']} | "
            f"{g['output_mib']} | {g['seconds']} | {g['peak_rss_mib']} | "
            f"{g['load_average_before'][0]} → {g['load_average_after'][0]} |"
        )
    lines += [
        "",
        "## Cohort and measure, beside the floor",
        "",
        "Seconds of wall time of the whole process (start-up, imports, checking the dataset against "
        "its manifest, the query, writing the output): min / median / max of the timed runs, which "
        "alternate with the floor; first = the untimed first run (which also hashes the dataset's "
        "files into the kit's cache). Peak MiB: the largest over all runs.",
        "",
        "| patients | command | who | runs | min s | median s | max s | first s | peak MiB | "
        "median ÷ floor's |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        for command in ("cohort", "measure"):
            t = s["timings"][command]
            for who in ("kit", "floor"):
                r = t[who]
                label = f"`codeset {command}`" if who == "kit" else "floor (hand-written SQL)"
                ratio = round(r["median_s"] / t["floor"]["median_s"], 2) if who == "kit" else ""
                lines.append(
                    f"| {s['patients']:,} | {command} | {label} | {r['runs']} | {r['min_s']} | "
                    f"{r['median_s']} | {r['max_s']} | {r['first_s']} | {r['peak_rss_mib']} | "
                    f"{ratio} |"
                )
    lines += [
        "",
        "| patients | date | commit | load before → after | options | cohort rows = floor count "
        "| exact measure = floor's |",
        "|---:|---|---|---|---|---|---|",
    ]
    for s in sizes:
        c = s["checks"]
        lines.append(
            f"| {s['patients']:,} | {s['date']} | {s['git']['commit'][:12]}"
            + (" (uncommitted changes)" if s["git"]["uncommitted_changes"] else "")
            + f" | {', '.join(map(str, s['load_average_before']))} → "
            f"{', '.join(map(str, s['load_average_after']))} | {' '.join(s['options']) or 'none'} | "
            f"{'yes' if c['cohort_rows_equal_floor_count'] else 'no'} ({c['cohort_rows']:,}) | "
            f"{'yes' if c['exact_measure_equals_floor'] else 'no'} |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "- The data are the generator's own, with its defaults but the number of patients "
        "(`codeset synth --patients N`): the events per patient above are its density. They are "
        "kept in `benchmarks/.data/kit-N` and reused while the generator's parameters are the "
        "same; the synth figures are those of the run that wrote them.",
        "- Synth peak memory is the sum over the main process and its worker processes, sampled "
        f"every {SAMPLE_SECONDS} s (or the largest single process's, from the kernel, if larger).",
        "- `codeset cohort` runs the cohort and its attrition and writes a Parquet file of the "
        "cohort's columns; its floor counts the cohort only (adults alive and registered on the "
        "index date with a diabetes code on or before it). `codeset measure` runs the 12 monthly "
        "intervals to the index date by practice, and the attrition; its floor computes the same "
        "counts by month and practice and writes them as CSV, starting from the patients with a "
        "diabetes code. The SQL is in scale.json.",
        "- Runs: " + "; ".join(f"{s['patients']:,}: {s['runs']}" for s in sizes) + " timed runs of "
        "each command and floor (at least 5 up to 10M patients; 3 at 60M, where a round takes "
        "minutes).",
        "",
    ]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Seconds and peak memory against patients, log-log, for every command and floor."""
    from matplotlib.figure import Figure

    sizes = [report["sizes"][k] for k in sorted(report["sizes"], key=int)]
    synths = [report["synth"][k] for k in sorted(report["synth"], key=int)]
    x = [s["patients"] for s in sizes]
    series = {
        "codeset synth": (
            [int(k) for k in sorted(report["synth"], key=int)],
            [s["seconds"] for s in synths],
            [s["peak_rss_mib"] for s in synths],
        ),
    }
    for command in ("cohort", "measure"):
        for who, label in (("kit", f"codeset {command}"), ("floor", f"{command} floor (SQL)")):
            runs = [s["timings"][command][who] for s in sizes]
            series[label] = (x, [r["median_s"] for r in runs], [r["peak_rss_mib"] for r in runs])
    figure = Figure(figsize=(10, 4.2))
    seconds_axes, memory_axes = figure.subplots(1, 2)
    for label, (patients, seconds, mib) in series.items():
        style = "--" if "floor" in label else "-"
        seconds_axes.plot(patients, seconds, style, marker="o", label=label)
        memory_axes.plot(patients, mib, style, marker="o", label=label)
    targets = [(n, c, sec, mib) for n, found in TARGETS.items() for c, sec, mib in found]
    seconds_axes.scatter(
        [t[0] for t in targets], [t[2] for t in targets], marker="x", color="k", label="targets"
    )
    with_memory = [t for t in targets if t[3] is not None]
    memory_axes.scatter(
        [t[0] for t in with_memory], [t[3] for t in with_memory], marker="x", color="k"
    )
    for n, command, sec, mib in targets:
        seconds_axes.annotate(
            command, (n, sec), fontsize="x-small", xytext=(4, 2), textcoords="offset points"
        )
        if mib is not None:
            memory_axes.annotate(
                command, (n, mib), fontsize="x-small", xytext=(4, 2), textcoords="offset points"
            )
    for axes, ylabel, title in (
        (seconds_axes, "Wall time (s, median)", "Time against patients"),
        (memory_axes, "Peak memory (MiB)", "Peak memory against patients"),
    ):
        axes.set(xscale="log", yscale="log", xlabel="Patients", ylabel=ylabel, title=title)
        axes.grid(True, which="both", alpha=0.3)
    seconds_axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--runs", type=int, help="timed runs of each command (default 5 up to 10M patients, else 3)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "benchmarks" / ".data",
        help="where the generated datasets are kept and reused (default benchmarks/.data)",
    )
    parser.add_argument("--memory-limit", help="passed to cohort and measure, and set in the floor")
    parser.add_argument("--temp-dir", type=Path, help="where DuckDB spills (commands and floor)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--synth-only",
        action="store_true",
        help="generate (and time) the datasets only, keeping the cohort and measure results",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write scale.md and scale.png again from scale.json, running nothing",
    )
    args = parser.parse_args()

    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "scale.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report.setdefault("synth", {})
    report.setdefault("sizes", {})
    for patients in [] if args.report_only else sorted(args.sizes):
        key = str(patients)
        kit, report["synth"][key] = dataset(
            patients, args.data_dir.resolve(), report["synth"].get(key)
        )
        if not args.synth_only:
            runs = args.runs or (5 if patients <= 10_000_000 else 3)
            report["sizes"][key] = measure_size(patients, kit, report["synth"][key], runs, args)
        report.update(benchmark="scale", machine=machine())
        report["verdicts"] = verdicts(report)
        # Written after every size, so a long run that stops keeps the sizes it finished.
        path.write_text(json.dumps(report, indent=2) + "\n")
        (args.results / "scale.md").write_text(markdown(report))
        plot(report, args.results / "scale.png")
    if args.report_only:
        (args.results / "scale.md").write_text(markdown(report))
        plot(report, args.results / "scale.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
