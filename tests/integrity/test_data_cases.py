"""The dataset part of the fault-injection corpus: every run checks each table against the dataset's
manifest before reading it. A corrupted, truncated, grown, replaced or missing table stops `codeset run`
with one line naming the file; `codeset data` says what it found and generates the dataset again, but
only a dataset folder the kit wrote (its manifest says so and it holds nothing else).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codesetlib.cli.main import main
from codesetlib.data.synthetic import SynthParams, generate_dataset
from tests.integrity.harness import Case, Outcome, check_outcome, make_project, run_case, snapshot

DATASET = "data/synthetic/small"
EVENTS = f"{DATASET}/clinical_events.parquet"
PATIENTS = f"{DATASET}/patients.parquet"
TRUTH = f"{DATASET}/truth_conditions.parquet"
MANIFEST = f"{DATASET}/manifest.json"
STUDY = """\
title: a small study
index_date: 2025-03-31
dataset:
  name: small
  synth:
    patients: 50
    practices: 2
codesets: [diabetes]
notebooks: [{path: notebooks/02_cohort.ipynb}]
"""
DATA = ["data", "study.yaml"]
RUN = ["run", "study.yaml"]

Setup = Callable[[Path], None]


def flip(relative: str, count: int = 200, keep_mtime: bool = False) -> Setup:
    """Invert `count` bytes in the middle of a file, as a failing disk or a careless edit would."""

    def setup(project: Path) -> None:
        path = project / relative
        stat = path.stat()
        data = bytearray(path.read_bytes())
        start = len(data) // 2 - count // 2
        data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
        path.write_bytes(bytes(data))
        if keep_mtime:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    return setup


def truncate(relative: str, keep: float = 0.5) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return setup


def append(relative: str, extra: bytes = b"\0" * 64) -> Setup:
    def setup(project: Path) -> None:
        with (project / relative).open("ab") as handle:
            handle.write(extra)

    return setup


def delete(relative: str) -> Setup:
    return lambda project: (project / relative).unlink()


def replace_with_folder(relative: str) -> Setup:
    """A folder where a table was, holding a researcher's file."""

    def setup(project: Path) -> None:
        path = project / relative
        path.unlink()
        path.mkdir()
        (path / "notes.txt").write_text("mine\n", encoding="utf-8")

    return setup


def replace_with_dangling_link(relative: str) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        path.unlink()
        path.symlink_to("gone.parquet")

    return setup


def copy_over(source: str, target: str) -> Setup:
    """Another valid table put in the place of one (a whole, readable Parquet file)."""
    return lambda project: shutil.copyfile(project / source, project / target)


def edit_manifest(change: Callable[[dict], None]) -> Setup:
    def setup(project: Path) -> None:
        path = project / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        change(manifest)
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    return setup


def write(relative: str, text: str = "a researcher's file\n") -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return setup


def both(*setups: Setup) -> Setup:
    def setup(project: Path) -> None:
        for step in setups:
            step(project)

    return setup


def no_dataset(project: Path) -> None:
    shutil.rmtree(project / DATASET)


def foreign_folder(project: Path) -> None:
    """A folder of the researcher's own at the dataset's path: no manifest, their own files."""
    shutil.rmtree(project / DATASET)
    write(f"{DATASET}/results.csv")(project)
    write(f"{DATASET}/clinical_events.parquet", "not the kit's\n")(project)


def sha_of(name: str, value: str) -> Callable[[dict], None]:
    return lambda manifest: manifest["tables"][name].__setitem__("sha256", value)


def size_of(name: str, value: int) -> Callable[[dict], None]:
    return lambda manifest: manifest["tables"][name].__setitem__("bytes", value)


def without_sha(name: str) -> Callable[[dict], None]:
    return lambda manifest: manifest["tables"][name].pop("sha256")


def patients(value: int) -> Callable[[dict], None]:
    return lambda manifest: manifest["parameters"].__setitem__("patients", value)


REGENERATED = (DATASET,)
OTHER_SHA = "0" * 64

