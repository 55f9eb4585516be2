"""SIGINT and SIGTERM stop `codeset synth` and `codeset run` cleanly: exit 130 or 143, one line, no
traceback, nothing half-written left (no staging folder, no partial notebook, no worker or kernel
still running), the previous dataset as it was, and the next run completes, reusing what finished.

Each test runs the real command as its own process and signals it once it has started writing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from codesetlib.data.synthetic import SynthParams, generate_dataset
from tests.integrity.harness import CODESET, ROOT, snapshot

SIGNALS = [signal.SIGINT, signal.SIGTERM]
# Large enough that it is still writing its first tables when the signal comes.
BIG = ["--patients", "200000", "--practices", "10", "--no-progress"]


def start(args: list[str], cwd: Path, **options) -> subprocess.Popen:
    """The command as its own process group, as a shell starts a job."""
    return subprocess.Popen(
        [*CODESET, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **options,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the command ended before {what}: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def staging_has_data(parent: Path) -> Callable[[], bool]:
    """Whether a hidden staging folder below `parent` holds a table with rows written."""

    def written() -> bool:
        if not parent.is_dir():
            return False
        return any(
            table.stat().st_size > 0
            for folder in parent.glob(".*.tmp")
            for table in folder.glob("*.parquet")
        )

    return written


def ignore_sigint() -> None:
    """What a shell does for a job it starts in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr.decode()


def group_is_gone(group: int, seconds: float = 15) -> bool:
    """Whether every process of the group has ended (workers, the forkserver) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def hidden(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


def assert_stopped(code: int, stderr: str, signum: int) -> None:
    assert code == 128 + signum, stderr
    assert "Traceback" not in stderr, stderr
    assert f"codeset: stopped by {signal.Signals(signum).name}" in stderr, stderr


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_stops_synth_leaving_nothing_and_the_next_run_completes(
    tmp_path: Path, signum: int
):
    process = start(["synth", *BIG, "--workers", "1", "--out", "data/x"], tmp_path)
    wait_for(staging_has_data(tmp_path / "data"), process, "it wrote a table")
    process.send_signal(signum)
    assert_stopped(*finish(process), signum)
    # The staging folder and the `data` folder made for it are gone.
    assert list(tmp_path.iterdir()) == []
    again = subprocess.run(
        [*CODESET, "synth", "--patients", "200", "--no-progress", "--out", "data/x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert (
        json.loads((tmp_path / "data/x/manifest.json").read_text())["parameters"]["patients"] == 200
    )
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stopped_regeneration_keeps_the_previous_dataset(tmp_path: Path, signum: int):
    generate_dataset(SynthParams(patients=50, practices=2), tmp_path / "data/x", workers=1)
    before = snapshot(tmp_path)
    process = start(["synth", *BIG, "--workers", "1", "--out", "data/x"], tmp_path)
    wait_for(staging_has_data(tmp_path / "data"), process, "it wrote a table")
    process.send_signal(signum)
    assert_stopped(*finish(process), signum)
    assert snapshot(tmp_path) == before


def test_ctrl_c_stops_synth_and_its_workers_without_a_traceback(tmp_path: Path):
    """Ctrl-C at a terminal signals the whole process group: the workers as well as the command."""
    process = start(["synth", *BIG, "--workers", "2", "--out", "data/x"], tmp_path)
    wait_for(staging_has_data(tmp_path / "data"), process, "it wrote a table")
    os.killpg(process.pid, signal.SIGINT)
    assert_stopped(*finish(process), signal.SIGINT)
    assert group_is_gone(process.pid)
    assert list(tmp_path.iterdir()) == []


def test_sigint_stops_a_command_started_with_sigint_ignored(tmp_path: Path):
    """A shell starts background jobs with SIGINT ignored; `kill -INT` must still stop the command."""
    process = start(
        ["synth", *BIG, "--workers", "1", "--out", "data/x"], tmp_path, preexec_fn=ignore_sigint
    )
    wait_for(staging_has_data(tmp_path / "data"), process, "it wrote a table")
    process.send_signal(signal.SIGINT)
    assert_stopped(*finish(process), signal.SIGINT)
    assert list(tmp_path.iterdir()) == []


# A small study: a draft codeset, a 50-patient dataset, notebook a, and notebook b which waits while
# the file `slow` exists (after writing its kernel's process id to `b_started`).
STUDY = """\
title: a small study
index_date: 2025-03-31
dataset:
  name: small
  synth:
    patients: 50
    practices: 2
