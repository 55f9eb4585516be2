"""The Spark engine: the same Ibis plan run by PySpark (local mode or a cluster) over Parquet files.

Uses Ibis's pyspark backend, which compiles the plan to Spark SQL; the date arithmetic it emits
(`date + INTERVAL n MONTH`) clamps to the month end as `cohort.dates` documents. Needs Java 17+.
"""

from __future__ import annotations

from pathlib import Path

import ibis

from codesetlib.cohorts.engines.ibis_engine import DATASET_TABLES, IbisEngine
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
            self.tables[name] = con.read_parquet(str(path), table_name=f"{name}_{id(self)}")


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
