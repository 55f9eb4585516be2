"""`codeset cohort` and `codeset measure` as a user runs them, on a generated dataset."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import DuckDBEngine, load_definition
from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.on_source import cohort_batches, prepare, write_cohort
from codesetlib.data.synthetic import SynthParams, generate_dataset

REPO = Path(__file__).resolve().parents[1]
DIABETES = "cohorts/diabetes_control.yaml"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-cohort") / "data"
    generate_dataset(SynthParams(patients=3000, practices=4, seed=7), out, progress=False)
    return out


def codeset(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cohort_writes_the_engines_rows_and_prints_protected_attrition(small: Path, tmp_path):
    out = tmp_path / "cohort.parquet"
    result = codeset("cohort", DIABETES, "--data", str(small), "--out", str(out))
    assert result.returncode == 0, result.stderr
    definition = load_definition(REPO / DIABETES)
    codes = codeset_codes(REPO / "codesets", definition.codesets_used())
    engine = DuckDBEngine(small)
    expected = engine.cohort(definition, codes)
    written = pd.read_parquet(out)
    assert list(written["patient_id"]) == list(expected["patient_id"])
    assert len(written) > 0
    # Every count printed is rounded to 5 or suppressed.
    table = result.stdout.split("rounded to the nearest 5.\n")[1]
    counts = [int(n) for n in re.findall(r"(?<=\s)(\d+)(?=\s|$)", table.split("wrote")[0])]
    steps = [c for c in counts if c >= 5]
    assert steps and all(c % 5 == 0 for c in steps)
    assert f"wrote {len(expected):,} rows" in result.stdout


def test_measure_writes_protected_counts(small: Path, tmp_path):
    out = tmp_path / "measure.csv"
    result = codeset(
        "measure",
        DIABETES,
        "--numerator",
        "hba1c_controlled",
        "--data",
        str(small),
        "--out",
        str(out),
        "--by",
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, dtype=str)
    assert len(table) == 12  # the 12 months to the index date, one row each
    assert table["interval_end"].iloc[-1] == "2025-03-31"
    for column in ("numerator", "denominator"):
        shown = table[column]
        numbers = pd.to_numeric(shown, errors="coerce")
        assert ((numbers % 5 == 0) | numbers.isna()).all()
        assert (shown[numbers.isna()] == "≤7").all()


def test_exact_counts_only_when_asked(small: Path, tmp_path):
    out = tmp_path / "exact.csv"
    result = codeset(
        "measure",
        DIABETES,
        "--numerator",
        "hba1c_controlled",
        "--data",
        str(small),
        "--out",
        str(out),
        "--by",
        "--no-disclosure",
    )
    assert result.returncode == 0, result.stderr
    assert "switched OFF" in result.stdout
    exact = pd.read_csv(out)
    assert (exact["numerator"] % 5 != 0).any() or (exact["denominator"] % 5 != 0).any()


def test_refuses_to_replace_a_file_and_names_bad_sources(small: Path, tmp_path):
    out = tmp_path / "mine.csv"
    out.write_text("my notes\n")
    result = codeset("cohort", DIABETES, "--data", str(small), "--out", str(out))
    assert result.returncode == 2
    assert out.read_text() == "my notes\n"
    assert "Traceback" not in result.stderr
    missing = codeset("cohort", DIABETES, "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    assert "nowhere" in missing.stderr
    wrong = codeset("cohort", DIABETES, "--data", str(small), "--out", str(tmp_path / "c.txt"))
    assert wrong.returncode == 2
    assert ".csv or .parquet" in wrong.stderr


def test_a_source_without_deprivation_leaves_the_column_out_and_says_so(small: Path, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for name in ("patients", "registrations", "clinical_events", "medications"):
        frame = pd.read_parquet(small / f"{name}.parquet")
        if name == "patients":
            frame = frame.drop(columns=["imd_quintile"])
        frame.to_parquet(folder / f"{name}.parquet")
    out = tmp_path / "c.csv"
    result = codeset("cohort", DIABETES, "--data", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "column imd_quintile left out" in result.stdout
    assert "column borough left out" in result.stdout
    columns = pd.read_csv(out).columns
    assert "imd_quintile" not in columns and "borough" not in columns
    assert "practice_id" in columns


def engines_rows(small: Path) -> pa.Table:
    """The cohort as `engine.cohort()` gives it, with the engines' midnight timestamps as dates."""
    definition = load_definition(REPO / DIABETES)
    codes = codeset_codes(REPO / "codesets", definition.codesets_used())
    frame = DuckDBEngine(small).cohort(definition, codes)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.date32()))
    return table


