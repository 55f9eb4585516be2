"""The file-system part of the fault-injection corpus: every command that writes refuses a path the kit
did not write (unless --force), replaces what it may replace whole, leaves nothing behind when it
fails, and says in one line which file it could not read or write and why.

Cases that need a file the user may not read run as an unprivileged user (root reads everything);
cases that need a folder the kit may not write into make it immutable with `chattr +i`, which stops
root as well.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codesetlib.cli.main import main
from codesetlib.data.synthetic import SynthParams, generate_dataset
from tests.integrity.harness import CODESET, Case, check_outcome, make_project, run_case, snapshot

NEW = ["--concept", "73211009", "--title", "T", "--purpose", "P", "--author", "A"]
IMPORT = ["--format", "opencodelists", "--author", "A"]
SMALL = ["--patients", "50", "--practices", "2", "--no-progress"]
DATASET = "data/synthetic/small"
STUDY = """\
title: a small study
index_date: 2025-03-31
dataset:
  name: small
  synth:
    patients: 50
    practices: 2
codesets: [diabetes]
notebooks: [{path: a.ipynb}]
"""


def write(relative: str, text: str = "a researcher's file\n") -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return setup


def folder(relative: str) -> Callable[[Path], None]:
    return lambda project: (project / relative).mkdir(parents=True)


def kit_dataset(relative: str, *extra: str) -> Callable[[Path], None]:
    """A dataset the kit wrote at `relative`, with `extra` files a researcher put beside its tables."""

    def setup(project: Path) -> None:
        generate_dataset(SynthParams(patients=50, practices=2), project / relative, workers=1)
        for name in extra:
            (project / relative / name).write_text("mine\n", encoding="utf-8")

    return setup


def immutable(*relative: str) -> Callable[[Path], None]:
    """Make paths immutable (no write, rename or new entry, for root too); skip where chattr cannot."""

    def setup(project: Path) -> None:
        for name in relative:
            done = subprocess.run(
                ["chattr", "+i", str(project / name)], capture_output=True, check=False
            )
            if done.returncode != 0:
                pytest.skip(f"chattr +i is not available here: {done.stderr.decode().strip()}")

    return setup


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        for step in setups:
            step(project)

    return setup


def export_first(project: Path) -> None:
    """An earlier `codeset schema --out`, so the file is one the kit wrote."""
    with contextlib.redirect_stdout(io.StringIO()):
        cwd = Path.cwd()
        os.chdir(project)
        try:
            assert main(["schema", "--out", "schema.json"]) == 0
        finally:
            os.chdir(cwd)


def opencodelist(project: Path) -> None:
    (project / "list.csv").write_text("code,term\n73211009,Diabetes mellitus\n", encoding="utf-8")


CASES = [
    # synth: never replaces a folder or file the kit did not write
    Case(
        "synth over the codesets folder",
        ["synth", *SMALL, "--out", "codesets"],
        2,
        ("codesets", "not a dataset the kit wrote", "manifest.json", "--force"),
    ),
    Case(
        "synth over a folder of notes",
        ["synth", *SMALL, "--out", "cohorts"],
        2,
        ("cohorts", "not a dataset the kit wrote", "--force"),
    ),
    Case(
        "synth over a researcher's file",
        ["synth", *SMALL, "--out", "notes.txt"],
        2,
        ("notes.txt", "a file", "--force"),
    ),
    Case(
        "synth over a folder with a manifest the kit did not write",
        ["synth", *SMALL, "--out", "theirs"],
        2,
        ("theirs/manifest.json", "not a manifest the kit wrote", "--force"),
        setup=both(write("theirs/manifest.json", "{}\n"), write("theirs/results.csv")),
    ),
    Case(
        "synth over a folder whose manifest is not JSON",
        ["synth", *SMALL, "--out", "theirs"],
        2,
        ("theirs/manifest.json", "not a manifest the kit wrote"),
        setup=write("theirs/manifest.json", "\xff not json"),
    ),
    Case(
        "synth over a kit dataset that holds a researcher's file too",
        ["synth", *SMALL, "--out", DATASET],
        2,
        (DATASET, "analysis.R", "the kit did not write", "--force"),
        setup=kit_dataset(DATASET, "analysis.R"),
    ),
    Case(
        "synth over the folder it runs in, even with --force",
        ["synth", *SMALL, "--out", ".", "--force"],
        2,
        ("holds the current folder",),
    ),
    Case(
        "synth over a parent of the folder it runs in, even with --force",
        ["synth", *SMALL, "--out", "..", "--force"],
        2,
        ("holds the current folder",),
    ),
    Case(
        "synth into a path under a file",
        ["synth", *SMALL, "--out", "notes.txt/data"],
        2,
        ("notes.txt", "not a folder"),
    ),
    Case(
        "synth into a folder the kit may not write",
        ["synth", *SMALL, "--out", "locked/data"],
        2,
        ("locked", "cannot write"),
        setup=both(folder("locked"), immutable("locked")),
    ),
    Case(
        "synth with a config file that does not exist",
        ["synth", *SMALL, "--config", "missing.yaml", "--out", "d"],
        2,
        ("missing.yaml",),
    ),
    Case(
        "synth with a folder for a config file",
        ["synth", *SMALL, "--config", "cohorts", "--out", "d"],
        2,
        ("cohorts", "folder"),
    ),
    Case(
        "synth with a calibration file that does not exist",
        ["synth", *SMALL, "--calibration", "missing.yaml", "--out", "d"],
        2,
        ("missing.yaml",),
    ),
    Case(
        "synth replaces a dataset the kit wrote",
        ["synth", *SMALL, "--seed", "7", "--out", DATASET],
        0,
        setup=kit_dataset(DATASET),
        may_change=(DATASET,),
    ),
    Case(
        "synth writes into an empty folder",
        ["synth", *SMALL, "--out", "empty"],
        0,
        setup=folder("empty"),
        may_change=("empty",),
    ),
    Case(
        "synth replaces a researcher's file when forced",
        ["synth", *SMALL, "--out", "notes.txt", "--force"],
        0,
        may_change=("notes.txt",),
    ),
    Case(
        "synth replaces a kit dataset holding another file when forced",
        ["synth", *SMALL, "--out", DATASET, "--force"],
        0,
        setup=kit_dataset(DATASET, "analysis.R"),
        may_change=(DATASET,),
    ),
    Case(
        "synth over a link to a dataset the kit wrote",
        ["synth", *SMALL, "--out", "linked"],
        2,
        ("linked", "a link", "--force"),
        setup=both(kit_dataset(DATASET), lambda p: (p / "linked").symlink_to(p / DATASET)),
    ),
    Case(
        "synth over a link when forced replaces the link, not what it names",
        ["synth", *SMALL, "--out", "linked", "--force"],
        0,
        setup=both(kit_dataset(DATASET), lambda p: (p / "linked").symlink_to(p / DATASET)),
        may_change=("linked",),
    ),
    # data: the study's dataset folder is the kit's or it is left alone
    Case(
        "data over a dataset folder the kit did not write",
        ["data", "study.yaml"],
        2,
        (DATASET, "not a dataset the kit wrote", "--force"),
        setup=both(write("study.yaml", STUDY), write(f"{DATASET}/results.csv")),
    ),
    Case(
        "data over a file where the dataset folder goes",
        ["data", "study.yaml"],
        2,
        (DATASET, "a file", "--force"),
        setup=both(write("study.yaml", STUDY), write(DATASET)),
    ),
    Case(
        "data replaces a foreign folder when forced",
        ["data", "study.yaml", "--force"],
        0,
        setup=both(write("study.yaml", STUDY), write(f"{DATASET}/results.csv")),
        may_change=(DATASET,),
    ),
    Case(
        "data of a study file that does not exist",
        ["data", "missing.yaml"],
        2,
        ("missing.yaml",),
    ),
    # export: never into a codeset folder, never over a folder, never over a file unless forced
    Case(
        "export over a codeset's definition",
        [
            "export",
            "diabetes",
            "--format",
            "opencodelists",
            "--out",
            "codesets/diabetes/codeset.yaml",
        ],
        2,
        ("codesets/diabetes/codeset.yaml", "inside the codeset folder codesets/diabetes"),
    ),
    Case(
        "export over a codeset's definition, even with --force",
        [
            "export",
            "diabetes",
            "--format",
            "opencodelists",
            "--out",
            "codesets/diabetes/codeset.yaml",
            "--force",
        ],
        2,
        ("codesets/diabetes/codeset.yaml", "inside the codeset folder"),
    ),
    Case(
        "export over a codeset's codes",
        ["export", "diabetes", "--format", "ehrql", "--out", "codesets/diabetes/codes.csv"],
        2,
        ("codesets/diabetes/codes.csv", "inside the codeset folder"),
    ),
    Case(
        "export into an archived version of a codeset",
        [
            "export",
            "diabetes",
            "--format",
            "atlas",
            "--out",
            "codesets/diabetes/history/1.0.0/x.json",
        ],
        2,
        ("codesets/diabetes/history/1.0.0/x.json", "inside the codeset folder"),
    ),
    Case(
        "export to a new file in a codeset folder",
        ["export", "diabetes", "--format", "atlas", "--out", "codesets/cancer_diagnosis/x.json"],
        2,
        ("codesets/cancer_diagnosis/x.json", "inside the codeset folder"),
    ),
    Case(
        "export over a folder",
        ["export", "diabetes", "--format", "opencodelists", "--out", "cohorts"],
        2,
        ("cohorts", "a folder", "the file to write"),
    ),
    Case(
        "export over a folder, even with --force",
        ["export", "diabetes", "--format", "opencodelists", "--out", "cohorts", "--force"],
        2,
        ("cohorts", "a folder"),
    ),
    Case(
        "export over a researcher's file",
        ["export", "diabetes", "--format", "opencodelists", "--out", "notes.txt"],
        2,
        ("notes.txt", "exists already", "--force"),
    ),
    Case(
        "export into a folder that does not exist",
        ["export", "diabetes", "--format", "opencodelists", "--out", "missing/list.csv"],
        2,
        ("missing/list.csv", "no folder missing"),
    ),
    Case(
        "export into a path under a file",
        ["export", "diabetes", "--format", "opencodelists", "--out", "notes.txt/list.csv"],
        2,
        ("notes.txt/list.csv", "notes.txt is not a folder"),
    ),
    Case(
        "export into a folder the kit may not write",
        ["export", "diabetes", "--format", "opencodelists", "--out", "locked/list.csv"],
        2,
        ("locked/list.csv", "cannot write"),
        setup=both(folder("locked"), immutable("locked")),
    ),
    Case(
        "export over a file that may not be replaced, when forced",
        ["export", "diabetes", "--format", "ehrql", "--out", "notes.txt", "--force"],
        2,
        ("notes.txt", "cannot write"),
        setup=immutable("notes.txt"),
    ),
    Case(
        "export to a new file",
        ["export", "diabetes", "--format", "ehrql", "--out", "list.csv"],
        0,
        may_change=("list.csv",),
    ),
    Case(
        "export over a researcher's file when forced",
        ["export", "diabetes", "--format", "atlas", "--out", "notes.txt", "--force"],
        0,
        may_change=("notes.txt",),
    ),
    # schema: replaces its own earlier output only
    Case(
        "schema over a folder",
        ["schema", "--out", "cohorts"],
        2,
        ("cohorts", "a folder", "the file to write"),
    ),
    Case(
        "schema over a researcher's file",
        ["schema", "--out", "notes.txt"],
        2,
        ("notes.txt", "not a codeset schema the kit wrote", "--force"),
    ),
    Case(
        "schema over a codeset's definition, even with --force",
        ["schema", "--out", "codesets/diabetes/codeset.yaml", "--force"],
        2,
        ("codesets/diabetes/codeset.yaml", "inside the codeset folder"),
    ),
    Case(
        "schema into a folder that does not exist",
        ["schema", "--out", "missing/schema.json"],
        2,
        ("missing/schema.json", "no folder missing"),
    ),
    Case(
        "schema over its own earlier output",
        ["schema", "--out", "schema.json"],
        0,
        setup=export_first,
        may_change=("schema.json",),
    ),
    Case(
        "schema beside the codesets, as the README says",
        ["schema", "--out", "codesets/codeset.schema.json"],
        0,
        may_change=("codesets/codeset.schema.json",),
    ),
    Case(
        "schema over a researcher's file when forced",
        ["schema", "--out", "notes.txt", "--force"],
        0,
        may_change=("notes.txt",),
    ),
    # new and import: a codeset folder is never replaced; a failed one leaves nothing
    Case("new with an empty id", ["new", "", *NEW], 2, ("id", "empty")),
    Case(
        "new with an id that climbs out of the codesets folder",
        ["new", "../outside", *NEW],
        2,
        ("id", "../outside", "not a codeset id"),
    ),
    Case("new with an upper-case id", ["new", "Diabetes", *NEW], 2, ("id", "Diabetes")),
    Case(
        "new over an existing codeset",
        ["new", "diabetes", *NEW],
        2,
        ("codesets/diabetes", "exists"),
    ),
    Case(
        "new over a researcher's file",
        ["new", "mine", *NEW],
        2,
        ("codesets/mine", "exists"),
        setup=write("codesets/mine"),
    ),
    Case(
        "new in a codesets folder the kit may not write",
        ["new", "fresh", *NEW],
        2,
        ("codesets", "cannot write"),
        setup=immutable("codesets"),
    ),
    Case(
        "new when the codesets folder is a file",
        ["--codesets-dir", "notes.txt", "new", "fresh", *NEW],
        2,
        ("notes.txt", "not a folder"),
    ),
    Case(
        "new with a concept the release lacks leaves no folder",
        [
            "new",
            "fresh",
            "--concept",
            "999999999",
            "--title",
            "T",
            "--purpose",
            "P",
            "--author",
            "A",
        ],
        2,
        ("999999999",),
    ),
    Case("new writes the codeset", ["new", "fresh", *NEW], 0, may_change=("codesets/fresh",)),
    Case(
        "new makes the codesets folder it names",
        ["--codesets-dir", "mine/codesets", "new", "fresh", *NEW],
        0,
        may_change=("mine",),
    ),
    Case(
        "new with its codesets folder under one the kit may not write",
        ["--codesets-dir", "mine/codesets", "new", "fresh", *NEW],
        2,
        ("mine", "cannot write"),
        setup=both(folder("mine"), immutable("mine")),
    ),
    Case(
        "import of a file that does not exist",
        ["import", "missing.csv", *IMPORT, "--id", "fresh"],
        2,
        ("missing.csv", "not found"),
    ),
    Case(
        "import of a folder",
        ["import", "cohorts", *IMPORT, "--id", "fresh"],
        2,
        ("cohorts", "a folder"),
    ),
    Case(
        "import with an empty id",
        ["import", "list.csv", *IMPORT, "--id", ""],
        2,
        ("id", "empty"),
        setup=opencodelist,
    ),
    Case(
        "import over an existing codeset",
        ["import", "list.csv", *IMPORT, "--id", "diabetes"],
        2,
        ("codesets/diabetes", "exists"),
        setup=opencodelist,
    ),
    Case(
        "import into a codesets folder the kit may not write",
        ["import", "list.csv", *IMPORT, "--id", "fresh"],
        2,
        ("codesets", "cannot write"),
        setup=both(opencodelist, immutable("codesets")),
    ),
    Case(
        "import writes the codeset",
        ["import", "list.csv", *IMPORT, "--id", "fresh"],
        0,
        setup=opencodelist,
        may_change=("codesets/fresh",),
    ),
    # expand --write: codes.csv is replaced whole or not at all
    Case(
        "expand --write where codes.csv is a folder",
        ["expand", "diabetes", "--write"],
        2,
        ("codesets/diabetes/codes.csv", "a folder"),
        setup=lambda p: (
            (p / "codesets/diabetes/codes.csv").unlink(),
            (p / "codesets/diabetes/codes.csv").mkdir(),
        ),
    ),
    Case(
        "expand --write into a codeset folder the kit may not write",
        ["expand", "diabetes", "--write"],
        2,
        ("codesets/diabetes/codes.csv", "cannot write"),
        setup=immutable("codesets/diabetes"),
    ),
    Case(
        "expand --write over an immutable codes.csv",
        ["expand", "diabetes", "--write"],
        2,
        ("codesets/diabetes/codes.csv", "cannot write"),
        setup=immutable("codesets/diabetes/codes.csv"),
    ),
    Case(
        "expand --write rewrites codes.csv",
        ["expand", "diabetes", "--write"],
        0,
        setup=lambda p: (p / "codesets/diabetes/codes.csv").write_text("code,term,rule\n"),
        may_change=("codesets/diabetes/codes.csv",),
    ),
    # show of a codeset whose files are not what they should be
    Case(
        "show where codeset.yaml is a folder",
        ["show", "broken"],
        2,
        ("broken", "codeset.yaml"),
        setup=folder("codesets/broken/codeset.yaml"),
    ),
    Case(
        "show where codeset.yaml is a dangling link",
        ["show", "broken"],
        2,
        ("broken", "codeset.yaml"),
        setup=lambda p: (
            (p / "codesets/broken").mkdir(),
            (p / "codesets/broken/codeset.yaml").symlink_to(p / "gone.yaml"),
        ),
    ),
]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    made = make_project(tmp_path / "project")
    yield made
    # Immutable files would outlive the test: pytest could not remove them.
    subprocess.run(["chattr", "-R", "-i", str(made)], capture_output=True, check=False)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_filesystem_case(case: Case, project: Path):
    check_outcome(case, run_case(case, project))


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


def test_a_replaced_dataset_is_the_new_one_and_nothing_hidden_is_left(project: Path):
    case = Case(
        "synth replaces a dataset the kit wrote",
        ["synth", *SMALL, "--seed", "7", "--out", DATASET],
        0,
        setup=kit_dataset(DATASET),
        may_change=(DATASET,),
    )
    check_outcome(case, run_case(case, project))
    manifest = json.loads((project / DATASET / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert sorted(p.name for p in (project / "data/synthetic").iterdir()) == ["small"]


def test_a_forced_export_replaces_the_file_and_keeps_its_mode(project: Path):
    notes = project / "notes.txt"
    notes.chmod(0o640)
    case = Case(
        "export over a researcher's file when forced",
        ["export", "diabetes", "--format", "ehrql", "--out", "notes.txt", "--force"],
        0,
        may_change=("notes.txt",),
    )
    check_outcome(case, run_case(case, project))
    assert notes.read_text().startswith("code,term\n")
    assert notes.stat().st_mode & 0o777 == 0o640


# Files the user may not read: root reads everything, so these run as an unprivileged user.
NOBODY = 65534


@pytest.fixture
def open_project() -> Iterator[Path]:
    """A project an unprivileged user may enter (pytest's own temporary folders are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="codeset-fs-"))
    base.chmod(0o755)
    yield make_project(base / "project")
    shutil.rmtree(base)


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def run_unprivileged(case: Case, project: Path) -> None:
    if case.setup is not None:
        case.setup(project)
    before = snapshot(project)
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(project)
    try:
        with unprivileged(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(case.args)
    finally:
        os.chdir(cwd)
    from tests.integrity.harness import Outcome

    check_outcome(case, Outcome(code, out.getvalue(), err.getvalue(), before, snapshot(project)))


def no_access(relative: str) -> Callable[[Path], None]:
    return lambda project: (project / relative).chmod(0)


UNREADABLE = [
    Case(
        "show of a codeset.yaml the user may not read",
        ["show", "diabetes"],
        2,
        ("codesets/diabetes/codeset.yaml", "permission denied"),
        setup=no_access("codesets/diabetes/codeset.yaml"),
    ),
    Case(
        "export of a codeset.yaml the user may not read",
        ["export", "diabetes", "--format", "ehrql"],
        2,
        ("codesets/diabetes/codeset.yaml", "permission denied"),
        setup=no_access("codesets/diabetes/codeset.yaml"),
    ),
    Case(
        "import of a file the user may not read",
        ["import", "list.csv", *IMPORT, "--id", "fresh"],
        2,
        ("list.csv", "permission denied"),
        setup=both(opencodelist, no_access("list.csv")),
    ),
    Case(
        "synth with a config the user may not read",
        ["synth", *SMALL, "--config", "notes.txt", "--out", "d"],
        2,
        ("notes.txt", "permission denied"),
        setup=no_access("notes.txt"),
    ),
    Case(
        "export into a folder the user may not write",
        ["export", "diabetes", "--format", "ehrql", "--out", "cohorts/list.csv"],
        2,
        ("cohorts/list.csv", "cannot write", "permission denied"),
        setup=lambda p: (p / "cohorts").chmod(0o555),
    ),
    Case(
        "expand --write into a codeset folder the user may not write",
        ["expand", "diabetes", "--write"],
        2,
        ("codesets/diabetes/codes.csv", "cannot write", "permission denied"),
        setup=lambda p: (p / "codesets/diabetes").chmod(0o555),
    ),
]


@pytest.mark.parametrize("case", UNREADABLE, ids=lambda c: c.id)
def test_unreadable_and_unwritable_case(case: Case, open_project: Path):
    run_unprivileged(case, open_project)


# A closed pipe: `codeset expand ID | head` ends quietly, as POSIX tools do (SIGPIPE's status, 141).
EXIT_BROKEN_PIPE = 141


@pytest.mark.parametrize(
    "args",
    [
        ["expand", "cancer_diagnosis"],
        ["expand", "cancer_diagnosis", "--json"],
        ["show", "diabetes", "--json"],
        ["schema"],
        ["export", "cancer_diagnosis", "--format", "ehrql"],
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_quietly(project: Path, args: list[str]):
    before = snapshot(project)
    process = subprocess.Popen(
        [*CODESET, *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # The reader goes away before the command writes its first line, as `head` does after its lines.
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE, stderr
    assert stderr == ""
    assert snapshot(project) == before


def test_a_pipe_into_head_gives_the_first_lines(project: Path):
    shell = f"{' '.join(CODESET)} expand cancer_diagnosis | head -n 2"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], cwd=project, capture_output=True, text=True
    )
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert result.returncode in (0, EXIT_BROKEN_PIPE)
