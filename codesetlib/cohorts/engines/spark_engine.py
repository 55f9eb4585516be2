"""The Spark engine: the same Ibis plan run by PySpark (local mode or a cluster) over Parquet files.

Uses Ibis's pyspark backend, which compiles the plan to Spark SQL; the date arithmetic it emits
(`date + INTERVAL n MONTH`) clamps to the month end as `cohort.dates` documents. Needs Java 17+.

`local_session` runs Spark inside this process; `cluster_session` makes this process the driver of
an application on a Spark standalone cluster (`spark://HOST:PORT`), whose executors read the
Parquet files themselves: the dataset's folder must be at the same path on every worker (a shared
filesystem), and the engine names its files by absolute path. A Python process holds one
SparkSession at a time, so a program uses one or the other. `codeset cohort --engine spark` opens
either through `spark_source.open_spark_engine`, which refuses first what Spark cannot run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.cohorts.engines.ibis_engine import DATASET_TABLES, IbisEngine
from codesetlib.core.errors import CohortError
from codesetlib.data.sources.kit import KitParquet
from codesetlib.data.synthetic.manifest import dataset_tables


class SparkEngine(IbisEngine):
    """An Ibis pyspark connection on `session` with the dataset's Parquet files as tables."""

    name = "spark"
    dialect = "pyspark"

    def __init__(self, dataset_dir: Path, session: object) -> None:
        self.dataset_dir = Path(dataset_dir)
        # The kit's dataset, as the command line shows the source a run read.
        self.source = KitParquet(self.dataset_dir)
        self.master: str = session.sparkContext.master  # type: ignore[attr-defined]
        con = ibis.pyspark.connect(session)
        super().__init__(con, {})
        for name, path in dataset_tables(self.dataset_dir, DATASET_TABLES).items():
            # Absolute, as executors on a cluster run in folders of their own.
            self.tables[name] = con.read_parquet(
                str(path.absolute()), table_name=f"{name}_{id(self)}"
            )

    def execute(self, expr: ir.Table) -> pd.DataFrame:
        """The result of `expr`; a query Spark could not run is a `CohortError` with the first line
        of Spark's reason (most often on a cluster: a worker that cannot read the dataset at the
        path this machine gave), not a Java stack."""
        try:
            return super().execute(expr)
        except Exception as exc:
            if not is_spark_error(exc):
                raise
            raise CohortError(
                f"Spark ({self.master}) could not run the query: {spark_reason(exc)}",
                path=self.dataset_dir,
            ) from None


def is_spark_error(exc: BaseException) -> bool:
    """Whether `exc` is raised by PySpark or by the Java side of Spark (through py4j)."""
    module = type(exc).__module__
    return module.startswith(("pyspark", "py4j"))


def spark_reason(exc: BaseException) -> str:
    """The first line of a Spark error that says what went wrong, without the Java stack."""
    text = str(exc)
    java = getattr(exc, "java_exception", None)
    if java is not None:
        # A failed job nests its cause; the deepest one names the file or setting at fault.
        cause = java
        while cause.getCause() is not None:
            cause = cause.getCause()
        text = f"{cause.getClass().getSimpleName()}: {cause.getMessage()}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# Spark's log kept to its errors from the driver's start (setLogLevel comes after its start-up notes).
LOG_CONFIGURATION = Path(__file__).with_name("spark_log4j2.xml")


def quiet(builder: Any) -> Any:
    """`builder` with the driver's log at errors only and no progress bars on the terminal."""
    return builder.config(
        "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIGURATION.as_uri()}"
    ).config("spark.ui.showConsoleProgress", "false")


def local_session(partitions: int = 2, cores: int | str = 2) -> object:
    """A local SparkSession for one machine (`cores` threads, `*` for all): few shuffle
    partitions, no UI, UTC dates, a quiet log."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("codesetlib")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    return quiet(builder).getOrCreate()


def cluster_session(
    master_url: str,
    *,
    partitions: int = 4,
    driver_host: str = "127.0.0.1",
    executor_memory: str | None = None,
    app_name: str = "codesetlib",
) -> object:
    """A SparkSession whose work runs on the standalone cluster at `master_url`.

    This process is the driver: it listens on `driver_host`, which every worker must reach (the
    loopback address suits a cluster on this machine; give this machine's address on the
    cluster's network otherwise). Few shuffle partitions, as a cohort's tables are small for
    Spark; no UI; UTC dates; a quiet log; the executors' Python is this one's.
    `executor_memory` (e.g. "1g") must fit in what a worker offers.
    """
    import sys

    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master_url:
        # getOrCreate would hand back the running session, silently not on the cluster.
        raise CohortError(
            f"this process already runs a SparkSession on {active.sparkContext.master}; stop it "
            f"(session.stop()) before opening one on {master_url}"
        )
    builder = (
        SparkSession.builder.master(master_url)
        .appName(app_name)
        .config("spark.driver.host", driver_host)
        .config("spark.driver.bindAddress", driver_host)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.pyspark.python", sys.executable)
        # Files on a shared filesystem are local to no executor: waiting for one that holds them
        # (3 s per level by default) only delays every scan.
        .config("spark.locality.wait", "0s")
    )
    if executor_memory is not None:
        builder = builder.config("spark.executor.memory", executor_memory)
    return quiet(builder).getOrCreate()
