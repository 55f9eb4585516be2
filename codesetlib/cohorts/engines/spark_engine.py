"""The Spark engine: the same Ibis plan run by PySpark (local mode or a cluster) over Parquet files.

Uses Ibis's pyspark backend, which compiles the plan to Spark SQL; the date arithmetic it emits
(`date + INTERVAL n MONTH`) clamps to the month end as `cohort.dates` documents. Needs Java 17+.

`local_session` runs Spark inside this process; `cluster_session` makes this process the driver of
an application on a Spark standalone cluster (`spark://HOST:PORT`), whose executors read the
Parquet files themselves: the dataset's folder must be at the same path on every worker (a shared
filesystem), and the engine names its files by absolute path. A Python process holds one
SparkSession at a time, so a program uses one or the other.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from codesetlib.cohorts.engines.ibis_engine import DATASET_TABLES, IbisEngine
from codesetlib.core.errors import CohortError
from codesetlib.data.synthetic.manifest import dataset_tables


class SparkEngine(IbisEngine):
    """An Ibis pyspark connection on `session` with the dataset's Parquet files as tables."""

    name = "spark"
    dialect = "pyspark"

    def __init__(self, dataset_dir: Path, session: object) -> None:
        self.dataset_dir = Path(dataset_dir)
        con = ibis.pyspark.connect(session)
        super().__init__(con, {})
        for name, path in dataset_tables(self.dataset_dir, DATASET_TABLES).items():
            # Absolute, as executors on a cluster run in folders of their own.
            self.tables[name] = con.read_parquet(
                str(path.absolute()), table_name=f"{name}_{id(self)}"
            )


def local_session(partitions: int = 2) -> object:
    """A local SparkSession for one machine: few shuffle partitions, no UI, UTC dates."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("codesetlib")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


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
    Spark; no UI; UTC dates; the executors' Python is this one's. `executor_memory` (e.g. "1g")
    must fit in what a worker offers.
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
    return builder.getOrCreate()
