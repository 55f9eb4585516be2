"""The index is built once per release into the cache, atomically, and reused by later sessions."""

from pathlib import Path

import numpy as np
import pytest

from codesetlib.core.errors import TerminologyError
from codesetlib.terminology import index, snomedct
from codesetlib.terminology.snomedct import SnomedCT
from tests.fixtures.rf2 import CONCEPTS, write_release


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CODESET_CACHE_DIR", str(folder))
    return folder


def test_a_second_open_reads_the_cache_not_the_rf2_files(tmp_path, cache, monkeypatch):
    folder = write_release(tmp_path)
    first = SnomedCT(folder)
    assert [p.name for p in cache.iterdir()] == [first.index_file.name]
    assert first.index_file.name.startswith("snomedct-test-20240401-")

    def refuse(_files):
        raise AssertionError("the RF2 files were read again")

    monkeypatch.setattr(snomedct, "read_release", refuse)
    second = SnomedCT(folder)
    assert second.index_file == first.index_file
    assert second.concept("254837009").term == "Malignant neoplasm of breast"


def test_a_changed_release_is_indexed_again(tmp_path, cache):
    folder = write_release(tmp_path)
    first = SnomedCT(folder).index_file
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Description*"))
    path.write_bytes(path.read_bytes().replace(b"Diabetes mellitus\t", b"Diabetes mellitus (DM)\t"))
    second = SnomedCT(folder)
    assert second.index_file != first
    assert second.concept("73211009").term == "Diabetes mellitus (DM)"


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_build_leaves_no_cache_entry(tmp_path, cache, monkeypatch, interruption):
    folder = write_release(tmp_path)
    written = index._write_tables

    def fail_half_way(connection, tables, release):
        connection.execute("CREATE TABLE concepts AS SELECT 1 AS idx")  # part of an index
        raise interruption

    monkeypatch.setattr(index, "_write_tables", fail_half_way)
    with pytest.raises(type(interruption)):
        SnomedCT(folder)
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(index, "_write_tables", written)
    assert SnomedCT(folder).concept("73211009").active


def test_the_array_walk_agrees_with_a_plain_walk(terminology):
    for code in CONCEPTS:
        plain = set()
        queue = [code]
        while queue:
            for child in terminology.children(queue.pop()):
                if child not in plain:
                    plain.add(child)
                    queue.append(child)
        assert terminology.descendants_of(code) == plain


def test_reachable_follows_every_parent():
    # 0 → 1, 0 → 2, 1 → 3, 2 → 3, 3 → 4: node 3 has two parents and is reached once.
    source, target = np.array([0, 0, 1, 2, 3]), np.array([1, 2, 3, 3, 4])
    indptr, indices = index.compressed_rows(5, source, target)
    assert index.reachable(indptr, indices, 0).tolist() == [1, 2, 3, 4]
    assert index.reachable(indptr, indices, 3).tolist() == [4]
    assert index.reachable(indptr, indices, 4).tolist() == []


def test_a_damaged_index_in_the_cache_is_named(tmp_path, cache):
    folder = write_release(tmp_path)
    index_file = SnomedCT(folder).index_file
    index_file.write_bytes(b"not a duckdb file" * 100)
    with pytest.raises(TerminologyError, match="cannot be opened") as raised:
        SnomedCT(folder)
    assert raised.value.path == str(index_file)


def test_a_cache_folder_that_cannot_be_made_is_named(tmp_path, monkeypatch):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CODESET_CACHE_DIR", str(blocked))
    with pytest.raises(TerminologyError, match="CODESET_CACHE_DIR") as raised:
        SnomedCT(write_release(tmp_path / "releases"))
    assert raised.value.path == str(blocked)
