"""A throwaway Spark standalone cluster for the test session: a master and two workers.

Each is a Java process of its own, started from the pinned PySpark's own launcher
(`pyspark/bin/spark-class`, with SPARK_HOME the pyspark package folder), on 127.0.0.1 with free
ports; each worker offers one core and 1 GB. Logs and the workers' folders go into a temporary
folder. The fixture waits until the master's JSON page (`http://127.0.0.1:<webui>/json/`) lists both
workers ALIVE, and at the end of the session stops the three processes and removes the folder.

Only one SparkSession can live in a Python process, and the other tests share a local one, so the
tests run their work on the cluster in a process of their own, as a user's program would.

Without Java the fixture fails rather than skips, as `make test` installs it first
(`make system-deps`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"
# Starting three JVMs on two shared cores takes a few seconds; allow for a slow machine.
START_TIMEOUT_S = 120


@dataclass
class SparkCluster:
    """A running standalone cluster: where to submit to, where its JSON pages are, its folder."""

    master_url: str
    webui_url: str
    worker_webui_urls: list[str]
    root: Path
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def state(self) -> dict[str, Any]:
        """The master's state as its web UI gives it as JSON (workers, running and completed
        applications)."""
        return read_json(f"{self.webui_url}/json/")

    def worker_states(self) -> list[dict[str, Any]]:
        """Each worker's state from its own JSON page (its executors, running and finished)."""
        return [read_json(f"{url}/json/") for url in self.worker_webui_urls]

    def logs(self) -> str:
        """The end of every process's log, to show when something fails."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


def read_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        loaded: dict[str, Any] = json.load(response)
    return loaded


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def spark_home() -> Path:
    """The pinned PySpark's package folder, which holds Spark's jars and its `bin/spark-class`."""
    import pyspark

    return Path(pyspark.__file__).parent


def java_or_fail() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail(
            "the Spark cluster needs Java 17+, which is not installed; `make system-deps` installs "
            "it (Debian's openjdk-17-jre-headless)",
            pytrace=False,
        )


def launch(home: Path, root: Path, name: str, arguments: list[str]) -> subprocess.Popen:
    """Start one of Spark's daemons in the foreground, its output in `root/<name>.log`."""
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(root),
        "SPARK_CONF_DIR": str(root / "conf"),
        "SPARK_NO_DAEMONIZE": "1",
    }
    with (root / f"{name}.log").open("wb") as log:
        # A session of its own, so that stopping the cluster never signals the test process.
        return subprocess.Popen(
            [str(home / "bin" / "spark-class"), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=root,
            start_new_session=True,
        )


def alive_workers(cluster: SparkCluster) -> int:
    try:
        state = cluster.state()
    except (urllib.error.URLError, OSError, ValueError):
        return 0
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


def wait_for_workers(cluster: SparkCluster) -> None:
    """Until the master lists every worker ALIVE; a failed test with the logs if a process dies or
    the time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while alive_workers(cluster) < WORKERS:
        exited = [p.args[1] for p in cluster.processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            why = f"{', '.join(map(str, exited))} exited" if exited else "timed out"
            pytest.fail(
                f"the Spark standalone cluster did not start ({why}; {alive_workers(cluster)} of "
                f"{WORKERS} workers registered at {cluster.webui_url}/json/):\n{cluster.logs()}",
                pytrace=False,
            )
        time.sleep(0.5)


def new_cluster(root: Path) -> SparkCluster:
    """A cluster under `root` on free ports, not yet started."""
    return SparkCluster(
        master_url=f"spark://{HOST}:{free_port()}",
        webui_url=f"http://{HOST}:{free_port()}",
        worker_webui_urls=[f"http://{HOST}:{free_port()}" for _ in range(WORKERS)],
        root=root,
    )


def port_of(url: str) -> str:
    return url.rsplit(":", 1)[1]


def start_cluster(cluster: SparkCluster) -> None:
    """Start the master and its workers and wait for the workers to register."""
    home, root = spark_home(), cluster.root
    (root / "conf").mkdir()
    cluster.processes.append(
        launch(
            home,
            root,
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                *("--host", HOST, "--port", port_of(cluster.master_url)),
                *("--webui-port", port_of(cluster.webui_url)),
            ],
        )
    )
    for number, webui in enumerate(cluster.worker_webui_urls, start=1):
        work = root / f"worker-{number}"
        work.mkdir()
        cluster.processes.append(
            launch(
                home,
                root,
                f"worker-{number}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    cluster.master_url,
                    *("--host", HOST, "--webui-port", port_of(webui), "--work-dir", str(work)),
                    *("--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY),
                ],
            )
        )
    wait_for_workers(cluster)


def stop_cluster(cluster: SparkCluster) -> None:
    """Stop every process the cluster started (its own process group: the JVM and anything it ran,
    such as executors) and wait for them."""
    for process in reversed(cluster.processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in cluster.processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_cluster() -> Iterator[SparkCluster]:
    """A cluster for as long as the block runs, stopped and its folder removed after."""
    java_or_fail()
    root = Path(tempfile.mkdtemp(prefix="codeset-spark-"))
    cluster = new_cluster(root)
    try:
        start_cluster(cluster)
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[SparkCluster]:
    """One Spark standalone cluster (a master, two workers of one core each) for the session."""
    with running_cluster() as cluster:
        yield cluster
