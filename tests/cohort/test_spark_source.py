"""`codeset cohort --engine spark` refuses what Spark cannot run in one line, before Spark starts.

A malformed master address (given by `--spark-master` or by `CODESET_SPARK_MASTER`), a master
nobody answers at, a source Spark does not read (an OMOP CDM on PostgreSQL or in files) and DuckDB's
own options are each named, with a non-zero exit and no traceback. None of these starts a JVM, so
the module needs no Java; the runs that do start Spark, on the session's cluster, are in
`test_spark_cluster.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codesetlib.cli.main import main
from codesetlib.cohorts.engines.spark_source import (
    SPARK_MASTER_ENV,
    parse_master,
    spark_master,
)
from codesetlib.core.errors import CohortError
from tests.spark_cluster import free_port
from tests.spec.dataset import write_tables

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = "cohorts/diabetes_control.yaml"
EXIT_USER_ERROR = 2


@pytest.fixture(scope="module")
def kit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of the kit's tables (the spec's standard rows)."""
    return write_tables(tmp_path_factory.mktemp("spark-source") / "kit")


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line `codeset ARGS` prints on standard error when it refuses, checked to be one
    `codeset: error:` line with the user-error exit code and nothing on standard output."""
    assert main(list(args)) == EXIT_USER_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codeset: error: "), err
    return lines[0]


@pytest.mark.parametrize("command", ["cohort", "measure"])
def test_a_malformed_master_is_named_with_the_form_it_should_have(
    command: str, kit_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--numerator", "hba1c_controlled"] if command == "measure" else []
    for url, why in [
        ("spark:/sparkhost:7077", "spark://HOST:PORT"),
        ("spark://sparkhost", "'sparkhost' is not HOST:PORT"),
        ("spark://sparkhost:70770", "a port from 1 to 65535"),
        ("local[4]", "local mode is --engine spark without a master"),
        ("yarn", "standalone cluster"),
    ]:
        line = refused(
            capsys,
            *(command, DEFINITION, *extra, "--data", str(kit_folder)),
            *("--engine", "spark", "--spark-master", url),
        )
        assert f"--spark-master: {url!r} is not a Spark master's address" in line
        assert why in line


def test_a_master_nobody_answers_at_is_named_without_a_traceback(kit_folder: Path) -> None:
    """As a user meets it: the command in a process of its own, the master from the environment."""
    url = f"spark://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesetlib.cli",
            "cohort",
            DEFINITION,
            "--data",
            str(kit_folder),
            "--engine",
            "spark",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, SPARK_MASTER_ENV: url},
    )
    assert done.returncode == EXIT_USER_ERROR
    assert done.stderr.strip() == (
        f"codeset: error: {SPARK_MASTER_ENV}: cannot reach the Spark master at {url} "
        f"({url.removeprefix('spark://')}: connection refused): is the master running, and is "
        "this the address its web page shows?"
    )
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("omop:postgresql://analyst@dbhost/cdm?schema=cdm", "runs its cohorts on its own server"),
        ("omop:{folder}", "reach the kit's schema through DuckDB's views"),
    ],
)
def test_a_source_spark_does_not_read_is_named(
    source: str, why: str, kit_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = source.format(folder=kit_folder)
    line = refused(capsys, "cohort", DEFINITION, "--data", data, "--engine", "spark")
    assert "the Spark engine reads the kit's Parquet dataset" in line
    assert why in line and "run it without --engine spark" in line
    assert data.removeprefix("omop:").split("?")[0] in line


def test_a_missing_folder_and_duckdbs_options_are_refused(
    kit_folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    line = refused(capsys, "cohort", DEFINITION, "--data", str(missing), "--engine", "spark")
    assert f"{missing}: is not a folder of the kit's Parquet tables" in line
    run = ["cohort", DEFINITION, "--data", str(kit_folder)]
    line = refused(capsys, *run, "--engine", "spark", "--memory-limit", "2GB")
    assert "--memory-limit sets DuckDB's connection, not Spark's" in line
    line = refused(capsys, *run, "--engine", "spark", "--temp-dir", str(tmp_path))
    assert "--temp-dir sets DuckDB's connection" in line
    line = refused(capsys, *run, "--spark-master", "spark://sparkhost:7077")
    assert "--spark-master needs --engine spark" in line
    line = refused(
        capsys, *run, "--engine", "spark", "--threads", "2", "--spark-master", "spark://h:7077"
    )
    assert "--threads sets local mode's threads" in line


def test_the_master_comes_from_the_option_then_the_environment() -> None:
    environ = {SPARK_MASTER_ENV: "spark://from-env:7077"}
    given = spark_master("spark://given:7077", environ)
    assert given is not None and (given.url, given.given_by) == (
        "spark://given:7077",
        "--spark-master",
    )
    from_env = spark_master(None, environ)
    assert from_env is not None and from_env.given_by == SPARK_MASTER_ENV
    assert spark_master(None, {}) is None
    assert spark_master(None, {SPARK_MASTER_ENV: "  "}) is None


def test_a_standby_group_and_ipv6_addresses_are_masters() -> None:
    group = parse_master("spark://a.example:7077,b.example:7078", "--spark-master")
    assert group.addresses == (("a.example", 7077), ("b.example", 7078))
    assert parse_master("spark://[::1]:7077", "x").addresses == (("::1", 7077),)
    with pytest.raises(CohortError, match=r"'b\.example' is not HOST:PORT"):
        parse_master("spark://a.example:7077,b.example", "--spark-master")