def test_cohort_streamed_to_parquet_and_csv_is_the_engines_cohort(small: Path, tmp_path):
    expected = engines_rows(small)
    assert len(expected) > 0
    written = {}
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"cohort.{suffix}"
        result = codeset("cohort", DIABETES, "--data", str(small), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert f"wrote {len(expected):,} rows (one per patient) to {out}" in result.stdout
        written[suffix] = out
    parquet = pq.read_table(written["parquet"])
    assert parquet.column_names == expected.column_names
    assert parquet.to_pylist() == expected.to_pylist()
    dates = [f.name for f in parquet.schema if pa.types.is_date(f.type)]
    assert "hba1c_date" in dates
    assert [f.name for f in expected.schema if pa.types.is_date(f.type)] == dates
    text = written["csv"].read_text(encoding="utf-8")
    header, first = text.splitlines()[:2]
    assert header == ",".join(f'"{name}"' for name in expected.column_names)
    # The same text as the engine's rows written whole, as the command wrote them before it
    # streamed them.
    whole = io.BytesIO()
    pacsv.write_csv(expected, whole)
    assert text == whole.getvalue().decode("utf-8")
    # Dates as dates: YYYY-MM-DD, no time of day.
    assert re.search(r",\d{4}-\d{2}-\d{2},", first) and "00:00:00" not in text


def test_a_cohort_is_read_in_batches_and_nothing_is_left_behind(small: Path, tmp_path):
    run = prepare(DIABETES, small, codesets_dir=REPO / "codesets")
    expected = engines_rows(small)
    assert len(expected) > 32
    batches = list(cohort_batches(run, batch_rows=16))
    assert len(batches) > 1 and max(b.num_rows for b in batches) <= 16
    assert pa.Table.from_batches(batches).to_pylist() == expected.to_pylist()
    out = tmp_path / "cohort.parquet"
    assert write_cohort(run, out) == len(expected)
    assert [p.name for p in tmp_path.iterdir()] == ["cohort.parquet"]


def test_duckdb_runs_with_the_memory_limit_and_temporary_folder_given(small: Path, tmp_path):
    spill = tmp_path / "spill"
    run = prepare(
        DIABETES,
        small,
        codesets_dir=REPO / "codesets",
        memory_limit="300MB",
        temp_directory=str(spill),
    )
    raw = run.engine.con.con
    limit, folder = raw.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()[0]
    assert (limit, folder) == ("286.1 MiB", str(spill))


def test_a_memory_limit_that_is_not_one_is_refused_in_one_line(small: Path, tmp_path):
    result = codeset("cohort", DIABETES, "--data", str(small), "--memory-limit", "lots")
    assert result.returncode == 2
    assert "'lots' is not a memory limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_query_larger_than_the_memory_limit_is_a_clear_error_and_writes_nothing(
    small: Path, tmp_path
):
    for command in (["cohort"], ["measure", "--numerator", "hba1c_controlled"]):
        out = tmp_path / f"{command[0]}.csv"
        result = codeset(
            *command, DIABETES, "--data", str(small), "--memory-limit", "1MB", "--out", str(out)
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "ran out of memory within --memory-limit 1MB" in result.stderr
        assert "raise --memory-limit" in result.stderr
        assert not out.exists()
        assert list(tmp_path.iterdir()) == []
