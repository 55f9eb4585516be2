"""The Spark engine opened on a data source as `codeset cohort --engine spark` opens it.

Without a master Spark runs in local mode, inside this process's JVM. With one (`--spark-master
spark://HOST:PORT`, by default the environment's `CODESET_SPARK_MASTER`) this process is the driver
of an application on that standalone cluster (`spark_engine.cluster_session`), whose workers read
the dataset's Parquet files by the path given here.

What Spark cannot run is refused before a JVM starts, in one line each: a master address that is not
a standalone master's, a master that does not answer, a source Spark does not read (Spark reads the
kit's Parquet tables; an OMOP CDM, core tables and a mapped extract reach the kit's schema through
DuckDB's views, and a database runs its cohorts on its own server), and DuckDB's settings, which mean
nothing to Spark. A cluster that gives the application no executor in time is named too, rather than
left to wait for ever.
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codesetlib.cohorts.engines.spark_engine import (
    SparkEngine,
    cluster_session,
    is_spark_error,
    local_session,
    spark_reason,
)
from codesetlib.core.errors import CohortError, DatasetError
from codesetlib.data.sources import DataSource, KitParquet, data_source
from codesetlib.data.sources.base import REQUIRED_TABLES

# The environment variable that gives `--spark-master` when the command line does not.
SPARK_MASTER_ENV = "CODESET_SPARK_MASTER"
# How long to wait for the master to accept a connection, and for the cluster to give the
# application its first executor (the workers start a JVM each: seconds on a busy machine).
CONNECT_TIMEOUT_S = 5.0
EXECUTOR_TIMEOUT_S = 120.0
# One master, or several of a standby group (`spark://host1:7077,host2:7077`).
HOST_PORT = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})"
)
MASTER_FORM = "spark://HOST:PORT, e.g. spark://sparkhost:7077"


@dataclass(frozen=True)
class SparkMaster:
    """A standalone master's address, the host and port of each of its masters, and where the
    address was given (the option or the environment variable), for the errors that name it."""

    url: str
    addresses: tuple[tuple[str, int], ...]
    given_by: str


def spark_master(given: str | None, environ: Mapping[str, str] | None = None) -> SparkMaster | None:
    """The master to run on: `given` (the option), else `CODESET_SPARK_MASTER`, else None (local
    mode). A `CohortError` naming where it came from when it is not a standalone master's URL."""
    environ = os.environ if environ is None else environ
    if given is not None:
        return parse_master(given, "--spark-master")
    from_environment = environ.get(SPARK_MASTER_ENV, "").strip()
    if from_environment:
        return parse_master(from_environment, SPARK_MASTER_ENV)
    return None


