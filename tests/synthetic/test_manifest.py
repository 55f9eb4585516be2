"""Every reader of a dataset checks the tables it opens against the manifest first: a damaged table
stops the cohort engine, validation, the NCL review and the teaching counts with an error naming it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from codesetlib.cohorts import DuckDBEngine
from codesetlib.cohorts.engines.pandas_reference import PandasReference
from codesetlib.core.errors import DatasetError
from codesetlib.core.file_hashes import sha256_of_bytes
from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.data.synthetic.manifest import dataset_tables, read_manifest, verify_dataset
from codesetlib.reproductions import ncl
from codesetlib.teaching.counts import PatientCounter
from codesetlib.validation.data import truth_attributes, truth_patients


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manifest") / "d"
    generate_dataset(SynthParams(patients=3000, practices=5, seed=11), out, workers=1)
    return out


@pytest.fixture
def dataset(whole: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(whole, tmp_path / "d"))


def flip(path: Path, count: int = 200) -> None:
    """Invert `count` bytes in the middle of a file and put its modification time back."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - count // 2
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_the_manifest_records_each_table_s_size_and_hash(whole: Path):
    manifest = json.loads((whole / "manifest.json").read_text())
    for name, entry in manifest["tables"].items():
        path = whole / f"{name}.parquet"
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == sha256_of_bytes(path)
    assert verify_dataset(whole) == manifest


def test_a_cohort_on_a_dataset_with_200_bytes_flipped_is_refused(dataset: Path):
    """Flipped bytes inside a compressed page can still decode, into other rows: a cohort of 130
    where there are 135. The engine refuses the table before it reads any of it."""
    DuckDBEngine(dataset)  # whole: it opens
    flip(dataset / "clinical_events.parquet")
    with pytest.raises(DatasetError) as raised:
        DuckDBEngine(dataset)
    assert raised.value.path == str(dataset / "clinical_events.parquet")
    assert "other content than the manifest records" in raised.value.message


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda p: p.unlink(), "is missing"),
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "truncated"),
        (lambda p: p.write_bytes(p.read_bytes() + b"x"), "grown"),
        (flip, "other content"),
        (lambda p: (p.unlink(), p.mkdir()), "is not a file"),
    ],
    ids=["missing", "truncated", "grown", "flipped", "a folder"],
)
def test_every_reader_names_the_damaged_table(dataset: Path, damage, words: str):
    events = dataset / "clinical_events.parquet"
    damage(events)
    readers = [
        lambda: DuckDBEngine(dataset),
        lambda: PandasReference.from_dataset(dataset),
        lambda: ncl.open_review(dataset, {}, ncl.Period()),
        lambda: PatientCounter.from_dataset(dataset),
    ]
    for read in readers:
        with pytest.raises(DatasetError, match=words) as raised:
            read()
        assert raised.value.path == str(events)


def test_validation_checks_the_truth_tables_it_reads(dataset: Path):
    flip(dataset / "truth_conditions.parquet")
    with pytest.raises(DatasetError, match=r"truth_conditions\.parquet: has other content"):
        truth_patients(dataset, "^diabetes", dt.date(2025, 3, 31))
    assert len(truth_attributes(dataset)) == 3000  # the table it reads is whole
    (dataset / "truth_attributes.parquet").unlink()
    with pytest.raises(DatasetError, match=r"truth_attributes\.parquet: is missing"):
        truth_attributes(dataset)


def test_a_table_the_manifest_does_not_list_is_refused(dataset: Path):
    manifest = json.loads((dataset / "manifest.json").read_text())
    del manifest["tables"]["medications"]
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="lists no table medications"):
        DuckDBEngine(dataset)


def test_a_manifest_that_is_not_the_kit_s_is_named(dataset: Path):
    (dataset / "manifest.json").write_text('{"tables": []}')
    with pytest.raises(DatasetError, match=r"manifest\.json: tables: not a manifest the kit"):
        read_manifest(dataset)
    (dataset / "manifest.json").write_text("{")
    with pytest.raises(DatasetError, match=r"manifest\.json: not JSON"):
        DuckDBEngine(dataset)


def test_tables_without_a_manifest_are_read_as_they_are(dataset: Path):
    """A folder of tables the kit did not write (an extract, a test's tables) has nothing to be
    checked against: its tables are read, and a missing one is the reader's to refuse."""
    (dataset / "manifest.json").unlink()
    flip(dataset / "medications.parquet", 1)
    assert set(dataset_tables(dataset, ["patients", "medications", "nope"])) == {
        "patients",
        "medications",
    }


def test_the_check_of_an_unchanged_dataset_reads_no_table_again(dataset: Path, monkeypatch):
    """Hashes are remembered by fingerprint: a second check opens no table."""
    from codesetlib.core import file_hashes

    monkeypatch.setattr(file_hashes, "SETTLE_SECONDS", -(10**6))
    verify_dataset(dataset)
    read = []
    real = file_hashes.sha256_of_bytes
    monkeypatch.setattr(file_hashes, "sha256_of_bytes", lambda p: read.append(p) or real(p))
    verify_dataset(dataset)
    assert read == []
    flip(dataset / "patients.parquet", 1)
    with pytest.raises(DatasetError):
        verify_dataset(dataset)
    assert read == [dataset / "patients.parquet"]


def test_the_reproduction_s_own_population_is_generated_again_when_damaged(tmp_path: Path):
    from codesetlib.reproductions.responds import ALTERNATIVE_CALIBRATION, alternative_dataset

    out = tmp_path / "alternative"
    made = dict(patients=300, practices=2, seed=3)
    alternative_dataset(ALTERNATIVE_CALIBRATION, out, **made)
    whole = (out / "clinical_events.parquet").read_bytes()
    flip(out / "clinical_events.parquet")
    alternative_dataset(ALTERNATIVE_CALIBRATION, out, **made)
    assert (out / "clinical_events.parquet").read_bytes() == whole
    verify_dataset(out)
