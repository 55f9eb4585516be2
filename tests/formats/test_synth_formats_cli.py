"""`codeset synth --format omop|ehrql` as a user runs it: generate and convert (or convert `--from` a
dataset), leave nothing else behind, and refuse with one line what it cannot do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from codesetlib.cli.main import main
from codesetlib.data.synthetic import read_manifest
from tests.formats.conftest import files_of


def synth(*args: str) -> int:
    return main(["synth", "--patients", "300", "--practices", "4", "--no-progress", *args])


def test_omop_into_a_duckdb_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "cdm.duckdb"
    assert synth("--format", "omop", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (omop-cdm-5.4): person 300, ")
    assert [p.name for p in tmp_path.iterdir()] == [
        "cdm.duckdb"
    ]  # the dataset made on the way went
    con = duckdb.connect(str(out), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM main.person").fetchall() == [(300,)]
    finally:
        con.close()


def test_ehrql_csv_from_a_generated_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert synth("--out", str(tmp_path / "kit")) == 0
    capsys.readouterr()
    code = main(
        ["synth", "--format", "ehrql", "--table-format", "csv", "--from",
         str(tmp_path / "kit"), "--out", str(tmp_path / "tables")]
    )  # fmt: skip
    assert code == 0
    assert "(ehrql-core-csv): patients 300," in capsys.readouterr().out
    events = read_manifest(tmp_path / "kit")["tables"]["clinical_events"]["rows"]
    lines = (tmp_path / "tables" / "clinical_events.csv").read_text().splitlines()
    assert len(lines) == events + 1


def test_generating_and_converting_is_the_same_as_converting_a_dataset(tmp_path: Path):
    assert synth("--format", "omop", "--out", str(tmp_path / "direct")) == 0
    assert synth("--out", str(tmp_path / "kit")) == 0
    code = main(
        [
            "synth",
            "--format",
            "omop",
            "--from",
            str(tmp_path / "kit"),
            "--out",
            str(tmp_path / "via"),
        ]
    )
    assert code == 0
    assert files_of(tmp_path / "direct") == files_of(tmp_path / "via")
    assert pq.read_table(tmp_path / "via" / "person.parquet").num_rows == 300


def test_a_folder_the_kit_did_not_write_is_refused_before_generating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert synth("--format", "ehrql", "--out", str(out)) == 2
    error = capsys.readouterr().err
    assert "refusing to replace it" in error and "--force" in error
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]
    assert synth("--format", "ehrql", "--out", str(out), "--force") == 0
    assert not (out / "notes.txt").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "omop", "--table-format", "csv"], "--table-format: is for --format ehrql"),
        (["--from", "somewhere"], "--from: converts a dataset to another format"),
        (["--format", "ehrql", "--from", "somewhere", "--seed", "3"], "--seed set how one is"),
    ],
)
def test_options_that_mean_nothing_are_one_line_errors(tmp_path: Path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", "synth", *args, "--out", "d"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
