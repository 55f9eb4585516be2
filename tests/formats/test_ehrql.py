"""The ehrQL core tables written from a generated dataset: ehrQL's names and types, the kit's rows
(exact dates of birth included), as Parquet or CSV, the same bytes each time, and nothing replaced
that the kit did not write."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
import pyarrow.parquet as pq
import pytest

from codesetlib.core.errors import DatasetError
from codesetlib.data.formats import FormatWritten, write_ehrql
from codesetlib.data.formats.ehrql import SCHEMAS
from codesetlib.data.formats.output import TableWriter
from tests.formats.conftest import files_of

# ehrQL's core schema: each table's columns and their types (ehrql/tables/core.py), with the TPP
# schema's practice_stp and practice_nuts1_region_name.
CORE = {
    "patients": {
        "patient_id": pa.int64(),
        "date_of_birth": pa.date32(),
        "sex": pa.string(),
        "date_of_death": pa.date32(),
    },
    "practice_registrations": {
        "patient_id": pa.int64(),
        "start_date": pa.date32(),
        "end_date": pa.date32(),
        "practice_pseudo_id": pa.int64(),
        "practice_stp": pa.string(),
        "practice_nuts1_region_name": pa.string(),
    },
    "clinical_events": {
        "patient_id": pa.int64(),
        "date": pa.date32(),
        "snomedct_code": pa.string(),
        "numeric_value": pa.float64(),
    },
    "medications": {"patient_id": pa.int64(), "date": pa.date32(), "dmd_code": pa.string()},
}


def kit(dataset: Path, name: str) -> pd.DataFrame:
    return pq.read_table(dataset / f"{name}.parquet").to_pandas()


def test_the_tables_are_ehrqls_core_schema(ehrql: FormatWritten):
    for name, columns in CORE.items():
        schema = pq.read_schema(ehrql.out / f"{name}.parquet")
        assert dict(zip(schema.names, schema.types, strict=True)) == columns


def test_the_rows_are_the_kits(dataset: Path, ehrql: FormatWritten):
    patients = pq.read_table(ehrql.out / "patients.parquet").to_pandas()
    expected = kit(dataset, "patients")[["patient_id", "date_of_birth", "sex", "date_of_death"]]
    pd.testing.assert_frame_equal(patients, expected)
    # the exact date of birth, not ehrQL's first of the month
    assert (pd.to_datetime(patients["date_of_birth"]).dt.day != 1).any()
    events = pq.read_table(ehrql.out / "clinical_events.parquet").to_pandas()
    expected = kit(dataset, "clinical_events").rename(
        columns={"code": "snomedct_code", "value": "numeric_value"}
    )
    pd.testing.assert_frame_equal(events, expected)
    medications = pq.read_table(ehrql.out / "medications.parquet").to_pandas()
    assert medications["dmd_code"].tolist() == kit(dataset, "medications")["code"].tolist()
    assert ehrql.rows == {
        "patients": len(patients),
        "practice_registrations": len(kit(dataset, "registrations")),
        "clinical_events": len(events),
        "medications": len(medications),
    }


def test_registrations_carry_the_practice_and_its_region(dataset: Path, ehrql: FormatWritten):
    registrations = pq.read_table(ehrql.out / "practice_registrations.parquet").to_pandas()
    expected = kit(dataset, "registrations")
    assert registrations["practice_pseudo_id"].tolist() == expected["practice_id"].tolist()
    assert registrations["end_date"].isna().sum() == expected["end_date"].isna().sum() > 0
    assert set(registrations["practice_stp"]) == {"E54000028"}
    assert set(registrations["practice_nuts1_region_name"]) == {"London"}
    assert ehrql.notes == []


def test_csv_tables_hold_the_same_rows(dataset: Path, ehrql: FormatWritten, tmp_path: Path):
    written = write_ehrql(dataset, tmp_path / "csv", table_format="csv")
    assert written.rows == ehrql.rows
    for name, columns in CORE.items():
        read = arrow_csv.read_csv(
            tmp_path / "csv" / f"{name}.csv",
            convert_options=arrow_csv.ConvertOptions(column_types=columns),
        )
        assert read.equals(pq.read_table(ehrql.out / f"{name}.parquet")), name


@pytest.mark.parametrize("table_format", ["parquet", "csv"])
def test_the_same_dataset_gives_the_same_bytes(dataset: Path, tmp_path: Path, table_format: str):
    first = write_ehrql(dataset, tmp_path / "a", table_format=table_format)
    second = write_ehrql(dataset, tmp_path / "b", table_format=table_format)
    assert files_of(first.out) == files_of(second.out)


def test_a_folder_the_kit_did_not_write_is_refused(dataset: Path, tmp_path: Path):
    out = tmp_path / "analysis"
    out.mkdir()
    (out / "study.py").write_text("# mine")
    with pytest.raises(DatasetError, match="refusing to replace it"):
        write_ehrql(dataset, out)
    assert (out / "study.py").read_text() == "# mine"
    write_ehrql(dataset, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["codeset_format.json", *(f"{n}.parquet" for n in SCHEMAS)]
    )


def test_the_kits_own_output_is_replaced_whole(dataset: Path, tmp_path: Path):
    out = tmp_path / "tables"
    write_ehrql(dataset, out, table_format="csv")
    write_ehrql(dataset, out)  # a folder of the kit's CSV tables becomes one of Parquet tables
    assert not list(out.glob("*.csv")) and (out / "patients.parquet").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["tables"]


def test_an_unknown_table_format_is_refused(dataset: Path, tmp_path: Path):
    with pytest.raises(DatasetError, match="unknown table format 'feather'"):
        write_ehrql(dataset, tmp_path / "x", table_format="feather")


def test_row_groups_are_of_one_size_whatever_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from codesetlib.data.formats import output

    monkeypatch.setattr(output, "ROW_GROUP_SIZE", 10)
    schema = pa.schema([("n", pa.int64())])
    writer = TableWriter(tmp_path / "n.parquet", schema)
    start = 0
    for size in (3, 0, 14, 7, 1, 2):
        writer.write({"n": pa.array(range(start, start + size), pa.int64())})
        start += size
    writer.close()
    written = pq.ParquetFile(tmp_path / "n.parquet")
    sizes = [written.metadata.row_group(i).num_rows for i in range(written.num_row_groups)]
    assert sizes == [10, 10, 7]
    assert written.read()["n"].to_pylist() == list(range(27))
