"""`codeset` starts at once: building its parser, `--help` and a command that reads one codeset
import none of the heavy libraries (pandas, Ibis, DuckDB, Arrow, Spark, plotting, notebooks).

Each command imports what it needs when it runs; this is the guard that keeps a module-level import
from creeping back into the command's start. How long a start takes is measured by
`benchmarks/bench_cli.py`, not asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_codeset

REPO = Path(__file__).resolve().parents[1]

# Libraries no command may import before it runs, each a second or a large part of one to import.
HEAVY = (
    "pandas",
    "ibis",
    "pyspark",
    "matplotlib",
    "papermill",
    "duckdb",
    "pyarrow",
    "lark",
    "fhir",
    "numpy",
    "scipy",
    "nbformat",
    "IPython",
)


def imported(*args: str, cwd: Path = REPO) -> set[str]:
    """The top-level packages a fresh interpreter imports running `python -X importtime ARGS`,
    read from what -X importtime prints; the run must succeed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    assert names, "no -X importtime lines were read"
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(names.intersection(HEAVY))


def test_building_the_parser_imports_no_heavy_library():
    names = imported("-c", "from codesetlib.cli.main import build_parser; build_parser()")
    assert heavy(names) == []
    # Nor the codeset model's validation library: only a command that reads a codeset needs it.
    assert "pydantic" not in names


def test_help_imports_no_heavy_library():
    names = imported("-m", "codesetlib.cli", "--help")
    assert heavy(names) == []
    assert "pydantic" not in names


def test_each_commands_help_imports_no_heavy_library():
    for command in ("cohort", "measure", "synth", "ecl", "export"):
        assert heavy(imported("-m", "codesetlib.cli", command, "--help")) == [], command


def test_showing_a_codeset_imports_no_heavy_library(tmp_path: Path):
    write_codeset(tmp_path / "codesets")
    names = imported("-m", "codesetlib.cli", "show", "cancer", cwd=tmp_path)
    assert heavy(names) == []


def test_the_guard_sees_a_heavy_import():
    assert heavy(imported("-c", "import json, numpy")) == ["numpy"]


# Libraries `codeset cohort` and `codeset measure` never need on their way to a result: statistics
# and plotting are for the record's pages, the ECL parser for ECL rules, notebooks for the book.
NOT_AT_WORK = ("scipy", "statsmodels", "matplotlib", "lark", "pyspark", "papermill", "nbformat")


def test_cohort_and_measure_at_work_import_no_plotting_or_statistics(tmp_path: Path):
    from codesetlib.data.synthetic import SynthParams, generate_dataset

    data = tmp_path / "data"
    generate_dataset(SynthParams(patients=300, practices=2, seed=3), data, progress=False)
    cohort = REPO / "cohorts" / "diabetes_control.yaml"
    for command in (
        ["cohort", str(cohort), "--out", str(tmp_path / "c.parquet")],
        [
            "measure",
            str(cohort),
            "--numerator",
            "hba1c_controlled",
            "--out",
            str(tmp_path / "m.csv"),
        ],
    ):
        names = imported("-m", "codesetlib.cli", *command, "--data", str(data))
        assert sorted(names.intersection(NOT_AT_WORK)) == [], command[0]
        assert {"duckdb", "pyarrow"} <= names, command[0]
