"""The Spark engine on a standalone cluster: a master and two workers, each a process of its own.

The session's cluster (`tests/spark_cluster.py`) runs two applications. The first is started from
this module as a program in a process of its own (`python -m tests.cohort.test_spark_cluster MASTER
OUT`), as a user's program would be: one Python process holds one SparkSession, and the test
process's is the local one the other Spark tests share. That program runs an example of every
chapter of the spec on the cluster and writes what it found; the tests compare each with DuckDB's
rows and check on the master's and the workers' JSON pages that both workers were alive and that
the application's executors ran on them. The second is the command a user runs, `codeset cohort
--engine spark --spark-master URL`, on the study's diabetes cohort over a generated dataset: its
file must be the one DuckDB's command writes, and its exact attrition the one DuckDB's prints.

The generated dataset has `PATIENTS` patients, which keeps the module to about a minute and a half;
the benchmark (`benchmarks/bench_spark_cluster.py`) runs a million and ten million.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from codesetlib.cohorts import DuckDBEngine
from tests.spark_cluster import SparkCluster

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "cohorts" / "diabetes_control.yaml"
PATIENTS = 30_000
# A section of every chapter of the spec, whose first example runs on the cluster.
SPEC_MODULES = [
    "windows.test_offsets",
    "returns.test_first_and_last",
    "population.test_registration",
    "rules.test_include_and_exclude",
    "flags.test_bounds",
    "measures.test_intervals",
    "attrition.test_steps",
    "per_patient_index_dates.test_own_index_date",
]
APP_NAME = "codesetlib-cluster-check"
RUN_TIMEOUT_S = 600

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def spec_examples() -> list[str]:
    """`module::function` for the first example of each chosen section: every chapter once on the
    cluster (the whole spec runs on Spark in local mode, in `tests/spec`), which keeps the
    cluster's part of the tests to about a minute."""
    examples = []
    for name in SPEC_MODULES:
        module = importlib.import_module(f"tests.spec.{name}")
        first = next(f for f in vars(module) if f.startswith("test_"))
        examples.append(f"{name}::{first}")
    return examples


def example_function(example: str) -> Any:
    module, function = example.split("::")
    return getattr(importlib.import_module(f"tests.spec.{module}"), function)


# ---- The program run on the cluster, in a process of its own ----------------------------------


def run_spec_examples(session: object, scratch: Path) -> dict[str, str]:
    """Each example run on the cluster: "passed", or the error it failed with."""
    from codesetlib.cohorts.engines.spark_engine import SparkEngine
    from tests.spec.conftest import SpecTest
    from tests.spec.dataset import with_every_table, write_tables
    from tests.spec.engines import Tables, tables_key

    engines: dict[str, object] = {}

    def engine_for(tables: Tables) -> object:
        every = with_every_table(tables)
        key = tables_key(every)
        if key not in engines:
            folder = write_tables(scratch / f"tables-{len(engines)}", every)
            engines[key] = SparkEngine(folder, session)
        return engines[key]

    outcomes = {}
    for example in spec_examples():
        try:
            example_function(example)(SpecTest(mode="execute", engine_for=engine_for))
            outcomes[example] = "passed"
        except Exception:  # the test reports it, with the example's name
            outcomes[example] = traceback.format_exc(limit=3)
    return outcomes


def run_on_cluster(master_url: str, out: Path) -> None:
    """Run the examples on the cluster; write `out/run.json`."""
    from codesetlib.cohorts.engines.spark_engine import cluster_session

    session: Any = cluster_session(master_url, partitions=2, app_name=APP_NAME)
    session.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        spec = run_spec_examples(session, out / "spec")
        run = {
            "application_id": session.sparkContext.applicationId,
            "master": session.sparkContext.master,
            "spec": spec,
            "seconds": {"spec": round(time.perf_counter() - started, 1)},
        }
    finally:
        session.stop()
    (out / "run.json").write_text(json.dumps(run, indent=2))