codesets: [small]
notebooks: [{path: a.ipynb}, {path: b.ipynb}]
"""
TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: generated/a\n  - file: generated/b\n"
NOTEBOOK_B = """\
import os, time
with open("b_started", "w") as started:
    started.write(str(os.getpid()))
while os.path.exists("slow"):
    time.sleep(0.1)
print("b")
"""


def write_notebook(path: Path, title: str, body: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('dataset_dir = "data"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell(f"# {title}"),
        nbformat.v4.new_code_cell(body),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)


def make_study(root: Path) -> Path:
    if not (ROOT / "node_modules").is_dir():
        pytest.skip("the book's scripts are not installed (npm ci)")
    root.mkdir()
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    new = ["new", "small", "--concept", "73211009", "--title", "Small", "--author", "A"]
    made = subprocess.run(
        [*CODESET, *new, "--purpose", "a test"], cwd=root, capture_output=True, check=False
    )
    assert made.returncode == 0, made.stderr
    (root / "study.yaml").write_text(STUDY)
    book = root / "book"
    book.mkdir()
    (book / "_config.yml").write_text((ROOT / "book/_config.yml").read_text())
    (book / "_toc.yml").write_text(TOC)
    (book / "intro.md").write_text("# A small study\n\nThe record of a small study.\n")
    (book / "styles").mkdir()
    (book / "styles/record.css").write_text("")
    write_notebook(root / "a.ipynb", "Notebook a", "print('a')")
    write_notebook(root / "b.ipynb", "Notebook b", NOTEBOOK_B)
    return root


def pid_is_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def stop_a_study_run(
    tmp_path: Path, signum: int, started: Callable[[], None] | None = None
) -> Path:
    """A small study's run stopped by `signum` while its second notebook runs; the study folder,
    with what the stopped run left checked: the first notebook kept, nothing of the second, its
    kernel gone and nothing half-written."""
    study = make_study(tmp_path / "study")
    (study / "slow").touch()
    process = start(["run", "study.yaml"], study, preexec_fn=started)
    wait_for((study / "b_started").is_file, process, "notebook b started")
    process.send_signal(signum)
    assert_stopped(*finish(process), signum)
    assert pid_is_gone(int((study / "b_started").read_text()))  # b's kernel
    generated = study / "book/generated"
    assert (generated / "a.ipynb").is_file() and not (generated / "b.ipynb").exists()
    assert list(json.loads((generated / ".runs.json").read_text())) == ["a"]
    # Nothing half-written: no temporary notebook or page, no staging folder.
    assert [p for p in hidden(study) if ".tmp" in p or "partial" in p] == []
    return study


def test_a_signal_stops_a_study_run_and_the_next_run_resumes(tmp_path: Path):
    study = stop_a_study_run(tmp_path, signal.SIGTERM)
    (study / "slow").unlink()
    again = subprocess.run(
        [*CODESET, "run", "study.yaml"], cwd=study, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "(1/2) a: reused" in again.stderr and "(2/2) b: executing" in again.stderr
    assert (study / "book/_build/html/generated/b.html").is_file()


def test_sigint_to_a_background_study_run_stops_it_as_sigterm_does(tmp_path: Path):
    """A shell starts a background job with SIGINT ignored: `kill -INT` still stops the run and
    leaves what SIGTERM leaves (from which the next run resumes, as the test above shows)."""
    stop_a_study_run(tmp_path, signal.SIGINT, ignore_sigint)
