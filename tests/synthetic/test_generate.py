import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codesetlib.cli.main import main
from codesetlib.core.errors import CodesetError, DatasetError
from codesetlib.data.synthetic import SynthParams, generate_dataset, load_params, read_manifest
from codesetlib.data.synthetic import generate as generate_module
from codesetlib.data.synthetic.params import DEFAULT_CODE_CHOICE, make_params


@pytest.fixture
def params() -> SynthParams:
    # Small chunks so that several chunks (and both workers) are exercised.
    return SynthParams(patients=3000, practices=5, seed=7, chunk_patients=700)


def _files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "a", workers=1)
    generate_dataset(params, tmp_path / "b", workers=1)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_one_or_two_workers_give_the_same_files(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "one", workers=1)
    generate_dataset(params, tmp_path / "two", workers=2)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_another_seed_gives_other_data(tmp_path: Path, params: SynthParams):
    a = generate_dataset(params, tmp_path / "a", workers=1)
    b = generate_dataset(params.model_copy(update={"seed": 8}), tmp_path / "b", workers=1)
    for name in ("patients", "clinical_events", "truth_conditions"):
        assert a["tables"][name]["sha256"] != b["tables"][name]["sha256"]


def test_the_manifest_records_rows_and_hashes(tmp_path: Path, params: SynthParams):
    manifest = generate_dataset(params, tmp_path / "d", workers=1)
    assert manifest == read_manifest(tmp_path / "d")
    assert manifest["schema_version"] == "1.0"
    assert manifest["parameters"]["seed"] == 7 and manifest["seed"] == 7
    assert set(manifest["tables"]) == {
        "practices",
        "patients",
        "registrations",
        "clinical_events",
        "medications",
        "truth_conditions",
        "truth_attributes",
    }
    for name, entry in manifest["tables"].items():
        table = pq.read_table(tmp_path / "d" / f"{name}.parquet")
        assert table.num_rows == entry["rows"]
        assert not (table.schema.metadata or {}).get(b"created_at")
    assert manifest["tables"]["patients"]["rows"] == 3000
    assert manifest["tables"]["practices"]["rows"] == 5


def test_files_are_written_in_row_groups_and_sorted(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "d", workers=1)
    events = pq.ParquetFile(tmp_path / "d" / "clinical_events.parquet")
    assert events.metadata.num_row_groups == 5  # one per chunk
    frame = events.read().to_pandas()
    assert frame.equals(frame.sort_values(["patient_id", "date", "code"], kind="stable"))
    lists = pq.read_table(tmp_path / "d" / "practices.parquet").to_pandas()
    assert set(lists["borough"]) == {"Barnet", "Camden", "Enfield", "Haringey", "Islington"}
    assert 0 < lists["list_size"].sum() <= 3000


