"""Write a generated dataset as the tables of ehrQL's `core` schema (OpenSAFELY), as Parquet or CSV.

`patients` (patient_id, date_of_birth, sex, date_of_death), `practice_registrations` (patient_id,
start_date, end_date, practice_pseudo_id, and the TPP schema's practice_stp and
practice_nuts1_region_name), `clinical_events` (patient_id, date, snomedct_code, numeric_value) and
`medications` (patient_id, date, dmd_code), one file per table named for it, which is how ehrQL reads
a folder of tables (`patients.csv`, ...).

ehrQL's core schema rounds a date of birth to the first of the month. The kit's exact date is kept:
rounding would shift ages near a birthday and the same cohort would select other patients on this
route than on the kit's own, which is what a comparison of routes must not do. Rows are streamed a
row group at a time in the kit's order; the same dataset gives byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesetlib.core.atomic import StagedFolder
from codesetlib.core.errors import DatasetError
from codesetlib.data.formats.output import (
    FormatWritten,
    KitDataset,
    TableWriter,
    open_kit_dataset,
    refuse_foreign_output,
    refuse_overlap,
    write_format_record,
)
from codesetlib.data.sources.base import SourceNote

FORMAT = "ehrql-core"
TABLE_FORMATS = ("parquet", "csv")
KIT_TABLES = ["patients", "registrations", "practices", "clinical_events", "medications"]
# The STP (now ICB) of the kit's boroughs, by its ONS code, and their NUTS level 1 region.
NORTH_CENTRAL_LONDON_STP = "E54000028"
STP_OF_BOROUGH = dict.fromkeys(
    ("Barnet", "Camden", "Enfield", "Haringey", "Islington"), NORTH_CENTRAL_LONDON_STP
)
REGION_OF_BOROUGH = dict.fromkeys(STP_OF_BOROUGH, "London")

SCHEMAS = {
    "patients": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("date_of_birth", pa.date32()),
            ("sex", pa.string()),
            ("date_of_death", pa.date32()),
        ]
    ),
    "practice_registrations": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("practice_pseudo_id", pa.int64()),
            ("practice_stp", pa.string()),
            ("practice_nuts1_region_name", pa.string()),
        ]
    ),
    "clinical_events": pa.schema(
        [
            ("patient_id", pa.int64()),
            ("date", pa.date32()),
            ("snomedct_code", pa.string()),
            ("numeric_value", pa.float64()),
        ]
    ),
    "medications": pa.schema(
        [("patient_id", pa.int64()), ("date", pa.date32()), ("dmd_code", pa.string())]
    ),
}
# Each ehrQL table: the kit table it comes from and, per ehrQL column, the kit column it copies.
COPIED = {
    "patients": (
        "patients",
        {
            "patient_id": "patient_id",
            "date_of_birth": "date_of_birth",
            "sex": "sex",
            "date_of_death": "date_of_death",
        },
    ),
    "clinical_events": (
        "clinical_events",
        {
            "patient_id": "patient_id",
            "date": "date",
            "snomedct_code": "code",
            "numeric_value": "value",
        },
    ),
    "medications": (
        "medications",
        {"patient_id": "patient_id", "date": "date", "dmd_code": "code"},
    ),
}


def refuse_foreign_ehrql(out: Path, force: bool) -> None:
    """Refuse to replace `out` unless it is absent or the kit's, or `force` is given."""
    refuse_foreign_output(out, force=force, replace_with="the ehrQL tables")


def write_ehrql(
    dataset_dir: Path, out: Path, *, table_format: str = "parquet", force: bool = False
) -> FormatWritten:
    """Write the generated dataset in `dataset_dir` as ehrQL core tables in the folder `out`, each
    table a Parquet or (`table_format="csv"`) CSV file.

    `out` is replaced whole, and only when it is absent, empty or something the kit wrote, unless
    `force` is given. Returns the rows of each table and notes of what was done to rows on the way."""
    if table_format not in TABLE_FORMATS:
        raise DatasetError(
            f"unknown table format '{table_format}' (expected {' or '.join(TABLE_FORMATS)})",
            field="table_format",
        )
    out = Path(out)
    refuse_overlap(dataset_dir, out)
    refuse_foreign_ehrql(out, force)
    dataset = open_kit_dataset(Path(dataset_dir), KIT_TABLES)
    staged = StagedFolder(out)
    try:
        writers = {
            name: TableWriter(staged.path / f"{name}.{table_format}", schema, table_format)
            for name, schema in SCHEMAS.items()
        }
        try:
            for name, (source, columns) in COPIED.items():
                _copy(dataset, source, columns, writers[name])
            notes = _write_registrations(dataset, writers["practice_registrations"])
        finally:
            for writer in writers.values():
                writer.close()
        write_format_record(staged.path, f"{FORMAT}-{table_format}", dataset, writers)
        refuse_foreign_ehrql(out, force)  # something may have been put there meanwhile
        staged.commit()
    except BaseException:
        staged.abandon()
        raise
    rows = {name: writer.rows for name, writer in writers.items()}
    return FormatWritten(out=out, format=f"{FORMAT}-{table_format}", rows=rows, notes=notes)


def _copy(dataset: KitDataset, source: str, columns: dict[str, str], writer: TableWriter) -> None:
    for batch in dataset.batches(source, list(columns.values())):
        writer.write({ours: batch[theirs] for ours, theirs in columns.items()})


def _write_registrations(dataset: KitDataset, writer: TableWriter) -> list[SourceNote]:
    """Registrations with their practice's STP and region, from its borough."""
    practices = pq.read_table(dataset.tables["practices"], columns=["practice_id", "borough"])
    ids = pc.cast(practices["practice_id"], pa.int64()).combine_chunks()
    boroughs = practices["borough"].to_pylist()
    stp = pa.array([STP_OF_BOROUGH.get(b) for b in boroughs], pa.string())
    region = pa.array([REGION_OF_BOROUGH.get(b) for b in boroughs], pa.string())
    unplaced = 0
    for batch in dataset.batches("registrations"):
        practice = pc.cast(batch["practice_id"], pa.int64())
        at = pc.index_in(practice, value_set=ids)
        writer.write(
            {
                "patient_id": batch["patient_id"],
                "start_date": batch["start_date"],
                "end_date": batch["end_date"],
                "practice_pseudo_id": practice,
                "practice_stp": stp.take(at),
                "practice_nuts1_region_name": region.take(at),
            }
        )
        unplaced += pc.take(stp, at).null_count
    if not unplaced:
        return []
    return [
        SourceNote(
            "practice_registrations",
            "registrations at a practice outside North Central London or not in practices "
            "(practice_stp and practice_nuts1_region_name null)",
            unplaced,
        )
    ]