# ---- The tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's own data for `PATIENTS` patients."""
    from codesetlib.data.synthetic.generate import generate_dataset
    from codesetlib.data.synthetic.params import SynthParams

    folder = tmp_path_factory.mktemp("cluster-data") / "dataset"
    generate_dataset(SynthParams(patients=PATIENTS, seed=42), folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def cluster_run(
    spark_cluster: SparkCluster, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The program's run on the cluster: what it wrote to `run.json`, and its output folder."""
    out = tmp_path_factory.mktemp("cluster-run")
    command = [
        sys.executable,
        "-m",
        "tests.cohort.test_spark_cluster",
        spark_cluster.master_url,
        str(out),
    ]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the run on the cluster took over {RUN_TIMEOUT_S} s:\n{spark_cluster.logs()}",
            pytrace=False,
        )
    if done.returncode != 0:
        pytest.fail(
            f"the run on the cluster failed (exit {done.returncode}):\n{done.stderr[-4000:]}",
            pytrace=False,
        )
    run: dict[str, Any] = json.loads((out / "run.json").read_text())
    run["out"] = out
    return run


def test_the_cluster_has_two_workers_alive(spark_cluster: SparkCluster) -> None:
    state = spark_cluster.state()
    assert state["status"] == "ALIVE"
    alive = [worker for worker in state["workers"] if worker["state"] == "ALIVE"]
    assert len(alive) == 2
    assert all(worker["cores"] == 1 and worker["memory"] == 1024 for worker in alive)


def test_the_application_ran_its_executors_on_both_workers(
    spark_cluster: SparkCluster, cluster_run: dict[str, Any]
) -> None:
    """The program's application is the master's, completed, and each worker ran an executor of
    it: the work was done on the cluster, not in the driver."""
    app_id = cluster_run["application_id"]
    assert cluster_run["master"] == spark_cluster.master_url
    completed = {app["id"]: app for app in spark_cluster.state()["completedapps"]}
    assert app_id in completed
    assert completed[app_id]["name"] == APP_NAME
    ran = [
        [e for e in worker["executors"] + worker["finishedexecutors"] if e["appid"] == app_id]
        for worker in spark_cluster.worker_states()
    ]
    assert all(ran), f"executors of {app_id} per worker: {ran}"


@pytest.mark.parametrize("example", spec_examples())
def test_a_spec_example_gives_its_rows_on_the_cluster_and_on_duckdb(
    example: str, cluster_run: dict[str, Any], tmp_path: Path
) -> None:
    """The example's expected rows, on the cluster and on DuckDB, so the two give the same rows."""
    from tests.spec.conftest import SpecTest
    from tests.spec.dataset import with_every_table, write_tables

    assert cluster_run["spec"][example] == "passed"
    example_function(example)(
        SpecTest(
            mode="execute",
            engine_for=lambda tables: DuckDBEngine(
                write_tables(tmp_path / "tables", with_every_table(tables))
            ),
        )
    )


def same_rows(cluster: pd.DataFrame, duckdb: pd.DataFrame, order: list[str]) -> None:
    """The same columns and rows, value for value, compared as plain Python values (the engines
    may hold a column in types of different widths)."""
    from tests.spec.dataset import records

    assert list(cluster.columns) == list(duckdb.columns)
    assert len(cluster) == len(duckdb)
    assert records(cluster.sort_values(order)) == records(duckdb.sort_values(order))


# ---- The command line on the cluster -----------------------------------------------------------


def codeset(*args: str) -> subprocess.CompletedProcess:
    """`codeset ARGS` as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def test_codeset_cohort_on_the_cluster_writes_duckdbs_rows(
    spark_cluster: SparkCluster, dataset: Path, tmp_path: Path
) -> None:
    """`codeset cohort --engine spark --spark-master URL` on a generated dataset writes the file
    DuckDB's command writes (the same columns, types and rows) and prints the same exact
    attrition; its application ran on the cluster's workers."""
    import pyarrow.parquet as pq

    on_duckdb, on_cluster = tmp_path / "duckdb.parquet", tmp_path / "cluster.parquet"
    common = ["cohort", str(DEFINITION), "--data", str(dataset), "--no-disclosure"]
    duckdb = codeset(*common, "--out", str(on_duckdb))
    assert duckdb.returncode == 0, duckdb.stderr
    cluster = codeset(
        *common,
        *("--engine", "spark", "--spark-master", spark_cluster.master_url),
        *("--out", str(on_cluster)),
    )
    assert cluster.returncode == 0, cluster.stderr[-4000:]
    assert f"run by Spark ({spark_cluster.master_url})" in cluster.stdout
    assert "Traceback" not in cluster.stderr
    # The same exact attrition, step by step, and the same number of rows written.
    assert cluster.stdout.replace(f"  run by Spark ({spark_cluster.master_url})\n", "") == (
        duckdb.stdout.replace(str(on_duckdb), str(on_cluster))
    )
    written, expected = pq.read_table(on_cluster), pq.read_table(on_duckdb)
    assert written.schema == expected.schema
    assert written.num_rows == expected.num_rows > 1000
    same_rows(written.to_pandas(), expected.to_pandas(), ["patient_id"])
    apps = [a for a in spark_cluster.state()["completedapps"] if a["name"] == "codesetlib"]
    assert apps, "the command's application is not among the master's completed ones"
    ran_on = [
        worker
        for worker in spark_cluster.worker_states()
        if any(e["appid"] == apps[-1]["id"] for e in worker["finishedexecutors"])
    ]
    assert ran_on, "no worker ran an executor of the command's application"


if __name__ == "__main__":
    run_on_cluster(sys.argv[1], Path(sys.argv[2]))
