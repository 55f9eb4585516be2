import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from codesetlib.errors import DatasetError
from codesetlib.synthetic import SynthParams, generate_dataset, read_manifest


@pytest.fixture
def params(test_release) -> SynthParams:
    return SynthParams(patients=300, practices=4, seed=7, terminology_release=test_release)


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "a")
    generate_dataset(params, tmp_path / "b")
    for file in sorted((tmp_path / "a").iterdir()):
        assert file.read_bytes() == (tmp_path / "b" / file.name).read_bytes(), file.name


def test_another_seed_gives_other_data(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "a")
    generate_dataset(params.model_copy(update={"seed": 8}), tmp_path / "b")
    events = [pq.read_table(tmp_path / d / "clinical_events.parquet") for d in "ab"]
    assert not events[0].equals(events[1])


def test_the_manifest_records_rows_and_hashes(tmp_path: Path, params: SynthParams):
    manifest = generate_dataset(params, tmp_path / "d")
    assert manifest == read_manifest(tmp_path / "d")
    assert manifest["parameters"]["seed"] == 7
    for name, entry in manifest["tables"].items():
        assert pq.read_table(tmp_path / "d" / f"{name}.parquet").num_rows == entry["rows"]
    assert manifest["tables"]["patients"]["rows"] == 300
    assert manifest["tables"]["practices"]["rows"] == 4


def test_events_use_codes_of_the_release_and_fall_in_life(tmp_path: Path, params, terminology):
    generate_dataset(params, tmp_path / "d")
    events = pq.read_table(tmp_path / "d" / "clinical_events.parquet").to_pandas()
    patients = pq.read_table(tmp_path / "d" / "patients.parquet").to_pandas()
    assert set(events["code"]) <= set(terminology.codes())
    merged = events.merge(patients, on="patient_id")
    assert (merged["date"] >= merged["date_of_birth"]).all()
    lists = pq.read_table(tmp_path / "d" / "practices.parquet")["list_size"].to_pylist()
    assert sum(lists) == 300


def test_regenerating_replaces_the_folder_whole(tmp_path: Path, params: SynthParams):
    out = tmp_path / "d"
    out.mkdir()
    (out / "stale.parquet").write_text("old")
    generate_dataset(params, out)
    assert not (out / "stale.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_parameters_are_refused():
    with pytest.raises(ValidationError, match="patients"):
        SynthParams(patients=0)
    with pytest.raises(ValidationError, match="extra"):
        SynthParams.model_validate(json.loads('{"patient": 5}'))


def test_a_folder_without_a_manifest_is_named(tmp_path: Path):
    with pytest.raises(DatasetError, match=r"no manifest\.json"):
        read_manifest(tmp_path)