def test_regenerating_replaces_the_folder_whole(tmp_path: Path, params: SynthParams):
    out = tmp_path / "d"
    generate_dataset(params, out, workers=1)
    generate_dataset(params.model_copy(update={"seed": 9}), out, workers=1)
    assert read_manifest(out)["seed"] == 9
    generate_dataset(params.model_copy(update={"seed": 9}), tmp_path / "fresh", workers=1)
    assert _files(out) == _files(tmp_path / "fresh")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_folder_the_kit_did_not_write_is_refused_unless_forced(tmp_path, params):
    out = tmp_path / "d"
    generate_dataset(params, out, workers=1)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"holds notes\.txt, which the kit did not write"):
        generate_dataset(params, out, workers=1)
    assert (out / "notes.txt").read_text() == "mine"
    generate_dataset(params, out, workers=1, force=True)
    assert not (out / "notes.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failure_half_way_leaves_the_old_dataset(tmp_path: Path, params, monkeypatch):
    out = tmp_path / "d"
    generate_dataset(params, out, workers=1)
    before = _files(out)
    real = generate_module.generate_chunk

    def failing(model, index):
        if index == 2:
            raise RuntimeError("disk full")
        return real(model, index)

    monkeypatch.setattr(generate_module, "generate_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_dataset(params.model_copy(update={"seed": 9}), out, workers=1)
    assert _files(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_parameters_are_refused_naming_the_field(tmp_path: Path):
    with pytest.raises(DatasetError, match="patients") as error:
        make_params(patients=0)
    assert error.value.field == "patients"
    with pytest.raises(DatasetError, match="history_start <= start < end"):
        make_params(start="2026-01-01")
    config = tmp_path / "synth.yaml"
    config.write_text("patients: 100\nseed: 3\npatient: 5\n")
    with pytest.raises(DatasetError) as error:
        load_params(config)
    assert (error.value.path, error.value.line, error.value.field) == (str(config), 3, "patient")
    assert "did you mean 'patients'" in str(error.value)


def _bad_code_choice(tmp_path: Path, old: str, new: str) -> SynthParams:
    text = DEFAULT_CODE_CHOICE.read_text()
    assert old in text
    path = tmp_path / "choice.yaml"
    path.write_text(text.replace(old, new, 1))
    return SynthParams(patients=100, code_choice=str(path))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '{code: "254837009", weight: 40}',
            '{code: "254837008", weight: 40}',
            "is not in snomedct-teaching-20240401",
        ),
        (
            '{code: "254838004", weight: 20, until: 2025-04-01}',
            '{code: "254838004", weight: 20}',
            "is inactive in snomedct-teaching-20250401",
        ),
        (
            '{code: "49999999102", weight: 8, from: 2025-04-01}',
            '{code: "49999999102", weight: 8}',
            "give `from: 2025-04-01`",
        ),
    ],
    ids=["unknown", "inactive-without-until", "added-without-from"],
)
def test_a_bad_code_choice_is_refused_with_file_line_and_field(tmp_path, old, new, message):
    params = _bad_code_choice(tmp_path, old, new)
    with pytest.raises(DatasetError, match=message) as error:
        generate_dataset(params, tmp_path / "d")
    assert error.value.path == params.code_choice
    assert error.value.line == _line_of(Path(params.code_choice), new)
    assert error.value.field.startswith("items.")
    assert not (tmp_path / "d").exists()


def test_a_bad_calibration_is_refused(tmp_path: Path):
    source = Path(SynthParams().calibration_path())
    path = tmp_path / "calibration.yaml"
    shutil.copy(source, path)
    path.write_text(source.read_text().replace("ethnicity: 0.865", "ethnicity: 1.865"))
    with pytest.raises(CodesetError) as error:
        generate_dataset(SynthParams(patients=100, calibration=str(path)), tmp_path / "d")
    assert error.value.field == "recording.ethnicity"
    assert error.value.line == _line_of(path, "ethnicity: 1.865")


def test_the_command_reads_a_config_of_overrides(tmp_path: Path, capsys):
    config = tmp_path / "synth.yaml"
    config.write_text("patients: 400\npractices: 3\n")
    status = main(
        [
            "synth",
            "--config",
            str(config),
            "--seed",
            "5",
            "--out",
            str(tmp_path / "d"),
            "--no-progress",
        ]
    )
    assert status == 0
    manifest = read_manifest(tmp_path / "d")
    assert manifest["parameters"]["patients"] == 400 and manifest["seed"] == 5
    assert "patients 400" in capsys.readouterr().out


def test_the_command_refuses_a_bad_config_in_one_line(tmp_path: Path, capsys):
    config = tmp_path / "synth.yaml"
    config.write_text("patients: -1\n")
    assert main(["synth", "--config", str(config), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"codeset: error: {config}:1: patients:")
    assert not (tmp_path / "d").exists()


def test_a_folder_without_a_manifest_is_named(tmp_path: Path):
    with pytest.raises(DatasetError, match=r"no manifest\.json"):
        read_manifest(tmp_path)


def test_the_manifest_is_json_with_sorted_keys(tmp_path: Path, params: SynthParams):
    generate_dataset(params, tmp_path / "d", workers=1)
    text = (tmp_path / "d" / "manifest.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