DATA_CASES = [
    # Damage to a table of a dataset the kit wrote: reported, then the dataset is generated again.
    Case(
        "data with 200 bytes flipped in clinical_events",
        DATA,
        0,
        (EVENTS, "other content than the manifest records", "generating the dataset again"),
        setup=flip(EVENTS),
        may_change=REGENERATED,
    ),
    Case(
        "data with bytes flipped and the modification time put back",
        DATA,
        0,
        (EVENTS, "other content", "generating the dataset again"),
        setup=flip(EVENTS, keep_mtime=True),
        may_change=REGENERATED,
    ),
    Case(
        "data with one byte flipped in patients",
        DATA,
        0,
        (PATIENTS, "other content", "generating the dataset again"),
        setup=flip(PATIENTS, count=1),
        may_change=REGENERATED,
    ),
    Case(
        "data with clinical_events truncated to half",
        DATA,
        0,
        (EVENTS, "truncated", "generating the dataset again"),
        setup=truncate(EVENTS),
        may_change=REGENERATED,
    ),
    Case(
        "data with clinical_events truncated to nothing",
        DATA,
        0,
        (EVENTS, "is 0 bytes", "truncated"),
        setup=truncate(EVENTS, keep=0),
        may_change=REGENERATED,
    ),
    Case(
        "data with bytes appended to a table",
        DATA,
        0,
        (PATIENTS, "grown", "generating the dataset again"),
        setup=append(PATIENTS),
        may_change=REGENERATED,
    ),
    Case(
        "data with clinical_events deleted",
        DATA,
        0,
        (EVENTS, "is missing", "generating the dataset again"),
        setup=delete(EVENTS),
        may_change=REGENERATED,
    ),
    Case(
        "data with a truth table deleted",
        DATA,
        0,
        (TRUTH, "is missing"),
        setup=delete(TRUTH),
        may_change=REGENERATED,
    ),
    Case(
        "data with another valid table copied over patients",
        DATA,
        0,
        (PATIENTS, "generating the dataset again"),
        setup=copy_over(f"{DATASET}/practices.parquet", PATIENTS),
        may_change=REGENERATED,
    ),
    Case(
        "data with a table's SHA-256 edited in the manifest",
        DATA,
        0,
        (EVENTS, "other content", "generating the dataset again"),
        setup=edit_manifest(sha_of("clinical_events", OTHER_SHA)),
        may_change=REGENERATED,
    ),
    Case(
        "data with a table's size edited in the manifest",
        DATA,
        0,
        (EVENTS, "where the manifest records 12", "generating the dataset again"),
        setup=edit_manifest(size_of("clinical_events", 12)),
        may_change=REGENERATED,
    ),
    Case(
        "data with the manifest's parameters edited",
        DATA,
        0,
        ("generating dataset",),
        setup=edit_manifest(patients(51)),
        may_change=REGENERATED,
    ),
    Case(
        "data with a damaged table, forced",
        [*DATA, "--force"],
        0,
        (EVENTS, "generating the dataset again"),
        setup=flip(EVENTS),
        may_change=REGENERATED,
    ),
    # What the kit did not write is never replaced (without --force), damaged or not.
    Case(
        "data with a table replaced by a folder of the researcher's",
        DATA,
        2,
        (DATASET, "clinical_events.parquet", "the kit did not write", "--force"),
        setup=replace_with_folder(EVENTS),
    ),
    Case(
        "data with a table replaced by a link to nothing",
        DATA,
        2,
        (EVENTS, "link to nothing", "the kit did not write", "--force"),
        setup=replace_with_dangling_link(EVENTS),
    ),
    Case(
        "data with a damaged table beside a researcher's file",
        DATA,
        2,
        (EVENTS, "other content", DATASET, "analysis.R", "the kit did not write"),
        setup=both(flip(EVENTS), write(f"{DATASET}/analysis.R")),
    ),
    Case(
        "data with a foreign folder at the dataset path",
        DATA,
        2,
        (DATASET, "not a dataset the kit wrote", "--force"),
        setup=foreign_folder,
    ),
    Case(
        "data with the manifest deleted",
        DATA,
        2,
        (DATASET, "holds no manifest.json", "--force"),
        setup=delete(MANIFEST),
    ),
    Case(
        "data with a manifest that is not JSON",
        DATA,
        2,
        (MANIFEST, "not a manifest the kit wrote"),
        setup=write(MANIFEST, "{ not json"),
    ),
    Case(
        "data with a manifest that is not UTF-8",
        DATA,
        2,
        (MANIFEST, "not a manifest the kit wrote"),
        setup=lambda p: (p / MANIFEST).write_bytes(b"\xff\xfe{}"),
    ),
    Case(
        "data with a manifest that lost a table's hash",
        DATA,
        2,
        (MANIFEST, "not a manifest the kit wrote"),
        setup=edit_manifest(without_sha("patients")),
    ),
    Case(
        "data with a file at the dataset path",
        DATA,
        2,
        (DATASET, "a file", "--force"),
        setup=both(no_dataset, write(DATASET)),
    ),
    # Nothing wrong: the dataset is reused, or made where there is none.
    Case("data with the dataset whole", DATA, 0, ("is up to date",)),
    Case(
        "data with no dataset yet",
        DATA,
        0,
        ("generating dataset",),
        setup=no_dataset,
        may_change=("data",),
    ),
]

