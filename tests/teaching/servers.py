"""Start a Jupyter server (Voilà, JupyterLab) as a user would, on a free port, and stop it after.

The command is the one the Makefile's target runs (`make_command`), so that what `make builder` and
`make lab` start is what is tested. The server runs as a subprocess in a session of its own, so that
stopping it stops the kernels it started too; its output goes to a log file that a failure quotes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60


def make_command(target: str, **variables: str) -> list[str]:
    """The last command `make <target>` runs (the server), as `make -n` prints it, with the
    programs of the project's virtual environment taken from this test session's."""
    assignments = [f"{name}={value}" for name, value in variables.items()]
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", target, *assignments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    words = shlex.split(dry.stdout.strip().splitlines()[-1])
    program = Path(words[0])
    if program.parent == Path(".venv/bin"):
        words[0] = str(BIN / program.name)
    return words


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_server(
    command: list[str], ready_url: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Run `command` from the project root until the block ends; ready when `ready_url` answers
    200. Fails, quoting the log, when the server exits or does not answer within a minute."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            # The server's runtime files (connection files, its URL) stay with the log.
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(log.parent / "runtime"), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(process, ready_url, log)
        yield process
    finally:
        stop(process)


def wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(
        f"the server did not answer {url} in {STARTUP_SECONDS} s:\n{log_tail(log)}"
    )


def stop(process: subprocess.Popen) -> None:
    """Stop the server and what it started (its process group): politely, then for good.

    The leader is waited for without being reaped, so that its group id cannot have passed to
    another process when the group is killed."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not exited(process):
        time.sleep(0.1)
    # Whatever of the group is left (a kernel slow to shut down) goes now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def exited(process: subprocess.Popen) -> bool:
    """Whether the process has ended, leaving it to be reaped."""
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