def parse_master(url: str, given_by: str) -> SparkMaster:
    """`url` as a standalone master's address; a `CohortError` saying what is wrong with it."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "spark":
        why = (
            "local mode is --engine spark without a master"
            if text.startswith("local")
            else "the kit runs on a Spark standalone cluster's master"
        )
        raise CohortError(
            f"{text!r} is not a Spark master's address ({MASTER_FORM}); {why}", field=given_by
        )
    addresses = []
    for part in rest.rstrip("/").split(","):
        found = HOST_PORT.fullmatch(part)
        port = int(found["port"]) if found else 0
        if found is None or not 0 < port < 65536:
            raise CohortError(
                f"{text!r} is not a Spark master's address: {part!r} is not HOST:PORT with a port "
                f"from 1 to 65535 ({MASTER_FORM})",
                field=given_by,
            )
        addresses.append((found["host"].strip("[]"), port))
    return SparkMaster(url=text, addresses=tuple(addresses), given_by=given_by)


def reach_master(master: SparkMaster, timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """Connect to the master (any one of a standby group) and return this machine's address on
    the way to it: the address the workers, on the master's network, reach the driver at. A
    `CohortError` naming the master when none answers."""
    reasons = []
    for host, port in master.addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout_s) as connection:
                own: str = connection.getsockname()[0]
                return own
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                reason = f"no answer in {timeout_s:g} s"
            reasons.append(f"{host}:{port}: {reason.lower()}")
    raise CohortError(
        f"cannot reach the Spark master at {master.url} ({'; '.join(reasons)}): is the master "
        "running, and is this the address its web page shows?",
        field=master.given_by,
    )


def spark_dataset(data: str | Path | DataSource, root: Path | None = None) -> KitParquet:
    """The kit's Parquet dataset `data` names, checked as the DuckDB engine checks it (its manifest
    and its required tables); a `DatasetError` naming any other kind of source."""
    source = data_source(data, root)
    if not isinstance(source, KitParquet):
        where = (
            "a database runs its cohorts on its own server"
            if "://" in source.location
            else "its tables reach the kit's schema through DuckDB's views"
        )
        raise DatasetError(
            f"the Spark engine reads the kit's Parquet dataset (a folder written by codeset synth), "
            f"not the {source.kind} source {source.spec()}: {where}; run it without --engine spark"
        )
    folder = source.folder
    if not folder.is_dir():
        raise DatasetError("is not a folder of the kit's Parquet tables", path=folder)
    from codesetlib.data.synthetic.manifest import dataset_tables

    found = dataset_tables(folder, REQUIRED_TABLES)
    for name in REQUIRED_TABLES:
        if name not in found:
            raise DatasetError(
                f"table {name} is missing (expected {folder / f'{name}.parquet'})", path=folder
            )
    return source


def open_spark_engine(
    data: str | Path | DataSource,
    master: str | None = None,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SparkEngine:
    """A Spark engine over the kit's dataset `data`: on the standalone cluster at `master` (or
    `CODESET_SPARK_MASTER`), else in local mode with `threads` threads (all cores by default).

    `memory_limit` and `temp_directory` are DuckDB's and refused here; Spark's memory is set as
    Spark's own (`spark-defaults.conf`, `SPARK_DRIVER_MEMORY`, the workers' settings)."""
    for option, value in (("--memory-limit", memory_limit), ("--temp-dir", temp_directory)):
        if value:
            raise CohortError(
                f"{option} sets DuckDB's connection, not Spark's; Spark's memory is set in "
                "spark-defaults.conf or SPARK_DRIVER_MEMORY, and the cluster's by its workers"
            )
    cluster = spark_master(master, environ)
    if cluster is not None and threads is not None:
        raise CohortError(
            f"--threads sets local mode's threads; the cluster at {cluster.url} runs on the cores "
            "its workers offer"
        )
    source = spark_dataset(data, root)
    folder = source.folder.absolute()
    driver_host = reach_master(cluster) if cluster is not None else None
    # PySpark warns on import, and again on each result it converts, that pandas 3 is newer than
    # it knows; the Spark engine's results are checked against DuckDB's in the tests. The filter
    # lasts the process (the command line puts its filters back when the command ends), as the
    # results are read after this returns.
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas")
    session = start_session(cluster, driver_host, threads)
    try:
        return SparkEngine(folder, session)
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise DatasetError(
            f"Spark cannot read the dataset: {spark_reason(exc)}", path=folder
        ) from None


def start_session(
    cluster: SparkMaster | None, driver_host: str | None, threads: int | None
) -> object:
    """The SparkSession, quiet (Spark's log shows errors only), with at least one executor when
    on a cluster."""
    try:
        if cluster is None:
            session: object = local_session(partitions=2, cores=threads or "*")
        else:
            session = cluster_session(cluster.url, driver_host=driver_host or "127.0.0.1")
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise CohortError(f"Spark did not start: {spark_reason(exc)}") from None
    context = session.sparkContext  # type: ignore[attr-defined]
    context.setLogLevel("ERROR")
    if cluster is not None:
        wait_for_executors(session, cluster)
    return session


def executors(session: object) -> int:
    """The executors the application holds now (the driver, listed beside them, not counted)."""
    context = session.sparkContext  # type: ignore[attr-defined]
    listed: int = context._jsc.sc().getExecutorMemoryStatus().size()
    return listed - 1


def wait_for_executors(
    session: object, cluster: SparkMaster, timeout_s: float = EXECUTOR_TIMEOUT_S
) -> None:
    """Until the cluster gives the application an executor; a `CohortError` (the session
    stopped) when it gives none in `timeout_s` or the master refuses the application: a job
    would otherwise wait for ever."""
    context = session.sparkContext  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while executors(session) < 1:
        stopped = context._jsc.sc().isStopped()
        if stopped or time.monotonic() > deadline:
            session.stop()  # type: ignore[attr-defined]
            why = "the master stopped the application" if stopped else f"none in {timeout_s:g} s"
            raise CohortError(
                f"the Spark cluster at {cluster.url} gave this application no executor ({why}): "
                "are its workers alive, with the cores and memory an executor asks for, and can "
                f"they reach this machine at {context.getConf().get('spark.driver.host')}?",
                field=cluster.given_by,
            )
        time.sleep(0.2)
