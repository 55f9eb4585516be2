"""Benchmark `codeset cohort` and `codeset measure` on each kind of data source, as whole processes.

On the generator's own data (`codeset synth --patients N`, 1M by default, cached under
`benchmarks/.data/` and reused while its manifest's parameters are the ones the generator would use
now), times the commands a user runs:

- `codeset cohort cohorts/diabetes_control.yaml --data SOURCE --out X.parquet`
- `codeset measure cohorts/diabetes_control.yaml --numerator hba1c_controlled --data SOURCE --out Y.csv`
  (the 12 months to the index date, by practice)

on four sources: the kit's Parquet folder, the same data as an OMOP CDM in a DuckDB file and as a
folder of Parquet tables (`codeset synth --format omop --from`), and that CDM's tables loaded into a
throwaway PostgreSQL server (started as the tests start theirs, `tests/postgres.py`). Beside them, in
the same run, the floor: the cohort's count as one hand-written DuckDB query over the kit's Parquet
files, run as a `python -c` process. Each command runs once untimed (its first run, reported apart),
then `--repeats` times in rounds that take the sources in turn, each round starting one source
later, so load from other work on the machine falls on all alike. Peak memory is the maximum
resident set of the process and its children (`/usr/bin/time -v`, or the children's rusage); on
PostgreSQL, the server's processes are sampled apart while each command runs (their proportional set
size, so that the shared buffers are counted once).

Usage: python benchmarks/bench_sources.py [--patients 1000000] [--repeats 5]
       [--sources kit omop-duckdb omop-parquet omop-postgresql] [--results DIR] [--data-dir DIR]
(a quick run: --patients 20000 --repeats 2 --results /tmp/results)
Writes benchmarks/results/sources.json and sources.md.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow.parquet as pq

# The throwaway PostgreSQL server is the tests' own (tests/postgres.py), imported from the
# repository, which `whole_process` puts on the path with the kit.
from whole_process import CHILD_ENV, DEFINITION, NUMERATOR, RESULTS, ROOT

from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.load import load_definition
from codesetlib.data.synthetic.params import make_params

SOURCES = ("kit", "omop-duckdb", "omop-parquet", "omop-postgresql")
TARGET_RATIO = 1.5
# The OMOP writer's code: a CDM built by other code is built again.
WRITER_FILES = sorted((ROOT / "codesetlib" / "data" / "formats").glob("*.py"))
TIME = Path("/usr/bin/time")
# Without GNU time, a small parent reports its children's peak resident memory (kilobytes on Linux).
RUSAGE_PARENT = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)
FLOOR_SCRIPT = "import sys, duckdb; print(duckdb.connect().execute(sys.argv[1]).fetchone()[0])"


@dataclass(frozen=True)
class ProcessRun:
    """One command run as a process: its wall time, peak resident memory and output."""

    seconds: float
    peak_mib: float
    stdout: str
    server_peak_mib: float | None = None


def codeset_command() -> list[str]:
    """The `codeset` command of this environment, as a user runs it."""
    script = Path(sys.executable).parent / "codeset"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "codesetlib.cli"]


def codeset(*args: str) -> list[str]:
    return [*codeset_command(), *args]


def run_process(argv: list[str], cwd: Path = ROOT, server: int | None = None) -> ProcessRun:
    """Run `argv` to the end; wall time around the whole process, and the peak resident memory of
    it and its children (and of the database server whose postmaster is `server`, if given). A
    failure stops the benchmark with the command's output."""
    with tempfile.TemporaryDirectory() as tmp, ServerMemory(server) as served:
        report = Path(tmp) / "rusage"
        if TIME.is_file():
            wrapped = [str(TIME), "-v", "-o", str(report), *argv]
        else:
            wrapped = [sys.executable, "-c", RUSAGE_PARENT, str(report), *argv]
        start = time.perf_counter()
        done = subprocess.run(
            wrapped, cwd=cwd, env=CHILD_ENV, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - start
        text = report.read_text() if report.is_file() else ""
    if done.returncode != 0:
        raise SystemExit(
            f"failed (exit {done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}"
        )
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    kib = int(found.group(1)) if found else int(text.strip() or 0)
    return ProcessRun(
        seconds=seconds, peak_mib=kib / 1024, stdout=done.stdout, server_peak_mib=served.peak_mib
    )


class ServerMemory:
    """The peak memory of a server's processes (the postmaster `pid` and its children) while a
    command runs, sampled every `SAMPLE_S` seconds: the sum of their proportional set sizes
    (`Pss` of /proc/PID/smaps_rollup), which shares the shared buffers out among the processes
    that touch them rather than counting them in each. Nothing is sampled when `pid` is None."""

    SAMPLE_S = 0.05

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ServerMemory:
        if self.pid is not None:
            self.peak_mib = 0.0
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid is not None:
            self._stop.set()
            self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mib = max(self.peak_mib or 0.0, self._pss_kib() / 1024)
            if self._stop.wait(self.SAMPLE_S):
                return

    def _pss_kib(self) -> int:
        total = 0
        for pid in [self.pid, *children_of(self.pid)]:
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:  # the process ended between the listing and the read
                continue
            found = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
            total += int(found.group(1)) if found else 0
        return total


def children_of(pid: int | None) -> list[int]:
    """The processes whose parent is `pid` (a server's backends and workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (in parentheses) may hold spaces: the parent is after its end.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# --- the data ---------------------------------------------------------------------------------


def kit_dataset(patients: int, data: Path) -> tuple[Path, float | None]:
    """The generator's dataset of `patients`, generated unless the cached one's manifest has the
    parameters the generator would use now; with the seconds generating took (None when reused)."""
    folder = data / f"kit-{patients}"
    manifest = folder / "manifest.json"
    wanted = make_params(patients=patients).model_dump(mode="json")
    if manifest.is_file() and json.loads(manifest.read_text())["parameters"] == wanted:
        return folder, None
    data.mkdir(parents=True, exist_ok=True)
    print(f"generating {patients:,} patients into {folder}", file=sys.stderr)
    run = run_process(
        codeset("synth", "--patients", str(patients), "--out", str(folder), "--no-progress")
    )
    return folder, round(run.seconds, 1)


def fingerprint(kit: Path) -> str:
    """What a CDM is built from: the kit dataset's manifest and the OMOP writer's code."""
    digest = hashlib.sha256((kit / "manifest.json").read_bytes())
    for path in WRITER_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def omop_cdm(kit: Path, out: Path) -> float | None:
    """Convert the kit dataset to an OMOP CDM at `out` (a .duckdb file or a folder) unless the one
    there was built from the same dataset by the same writer; the seconds it took, or None."""
    record = out.with_name(out.name + ".built-from")
    key = fingerprint(kit)
    if out.exists() and record.is_file() and record.read_text() == key:
        return None
    print(f"writing {out} from {kit}", file=sys.stderr)
    run = run_process(codeset("synth", "--format", "omop", "--from", str(kit), "--out", str(out)))
    record.write_text(key)
    return round(run.seconds, 1)


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


@contextmanager
def postgres_cdm(
    cdm_folder: Path, work_mem: str, probe_seconds: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The CDM's Parquet tables loaded into a throwaway PostgreSQL server (schema `cdm`), as the
    data source a user names, with what the record says of the server.

    The cohort command is first tried once at the server's default settings, cancelled by the
    server after `probe_seconds`; the timed runs then have the database's `work_mem` set to
    `work_mem` (as a site would set it), as a site running large cohorts would."""
    from tests.postgres import running_server

    with running_server() as server:
        frames = {path.stem: pq.read_table(path) for path in sorted(cdm_folder.glob("*.parquet"))}
        start = time.perf_counter()
        server.load_tables(frames, "cdm")
        load_s = time.perf_counter() - start
        url = server.url("cdm")
        default = server_settings(server)
        probe = probe_cohort(url, probe_seconds)
        sql(server, f"ALTER DATABASE {server.dbname} SET work_mem = '{work_mem}'")
        # Nothing the benchmark starts may run for ever on the server.
        sql(server, f"ALTER DATABASE {server.dbname} SET statement_timeout = '30min'")
        yield (
            url,
            {
                "postmaster_pid": postmaster_pid(server),
                "version": default.pop("server_version"),
                "default_settings": default,
                "settings": {k: v for k, v in server_settings(server).items() if k in default},
                "at_default_settings": probe,
                "load_s": round(load_s, 1),
                "size_mib": round(int(sql(server, SIZE_SQL)) / 2**20, 1),
                "rows": {name: frame.num_rows for name, frame in frames.items()},
            },
        )


def postmaster_pid(server: Any) -> int:
    """The server's postmaster process: the first line of postmaster.pid in its data folder."""
    data = Path(server.host).parent / "data"
    return int((data / "postmaster.pid").read_text().splitlines()[0])


SIZE_SQL = (
    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'cdm' AND c.relkind = 'r'"
)


def sql(server: Any, statement: str) -> Any:
    """Run one statement on a new connection; its first value, if it returns rows."""
    con = server.connect()
    try:
        with con.con.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchone()[0] if cursor.description else None
    finally:
        con.disconnect()


def server_settings(server: Any) -> dict[str, str]:
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    return {name: str(sql(server, f"SHOW {name}")) for name in names}


def probe_cohort(url: str, seconds: int) -> dict[str, Any]:
    """The cohort command once, with the server cancelling any statement after `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = codeset("cohort", str(DEFINITION), "--data", url, "--out", f"{tmp}/cohort.parquet")
        env = {**CHILD_ENV, "PGOPTIONS": f"-c statement_timeout={seconds * 1000}"}
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        took = time.perf_counter() - start
    said = [line for line in done.stderr.splitlines() if "statement timeout" in line]
    return {
        "statement_timeout_s": seconds,
        "finished": done.returncode == 0,
        "seconds": round(took, 1),
        "error": said[0].strip() if said else (done.stderr.strip().splitlines() or [""])[-1],
    }


# --- the floor --------------------------------------------------------------------------------


def floor_sql(kit: Path) -> str:
    """The cohort's count as one hand-written DuckDB query over the kit's Parquet files: adults
    alive and registered on the index date with a diabetes code on or before it."""
    definition = load_definition(DEFINITION)
    index = definition.index_date.date
    if index is None or definition.population.age_min is None:
        raise SystemExit(f"{DEFINITION}: the floor needs a fixed index date and a minimum age")
    codes = codeset_codes(ROOT / "codesets", ["diabetes"])["diabetes"].codes
    listed = ", ".join(f"'{code}'" for code in sorted(codes))
    day = f"DATE '{index.isoformat()}'"
    return f"""
SELECT count(*) FROM read_parquet('{kit / "patients.parquet"}') p
WHERE (p.date_of_death IS NULL OR p.date_of_death > {day})
  AND year({day}) - year(p.date_of_birth)
      - CASE WHEN {index.month * 100 + index.day} < month(p.date_of_birth) * 100 + day(p.date_of_birth)
        THEN 1 ELSE 0 END >= {definition.population.age_min}
  AND EXISTS (
    SELECT 1 FROM read_parquet('{kit / "registrations.parquet"}') r
    WHERE r.patient_id = p.patient_id AND r.start_date <= {day}
      AND (r.end_date IS NULL OR r.end_date >= {day}))
  AND p.patient_id IN (
    SELECT patient_id FROM read_parquet('{kit / "clinical_events.parquet"}')
    WHERE code IN ({listed}) AND date <= {day})
""".strip()


# --- the runs ---------------------------------------------------------------------------------


def commands(spec: dict[str, str], out: Path) -> dict[tuple[str, str], list[str]]:
    """Every command timed, by (command, source)."""
    found: dict[tuple[str, str], list[str]] = {}
    for name, data in spec.items():
        found[("cohort", name)] = codeset(
            *("cohort", str(DEFINITION), "--data", data),
            *("--out", str(out / f"cohort-{name}.parquet"), "--force"),
        )
        found[("measure", name)] = codeset(
            *("measure", str(DEFINITION), "--numerator", NUMERATOR, "--data", data),
            *("--out", str(out / f"measure-{name}.csv"), "--force"),
        )
    return found


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
        **(
            {"server_peak_pss_mib": round(max(r.server_peak_mib or 0 for r in [*runs, first]), 1)}
            if first.server_peak_mib is not None
            else {}
        ),
    }


def time_all(
    argvs: dict[tuple[str, str], list[str]], repeats: int, servers: dict[str, int]
) -> dict[tuple[str, str], dict]:
    """Each command once untimed, then `repeats` rounds; within a round the cohorts and then the
    measures, each taking the sources in turn from a starting point that moves each round. A
    source in `servers` (by name, its server's postmaster pid) has its server's memory sampled."""

    def timed_run(key: tuple[str, str]) -> ProcessRun:
        return run_process(argvs[key], server=servers.get(key[1]))

    first = {key: timed_run(key) for key in argvs}
    for key, run in first.items():
        print(f"first {key}: {run.seconds:.2f} s, {run.peak_mib:.0f} MiB", file=sys.stderr)
    times: dict[tuple[str, str], list[ProcessRun]] = {key: [] for key in argvs}
    for round_ in range(repeats):
        # The floor takes its turn among the cohorts, whose count it computes.
        for commands_ in (("floor", "cohort"), ("measure",)):
            keys = [key for key in argvs if key[0] in commands_]
            shift = round_ % len(keys)
            for key in keys[shift:] + keys[:shift]:
                times[key].append(timed_run(key))
        print(f"round {round_ + 1} of {repeats} done", file=sys.stderr)
    return {key: summary(times[key], first[key]) for key in argvs}


def same_results(out: Path, spec: dict[str, str]) -> dict[str, Any]:
    """Whether every source gave the kit's cohort (its patients), the kit's measure by practice,
    and the kit's exact measure over all practices (one more run of each, untimed)."""
    import pandas as pd

    for name, data in spec.items():
        run_process(
            codeset(
                *("measure", str(DEFINITION), "--numerator", NUMERATOR, "--data", data),
                *("--by", "--no-disclosure", "--force", "--out", str(out / f"totals-{name}.csv")),
            )
        )

    def read(kind: str, name: str) -> pd.DataFrame:
        if kind == "cohort":
            return pd.read_parquet(out / f"cohort-{name}.parquet", columns=["patient_id"])
        return pd.read_csv(out / f"{kind}-{name}.csv")

    same: dict[str, Any] = {}
    for name in spec:
        ids = read("cohort", name)["patient_id"]
        same[name] = {
            "cohort_rows": len(ids),
            "same_patients_as_kit": sorted(ids) == sorted(read("cohort", "kit")["patient_id"]),
            "same_measure_by_practice_as_kit": read("measure", name).equals(read("measure", "kit")),
            "same_exact_measure_over_all_practices_as_kit": read("totals", name).equals(
                read("totals", "kit")
            ),
        }
    return same


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").is_file() else ""
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(int(total.group(1)) / 2**20, 1) if total else None,
        "cpu": model.group(1).strip() if model else platform.processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "peak_memory_by": "/usr/bin/time -v" if TIME.is_file() else "getrusage(RUSAGE_CHILDREN)",
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    reader = "codesetlib/data/sources/omop.py"
    return {
        "commit": git("rev-parse", "HEAD"),
        "omop_reader_commit": git("log", "-1", "--format=%H", "--", reader),
        "uncommitted_changes": bool(
            git("status", "--porcelain", "--", "codesetlib", "cohorts", "codesets")
        ),
    }


# --- the report -------------------------------------------------------------------------------

LABELS = {
    "floor": "floor: hand-written DuckDB SQL (`python -c`), count only",
    "kit": "kit Parquet folder",
    "omop-duckdb": "OMOP CDM in a DuckDB file",
    "omop-parquet": "OMOP CDM as Parquet tables",
    "omop-postgresql": "OMOP CDM on PostgreSQL",
}


def ratios(timings: dict[str, dict[str, dict]], command: str) -> dict[str, Any] | None:
    runs = timings[command]
    if "kit" not in runs or "omop-duckdb" not in runs:
        return None
    kit, omop = runs["kit"], runs["omop-duckdb"]
    median = omop["median_s"] / kit["median_s"]
    return {
        "median_over_median": round(median, 2),
        "min_over_min": round(omop["min_s"] / kit["min_s"], 2),
        "target": TARGET_RATIO,
        "met": median <= TARGET_RATIO,
        "seconds_over_target": round(
            max(0.0, omop["median_s"] - TARGET_RATIO * kit["median_s"]), 2
        ),
    }


def verdict(ratio: dict[str, Any]) -> str:
    if ratio["met"]:
        return f"**met** ({ratio['median_over_median']}× median against median; {ratio['min_over_min']}× best against best)"
    return (
        f"**missed** ({ratio['median_over_median']}× median against median, "
        f"{ratio['seconds_over_target']} s over {TARGET_RATIO}× the kit's median; "
        f"{ratio['min_over_min']}× best against best)"
    )


def markdown(report: dict[str, Any]) -> str:
    m, d = report["machine"], report["data"]
    lines = [
        "# Data sources benchmark: `codeset cohort` and `codeset measure` as a user runs them",
        "",
        f"Run {report['date']} with `{report.get('command', 'python benchmarks/bench_sources.py')}` "
        f"on {m['cores']} cores "
        f"({m['cpu']}), {m['ram_gib']} GiB RAM, shared with other work (load average "
        f"{report['load_average_before'][0]} before, {report['load_average_after'][0]} after); "
        f"Python {m['python']}, DuckDB {m['duckdb']}, Ibis {m['ibis']}"
        + (f", PostgreSQL {report['postgresql']['version']}" if report.get("postgresql") else "")
        + ".",
        "",
        f"Code: commit {report['git']['commit'][:12]}"
        + (" with uncommitted changes" if report["git"]["uncommitted_changes"] else "")
        + f" (the OMOP reader as of {report['git']['omop_reader_commit'][:12]}).",
        "",
        f"Data: the generator's own (`codeset synth --patients {d['patients']}`): {d['patients']:,} "
        f"patients, {d['clinical_events']:,} clinical events ({d['events_per_patient']} per "
        f"patient), {d['medications']:,} prescriptions; kit Parquet {d['size_mib']['kit']} MiB"
        + "".join(f", {name} {size} MiB" for name, size in d["size_mib"].items() if name != "kit")
        + ".",
        "",
    ]
    for command, ratio in report["ratio_omop_duckdb_to_kit"].items():
        if ratio is not None:
            lines.append(
                f"- `codeset {command}`, OMOP on DuckDB within {TARGET_RATIO}× of the kit's own "
                f"Parquet: {verdict(ratio)}."
            )
    lines += [
        "",
        f"Seconds of wall time of the whole process (Python start-up, imports, opening and checking "
        f"the source, the query, writing the output): min / median / max of {report['repeats']} runs "
        "taken in turn; first = the untimed first run. Peak memory: the largest resident set of the "
        f"process and its children over all its runs ({m['peak_memory_by']}).",
        "",
        "| Command | Source | min s | median s | max s | first s | peak RSS MiB | rows out |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    floor = report["floor"]
    lines.append(
        f"| cohort count | {LABELS['floor']} | {floor['min_s']} | {floor['median_s']} | "
        f"{floor['max_s']} | {floor['first_s']} | {floor['peak_rss_mib']} | {floor['count']:,} |"
    )
    for command in ("cohort", "measure"):
        for name, t in report["timings"][command].items():
            rows = report["results"].get(name, {}).get("cohort_rows") if command == "cohort" else ""
            rows_text = f"{rows:,}" if isinstance(rows, int) else ""
            lines.append(
                f"| {command} | {LABELS[name]} | {t['min_s']} | {t['median_s']} | {t['max_s']} | "
                f"{t['first_s']} | {t['peak_rss_mib']} | {rows_text} |"
            )
    lines += [
        "",
        "Same answers as the kit's Parquet folder (= same, ≠ different): "
        + "; ".join(
            f"{name}: cohort's patients {'=' if r['same_patients_as_kit'] else '≠'}, "
            f"exact measure over all practices "
            f"{'=' if r['same_exact_measure_over_all_practices_as_kit'] else '≠'}, "
            f"measure by practice {'=' if r['same_measure_by_practice_as_kit'] else '≠'}"
            for name, r in report["results"].items()
            if name != "kit"
        )
        + f"; the floor's count {'equals' if floor['count'] == report['results']['kit']['cohort_rows'] else 'differs from'} "
        "the kit cohort's rows. An OMOP CDM records one care site per person "
        "(`person.care_site_id`), not the practices a person moved between "
        "(`codesetlib/data/sources/OMOP.md`), so a measure by practice over the 12 months before "
        "the index date may count a patient who moved at another practice than the kit does; the "
        "exact measure over all practices (`--by` with no column, `--no-disclosure`, run once "
        "more untimed) shows whether the counts themselves agree.",
        "",
        "Notes:",
        "",
        "- Each command is `codeset cohort cohorts/diabetes_control.yaml --data SOURCE --out "
        "X.parquet` or `codeset measure cohorts/diabetes_control.yaml --numerator hba1c_controlled "
        "--data SOURCE --out Y.csv` (12 monthly intervals to the index date, by practice), with "
        "DuckDB's default threads (all cores). The cohort command runs the cohort and its attrition; "
        "the measure command the measure and the attrition.",
        "- The floor is the cohort's count only (adults alive and registered on the index date with "
        "a diabetes code on or before it), one query over the kit's Parquet files in a fresh "
        "`python -c` process that imports DuckDB alone; the SQL is in sources.json.",
        "- The OMOP sources are `codeset synth --format omop --from` the same dataset; the OMOP "
        "route reads each event's code through the CDM's CONCEPT table.",
    ]
    pg = report.get("postgresql")
    if pg:
        probe = pg["at_default_settings"]
        settings = ", ".join(f"{k} {v}" for k, v in pg["settings"].items())
        defaults = ", ".join(f"{k} {v}" for k, v in pg["default_settings"].items())
        lines += [
            f"- PostgreSQL {pg['version']} is a throwaway server on a Unix socket started as "
            "tests/postgres.py starts it (fsync off), with the CDM's Parquet tables loaded by COPY "
            f"into schema `cdm` in {pg['load_s']} s ({pg['size_mib']} MiB; no indexes, ANALYZEd "
            f"after loading). The timed runs had {settings} (set on the database). Its peak RSS "
            "in the table is the client process's; the server's own memory (its backend and "
            "parallel workers, the work_mem of their hash tables, the shared buffers) is outside "
            "the client's process tree and was sampled apart, every "
            f"{ServerMemory.SAMPLE_S * 1000:.0f} ms while each command ran, as the sum of its "
            "processes' proportional set sizes: at most "
            + " and ".join(
                f"{report['timings'][command]['omop-postgresql']['server_peak_pss_mib']} MiB "
                f"during `codeset {command}`"
                for command in ("cohort", "measure")
            )
            + ".",
            f"- At PostgreSQL's default settings ({defaults}) the cohort command "
            + (
                f"finished in {probe['seconds']} s."
                if probe["finished"]
                else f"did not finish: the server cancelled it after {probe['statement_timeout_s']} s "
                f"(`{probe['error']}`)."
            )
            + " Opening the CDM counts the events of persons not in PERSON by a range check on "
            "PERSON's ids when they run without a gap, or else by an anti join, never by "
            "`person_id IN (SELECT ...)` inside an aggregate, which at 4MB of work_mem PostgreSQL "
            "plans as a scan of the person table for every event row.",
        ]
    built = {k: "reused" if v is None else f"{v} s" for k, v in report["built"].items()}
    lines += [
        f"- Building the data (`reused`: cached in `benchmarks/.data/` by an earlier run): "
        f"generating {built['kit_s']}, converting to OMOP {built.get('omop-duckdb_s')} "
        f"(DuckDB file) and {built.get('omop-parquet_s')} (Parquet tables).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--postgresql-work-mem",
        default="256MB",
        help="the PostgreSQL database's work_mem for the timed runs (default 256MB)",
    )
    parser.add_argument(
        "--postgresql-probe-seconds",
        type=int,
        default=120,
        help="how long the one run at PostgreSQL's default settings may take (default 120)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "benchmarks" / ".data",
        help="where the generated dataset and its OMOP forms are kept between runs",
    )
    args = parser.parse_args()
    if "kit" not in args.sources:
        parser.error("--sources must include kit: every ratio is against it")

    load_before = os.getloadavg()
    data = args.data_dir.resolve()
    kit, kit_s = kit_dataset(args.patients, data)
    built: dict[str, float | None] = {"kit_s": kit_s}
    spec = {"kit": str(kit)}
    sizes = {"kit": size_mib(kit)}
    for name, out in (
        ("omop-duckdb", data / f"cdm-{args.patients}.duckdb"),
        ("omop-parquet", data / f"cdm-{args.patients}"),
    ):
        needed = name in args.sources or (
            name == "omop-parquet" and "omop-postgresql" in args.sources
        )
        built[f"{name}_s"] = omop_cdm(kit, out) if needed else None
        if name in args.sources:
            spec[name] = f"omop:{out}"
            sizes[name] = size_mib(out)
    manifest = json.loads((kit / "manifest.json").read_text())
    rows = {name: entry["rows"] for name, entry in manifest["tables"].items()}
    sql = floor_sql(kit)

    with tempfile.TemporaryDirectory(dir=data) as tmp, _postgres(args, data) as (url, pg):
        out = Path(tmp)
        if url is not None:
            spec["omop-postgresql"] = url
        argvs = commands(spec, out)
        argvs[("floor", "floor")] = [sys.executable, "-c", FLOOR_SCRIPT, sql]
        servers = {"omop-postgresql": pg.pop("postmaster_pid")} if pg is not None else {}
        timed = time_all(argvs, args.repeats, servers)
        floor_count = int(run_process(argvs[("floor", "floor")]).stdout.strip())
        results = same_results(out, spec)

    timings = {
        command: {name: timed[(command, name)] for name in spec}
        for command in ("cohort", "measure")
    }
    if pg is not None:
        sizes["omop-postgresql"] = pg["size_mib"]
    report = {
        "benchmark": "sources",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_sources.py", *sys.argv[1:]]),
        "machine": machine(),
        "git": git_state(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "repeats": args.repeats,
        "data": {
            "patients": args.patients,
            "clinical_events": rows["clinical_events"],
            "medications": rows["medications"],
            "events_per_patient": round(rows["clinical_events"] / rows["patients"], 2),
            "rows": rows,
            "size_mib": sizes,
        },
        "built": built,
        "postgresql": pg,
        "floor": {**timed[("floor", "floor")], "count": floor_count, "sql": sql},
        "timings": timings,
        "results": results,
        "ratio_omop_duckdb_to_kit": {
            command: ratios(timings, command) for command in ("cohort", "measure")
        },
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sources.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.results / "sources.md").write_text(markdown(report))
    print(markdown(report))


@contextmanager
def _postgres(
    args: argparse.Namespace, data: Path
) -> Iterator[tuple[str | None, dict[str, Any] | None]]:
    """The PostgreSQL source when it is asked for, else nothing."""
    if "omop-postgresql" not in args.sources:
        yield None, None
        return
    with postgres_cdm(
        data / f"cdm-{args.patients}", args.postgresql_work_mem, args.postgresql_probe_seconds
    ) as (url, details):
        yield url, details


if __name__ == "__main__":
    main()