RUN_CASES = [
    # `codeset run` never analyses a damaged dataset: it stops before any notebook, naming the file.
    Case(
        "run with 200 bytes flipped in clinical_events",
        RUN,
        2,
        (EVENTS, "other content than the manifest records", "codeset data"),
        setup=flip(EVENTS),
    ),
    Case(
        "run with bytes flipped and the modification time put back",
        RUN,
        2,
        (EVENTS, "other content"),
        setup=flip(EVENTS, keep_mtime=True),
    ),
    Case(
        "run with clinical_events truncated", RUN, 2, (EVENTS, "truncated"), setup=truncate(EVENTS)
    ),
    Case("run with a table grown", RUN, 2, (PATIENTS, "grown"), setup=append(PATIENTS)),
    Case("run with clinical_events deleted", RUN, 2, (EVENTS, "is missing"), setup=delete(EVENTS)),
    Case("run with a truth table damaged", RUN, 2, (TRUTH, "other content"), setup=flip(TRUTH)),
    Case(
        "run with a table replaced by a folder",
        RUN,
        2,
        (EVENTS, "is not a file"),
        setup=replace_with_folder(EVENTS),
    ),
    Case(
        "run with another valid table copied over patients",
        RUN,
        2,
        (PATIENTS,),
        setup=copy_over(f"{DATASET}/practices.parquet", PATIENTS),
    ),
    Case(
        "run with a table's SHA-256 edited in the manifest",
        RUN,
        2,
        (EVENTS, "other content"),
        setup=edit_manifest(sha_of("clinical_events", OTHER_SHA)),
    ),
    Case(
        "run with a foreign folder at the dataset path",
        RUN,
        2,
        (DATASET, "not a dataset the kit wrote", "`codeset data STUDY --force`"),
        setup=foreign_folder,
    ),
    Case(
        "run with a manifest that is not JSON",
        RUN,
        2,
        (MANIFEST, "not a manifest the kit wrote"),
        setup=write(MANIFEST, "{ not json"),
    ),
]

CASES = DATA_CASES + RUN_CASES


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project with a study and the dataset the kit generates for it, made once."""
    project = make_project(tmp_path_factory.mktemp("data-cases") / "project")
    (project / "study.yaml").write_text(STUDY, encoding="utf-8")
    generate_dataset(SynthParams(patients=50, practices=2), project / DATASET, workers=1)
    return project


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project", symlinks=True))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_data_case(case: Case, project: Path):
    check_outcome(case, run_case(case, project))


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 25


def test_a_regenerated_dataset_is_the_one_the_kit_wrote(template: Path, project: Path):
    case = DATA_CASES[0]
    check_outcome(case, run_case(case, project))
    assert snapshot(project / DATASET) == snapshot(template / DATASET)


def test_a_dataset_checked_again_is_not_read_again(project: Path, tmp_path: Path):
    """The second check of an unchanged table takes its hash from the cache, by the file's
    fingerprint; an edit in place, even with the modification time put back, is read again."""
    from codesetlib.core import file_hashes

    path = project / EVENTS
    old = os.stat(path)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns - 10 * 10**9))
    # The file's change time is now; let it settle so the hash is remembered.
    settle = file_hashes.SETTLE_SECONDS
    file_hashes.SETTLE_SECONDS = -10
    try:
        first = file_hashes.file_sha256(path)
        entry = file_hashes._entry_path(Path(os.path.abspath(path)))
        assert json.loads(entry.read_text())["sha256"] == first
        flip(EVENTS, keep_mtime=True)(project)
        assert file_hashes.file_sha256(path) != first
    finally:
        file_hashes.SETTLE_SECONDS = settle


# A table the user may not read: root reads everything, so these run as an unprivileged user.
NOBODY = 65534


@pytest.fixture
def open_project(template: Path) -> Iterator[Path]:
    """A copy of the project an unprivileged user may enter, with a cache folder it may write."""
    base = Path(tempfile.mkdtemp(prefix="codeset-data-"))
    base.chmod(0o755)
    project = Path(shutil.copytree(template, base / "project", symlinks=True))
    cache = base / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    saved = os.environ.get("CODESET_CACHE_DIR")
    os.environ["CODESET_CACHE_DIR"] = str(cache)
    try:
        yield project
    finally:
        if saved is None:
            os.environ.pop("CODESET_CACHE_DIR", None)
        else:
            os.environ["CODESET_CACHE_DIR"] = saved
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


def no_access(relative: str) -> Setup:
    return lambda project: (project / relative).chmod(0)


UNREADABLE = [
    Case(
        "run with a table the user may not read",
        RUN,
        2,
        (EVENTS, "cannot be read", "permission denied"),
        setup=no_access(EVENTS),
    ),
    Case(
        "run with a manifest the user may not read",
        RUN,
        2,
        (DATASET, "not a dataset the kit wrote"),
        setup=no_access(MANIFEST),
    ),
    Case(
        "data with a table the user may not read, in a folder the user may not write",
        DATA,
        2,
        (EVENTS, "permission denied", "cannot write"),
        setup=no_access(EVENTS),
    ),
]


@pytest.mark.parametrize("case", UNREADABLE, ids=lambda c: c.id)
def test_unreadable_case(case: Case, open_project: Path):
    if case.setup is not None:
        case.setup(open_project)
    before = snapshot(open_project)
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(open_project)
    try:
        with unprivileged(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(case.args)
    finally:
        os.chdir(cwd)
    outcome = Outcome(code, out.getvalue(), err.getvalue(), before, snapshot(open_project))
    check_outcome(case, outcome)
