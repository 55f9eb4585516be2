"""The harness of the fault-injection corpus: run `codeset` on a project, check what a user sees and
that the file tree afterwards is the tree before.

A case names the command line, how to spoil the project first, the exit code expected and the words
the one-line message must hold (the file and the field). `run_case` runs the command in-process through
`codesetlib.cli.main` (fast; an exception escaping `main` is a traceback a user would see) or, for
signals and pipes, as a real process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codesetlib.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CODESET = [sys.executable, "-m", "codesetlib.cli"]


@dataclass(frozen=True)
class Case:
    """One hostile or careless input and what the kit must do with it."""

    id: str
    args: list[str]
    exit_code: int
    message: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None
    # Paths (relative to the project) the command may create or change; nothing else may change.
    may_change: tuple[str, ...] = ()
    process: bool = False
    stdin: bytes | None = None


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder below `root` with its content hash (or 'dir') and mode."""
    tree = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        relative = str(path.relative_to(root))
        if path.is_symlink():
            tree[relative] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            tree[relative] = f"dir:{oct(path.stat().st_mode & 0o777)}"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[relative] = f"{digest}:{oct(path.stat().st_mode & 0o777)}"
    return tree


def make_project(
    target: Path, codesets: tuple[str, ...] = ("cancer_diagnosis", "diabetes")
) -> Path:
    """A small project like the repository's: a few codesets, the cohorts folder, a README."""
    target.mkdir(parents=True, exist_ok=True)
    for name in codesets:
        shutil.copytree(ROOT / "codesets" / name, target / "codesets" / name)
    shutil.copytree(ROOT / "cohorts", target / "cohorts")
    (target / "notes.txt").write_text("a researcher's only copy\n", encoding="utf-8")
    return target


def run_case(case: Case, project: Path) -> Outcome:
    """Spoil the project as the case says, run the command there, and record what happened."""
    if case.setup is not None:
        case.setup(project)
    before = snapshot(project)
    if case.process:
        result = subprocess.run(
            [*CODESET, *case.args],
            cwd=project,
            input=case.stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        outcome = Outcome(
            result.returncode,
            result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"),
        )
    else:
        out, err = io.StringIO(), io.StringIO()
        cwd = Path.cwd()
        os.chdir(project)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(case.args)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        finally:
            os.chdir(cwd)
        outcome = Outcome(code, out.getvalue(), err.getvalue())
    outcome.before, outcome.after = before, snapshot(project)
    return outcome


def check_outcome(case: Case, outcome: Outcome) -> None:
    """The exit code, one clear message naming what it must, no traceback, and the tree unchanged."""
    shown = outcome.stdout + outcome.stderr
    assert "Traceback (most recent call last)" not in shown, shown
    assert outcome.exit_code == case.exit_code, (outcome.exit_code, shown)
    for words in case.message:
        assert words in outcome.stderr, (words, outcome.stderr)
    changed = {
        path
        for path in set(outcome.before) | set(outcome.after)
        if outcome.before.get(path) != outcome.after.get(path)
    }
    allowed = {p for p in changed if any(p == m or p.startswith(f"{m}/") for m in case.may_change)}
    assert changed - allowed == set(), sorted(changed - allowed)
    leftovers = [
        p for p in outcome.after if Path(p).name.startswith(".") and p not in outcome.before
    ]
    assert leftovers == [], leftovers
