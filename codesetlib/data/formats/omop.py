"""Write a generated dataset as an OMOP CDM 5.4: a folder of Parquet tables, or a DuckDB database.

The same truth by another route: every patient is a `person` (the care site of the latest
registration), every registration spell an `observation_period` (an open one ends on the dataset's
`end`), every coded event one row of `condition_occurrence`, `procedure_occurrence`, `measurement` or
`observation` (by its concept's domain, from the semantic tag in the teaching SNOMED CT release; an
event with a value is a measurement), every issue of a medicine one `drug_exposure`, with the
vocabulary tables built from the teaching releases (`omop_vocabulary`).

`*_concept_id` is the concept of the recorded code, also when the release inactivates it (that
concept is then non-standard and 'Maps to' its replacement where the release names one): OMOP would
put the replacement there, but a record with two possible replacements would become two records, and
the recorded code is what the kit's codesets select. `*_source_concept_id` and `*_source_value` hold
the recorded code too, so both routes give back exactly the kit's codes.

Column names and order follow the OMOP CDM 5.4 DDL. Identifiers (`person_id`, `*_occurrence_id`,
`care_site_id`, ...) are 64-bit integers, concept ids 32-bit, and `NUMERIC` columns doubles, so that a
value is kept exactly. Event tables are streamed a row group at a time in the kit's order (patient,
date, code) and numbered from 1 in that order; the person-level tables are ordered by a DuckDB query.
Parquet files are byte-identical for the same dataset; a DuckDB file holds the same tables, but its
header carries an identifier DuckDB draws afresh for each file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesetlib.core.atomic import StagedFolder, file_written_whole, remove
from codesetlib.core.errors import DatasetError
from codesetlib.data.formats.omop_vocabulary import (
    CONCEPT_ANCESTOR_SCHEMA,
    CONCEPT_RELATIONSHIP_SCHEMA,
    CONCEPT_SCHEMA,
    DMD,
    EVENT_TABLES,
    SNOMED,
    VOCABULARY_SCHEMA,
    CodeIndex,
    Vocabulary,
    build_vocabulary,
)
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

FORMAT = "omop-cdm-5.4"
CDM_VERSION = "5.4"
MALE, FEMALE = 8507, 8532
EHR = 32817  # the type concept of a record from an electronic health record
# What cdm_source says of who wrote the CDM; a DuckDB file saying it is one the kit wrote.
ETL_REFERENCE = "codesetlib.data.formats.omop"
HBA1C = "999791000000106"
HBA1C_UNIT = "mmol/mol"
KIT_TABLES = ["patients", "registrations", "practices", "clinical_events", "medications"]

ID = pa.int64()
CONCEPT = pa.int32()
INT = pa.int32()
DATE = pa.date32()
TIME = pa.timestamp("us")
TEXT = pa.string()
NUMBER = pa.float64()


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(list(columns))


def _event_columns(
    prefix: str, id_name: str, date: str, datetime: str
) -> list[tuple[str, pa.DataType]]:
    """The first five columns every event table of the CDM has."""
    return [
        (id_name, ID),
        ("person_id", ID),
        (f"{prefix}_concept_id", CONCEPT),
        (date, DATE),
        (datetime, TIME),
    ]


SCHEMAS: dict[str, pa.Schema] = {
    "person": _schema(
        ("person_id", ID), ("gender_concept_id", CONCEPT), ("year_of_birth", INT),
        ("month_of_birth", INT), ("day_of_birth", INT), ("birth_datetime", TIME),
        ("race_concept_id", CONCEPT), ("ethnicity_concept_id", CONCEPT), ("location_id", ID),
        ("provider_id", ID), ("care_site_id", ID), ("person_source_value", TEXT),
        ("gender_source_value", TEXT), ("gender_source_concept_id", CONCEPT),
        ("race_source_value", TEXT), ("race_source_concept_id", CONCEPT),
        ("ethnicity_source_value", TEXT), ("ethnicity_source_concept_id", CONCEPT),
    ),
    "observation_period": _schema(
        ("observation_period_id", ID), ("person_id", ID), ("observation_period_start_date", DATE),
        ("observation_period_end_date", DATE), ("period_type_concept_id", CONCEPT),
    ),
    "condition_occurrence": _schema(
        *_event_columns("condition", "condition_occurrence_id", "condition_start_date",
                        "condition_start_datetime"),
        ("condition_end_date", DATE), ("condition_end_datetime", TIME),
        ("condition_type_concept_id", CONCEPT), ("condition_status_concept_id", CONCEPT),
        ("stop_reason", TEXT), ("provider_id", ID), ("visit_occurrence_id", ID),
        ("visit_detail_id", ID), ("condition_source_value", TEXT),
        ("condition_source_concept_id", CONCEPT), ("condition_status_source_value", TEXT),
    ),
    "drug_exposure": _schema(
        *_event_columns("drug", "drug_exposure_id", "drug_exposure_start_date",
                        "drug_exposure_start_datetime"),
        ("drug_exposure_end_date", DATE), ("drug_exposure_end_datetime", TIME),
        ("verbatim_end_date", DATE), ("drug_type_concept_id", CONCEPT), ("stop_reason", TEXT),
        ("refills", INT), ("quantity", NUMBER), ("days_supply", INT), ("sig", TEXT),
        ("route_concept_id", CONCEPT), ("lot_number", TEXT), ("provider_id", ID),
        ("visit_occurrence_id", ID), ("visit_detail_id", ID), ("drug_source_value", TEXT),
        ("drug_source_concept_id", CONCEPT), ("route_source_value", TEXT),
        ("dose_unit_source_value", TEXT),
    ),
    "procedure_occurrence": _schema(
        *_event_columns("procedure", "procedure_occurrence_id", "procedure_date",
                        "procedure_datetime"),
        ("procedure_end_date", DATE), ("procedure_end_datetime", TIME),
        ("procedure_type_concept_id", CONCEPT), ("modifier_concept_id", CONCEPT),
        ("quantity", INT), ("provider_id", ID), ("visit_occurrence_id", ID),
        ("visit_detail_id", ID), ("procedure_source_value", TEXT),
        ("procedure_source_concept_id", CONCEPT), ("modifier_source_value", TEXT),
    ),
    "measurement": _schema(
        *_event_columns("measurement", "measurement_id", "measurement_date",
                        "measurement_datetime"),
        ("measurement_time", TEXT), ("measurement_type_concept_id", CONCEPT),
        ("operator_concept_id", CONCEPT), ("value_as_number", NUMBER),
        ("value_as_concept_id", CONCEPT), ("unit_concept_id", CONCEPT), ("range_low", NUMBER),
        ("range_high", NUMBER), ("provider_id", ID), ("visit_occurrence_id", ID),
        ("visit_detail_id", ID), ("measurement_source_value", TEXT),
        ("measurement_source_concept_id", CONCEPT), ("unit_source_value", TEXT),
        ("unit_source_concept_id", CONCEPT), ("value_source_value", TEXT),
        ("measurement_event_id", ID), ("meas_event_field_concept_id", CONCEPT),
    ),
    "observation": _schema(
        *_event_columns("observation", "observation_id", "observation_date",
                        "observation_datetime"),
        ("observation_type_concept_id", CONCEPT), ("value_as_number", NUMBER),
        ("value_as_string", TEXT), ("value_as_concept_id", CONCEPT),
        ("qualifier_concept_id", CONCEPT), ("unit_concept_id", CONCEPT), ("provider_id", ID),
        ("visit_occurrence_id", ID), ("visit_detail_id", ID), ("observation_source_value", TEXT),
        ("observation_source_concept_id", CONCEPT), ("unit_source_value", TEXT),
        ("qualifier_source_value", TEXT), ("value_source_value", TEXT),
        ("observation_event_id", ID), ("obs_event_field_concept_id", CONCEPT),
    ),
    "death": _schema(
        ("person_id", ID), ("death_date", DATE), ("death_datetime", TIME),
        ("death_type_concept_id", CONCEPT), ("cause_concept_id", CONCEPT),
        ("cause_source_value", TEXT), ("cause_source_concept_id", CONCEPT),
    ),
    "location": _schema(
        ("location_id", ID), ("address_1", TEXT), ("address_2", TEXT), ("city", TEXT),
        ("state", TEXT), ("zip", TEXT), ("county", TEXT), ("location_source_value", TEXT),
        ("country_concept_id", CONCEPT), ("country_source_value", TEXT), ("latitude", NUMBER),
        ("longitude", NUMBER),
    ),
    "care_site": _schema(
        ("care_site_id", ID), ("care_site_name", TEXT), ("place_of_service_concept_id", CONCEPT),
        ("location_id", ID), ("care_site_source_value", TEXT),
        ("place_of_service_source_value", TEXT),
    ),
    "cdm_source": _schema(
        ("cdm_source_name", TEXT), ("cdm_source_abbreviation", TEXT), ("cdm_holder", TEXT),
        ("source_description", TEXT), ("source_documentation_reference", TEXT),
        ("cdm_etl_reference", TEXT), ("source_release_date", DATE), ("cdm_release_date", DATE),
        ("cdm_version", TEXT), ("cdm_version_concept_id", CONCEPT), ("vocabulary_version", TEXT),
    ),
    "concept": CONCEPT_SCHEMA,
    "concept_relationship": CONCEPT_RELATIONSHIP_SCHEMA,
    "concept_ancestor": CONCEPT_ANCESTOR_SCHEMA,
    "vocabulary": VOCABULARY_SCHEMA,
}  # fmt: skip

# The columns each event table fills from a kit event: id, concept, date, type, source value and
# source concept.
EVENT_COLUMNS = {
    "condition_occurrence": ("condition_occurrence_id", "condition", "condition_start_date"),
    "procedure_occurrence": ("procedure_occurrence_id", "procedure", "procedure_date"),
    "measurement": ("measurement_id", "measurement", "measurement_date"),
    "observation": ("observation_id", "observation", "observation_date"),
}
MEASUREMENT = EVENT_TABLES.index("measurement")


def is_kit_omop_database(path: Path) -> bool:
    """Whether the file at `path` is a DuckDB database whose cdm_source says the kit wrote it."""
    try:
        with Path(path).open("rb") as handle:
            if handle.read(12)[8:12] != b"DUCK":
                return False
        con = duckdb.connect(str(path), read_only=True)
    except (OSError, duckdb.Error):
        return False
    try:
        rows = con.execute("SELECT DISTINCT cdm_etl_reference FROM main.cdm_source").fetchall()
    except duckdb.Error:
        return False
    finally:
        con.close()
    return rows == [(ETL_REFERENCE,)]


def refuse_foreign_omop(out: Path, force: bool) -> None:
    """Refuse to replace `out` unless it is absent or the kit's, or `force` is given."""
    refuse_foreign_output(
        out, force=force, replace_with="the OMOP CDM", is_kit_file=is_kit_omop_database
    )


def is_database_path(out: Path) -> bool:
    return Path(out).suffix.lower() == ".duckdb"


def write_omop(dataset_dir: Path, out: Path, *, force: bool = False) -> FormatWritten:
    """Write the generated dataset in `dataset_dir` as an OMOP CDM 5.4 at `out`: a DuckDB database
    (tables in schema main) when `out` ends with `.duckdb`, otherwise a folder of Parquet tables.

    `out` is replaced whole, and only when it is absent, empty or something the kit wrote, unless
    `force` is given. Returns the rows of each table and notes of what was done to rows on the way."""
    out = Path(out)
    refuse_overlap(dataset_dir, out)
    refuse_foreign_omop(out, force)
    dataset = open_kit_dataset(Path(dataset_dir), KIT_TABLES)
    vocabulary = build_vocabulary(
        _history(dataset, "terminology_release"), _history(dataset, "dmd_release")
    )
    staged = StagedFolder(out)
    try:
        written = _write_tables(dataset, vocabulary, staged.path)
        refuse_foreign_omop(out, force)  # something may have been put there meanwhile
        if is_database_path(out):
            _write_database(staged.path, written.rows, out)
            staged.abandon()
        else:
            staged.commit()
    except BaseException:
        staged.abandon()
        raise
    written.out = out
    return written


def _history(dataset: KitDataset, name: str) -> list[str]:
    """The releases the dataset's codes were chosen from, oldest first."""
    first = dataset.parameter(name)
    after = dataset.parameters.get(f"{name}_after_drift") or first
    return [first] if after == first else [first, after]


def _write_tables(dataset: KitDataset, vocabulary: Vocabulary, folder: Path) -> FormatWritten:
    writers = {name: TableWriter(folder / f"{name}.parquet", SCHEMAS[name]) for name in SCHEMAS}
    notes: list[SourceNote] = []
    try:
        end = dt.date.fromisoformat(str(dataset.parameter("end")))
        notes += _write_people(dataset, end, writers)
        _write_practices(dataset, writers)
        notes += _write_events(dataset, vocabulary, writers)
        notes += _write_drugs(dataset, vocabulary, writers)
        _write_vocabulary(dataset, vocabulary, end, writers)
    finally:
        for writer in writers.values():
            writer.close()
    write_format_record(folder, FORMAT, dataset, writers)
    rows = {name: writers[name].rows for name in SCHEMAS}
    return FormatWritten(out=folder, format=FORMAT, rows=rows, notes=notes)


def _fill(schema: pa.Schema, length: int, given: dict[str, Any]) -> dict[str, pa.Array]:
    """A column for every field of `schema`: those given (arrays, or a constant for every row) and
    nulls for the rest."""
    columns = {}
    for column in schema:
        value = given.get(column.name)
        if value is None:
            columns[column.name] = pa.nulls(length, column.type)
        elif isinstance(value, pa.Array | pa.ChunkedArray):
            columns[column.name] = pc.cast(value, column.type)
        elif isinstance(value, np.ndarray):
            columns[column.name] = pa.array(value, column.type)
        else:
            columns[column.name] = pa.array(np.full(length, value), column.type)
    return columns


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection that draws no progress bar for a long query: the command prints its own lines."""
    con.execute("SET enable_progress_bar = false")
    return con


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _query_batches(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[pa.RecordBatch]:
    yield from con.sql(sql).to_arrow_reader(1 << 17)


def _write_people(
    dataset: KitDataset, end: dt.date, writers: dict[str, TableWriter]
) -> list[SourceNote]:
    """person, death and observation_period, ordered by DuckDB queries over the kit's tables."""
    patients = _sql_path(dataset.tables["patients"])
    registrations = _sql_path(dataset.tables["registrations"])
    con = _quiet(duckdb.connect())
    try:
        person_sql = f"""
            WITH latest AS (
                SELECT patient_id, practice_id, row_number() OVER (
                    PARTITION BY patient_id
                    ORDER BY start_date DESC, end_date DESC NULLS FIRST, practice_id DESC) AS n
                FROM read_parquet({registrations})
            )
            SELECT p.patient_id AS person_id,
                CASE p.sex WHEN 'male' THEN {MALE} WHEN 'female' THEN {FEMALE} ELSE 0 END
                    AS gender_concept_id,
                year(p.date_of_birth) AS year_of_birth, month(p.date_of_birth) AS month_of_birth,
                day(p.date_of_birth) AS day_of_birth,
                CAST(p.date_of_birth AS TIMESTAMP) AS birth_datetime,
                l.practice_id AS care_site_id, CAST(p.patient_id AS VARCHAR) AS person_source_value,
                p.sex AS gender_source_value
            FROM read_parquet({patients}) p LEFT JOIN latest l ON l.patient_id = p.patient_id AND n = 1
            ORDER BY p.patient_id"""
        unregistered = unknown_sex = 0
        for batch in _query_batches(con, person_sql):
            given = {name: batch[name] for name in batch.schema.names}
            given |= {"race_concept_id": 0, "ethnicity_concept_id": 0}
            writers["person"].write(_fill(SCHEMAS["person"], batch.num_rows, given))
            unregistered += batch["care_site_id"].null_count
            unknown_sex += pc.sum(pc.equal(batch["gender_concept_id"], 0)).as_py() or 0
        death_sql = f"""
            SELECT patient_id AS person_id, date_of_death AS death_date
            FROM read_parquet({patients}) WHERE date_of_death IS NOT NULL ORDER BY patient_id"""
        for batch in _query_batches(con, death_sql):
            given = {"person_id": batch["person_id"], "death_date": batch["death_date"]}
            given["death_type_concept_id"] = EHR
            writers["death"].write(_fill(SCHEMAS["death"], batch.num_rows, given))
        period_sql = f"""
            SELECT row_number() OVER (ORDER BY patient_id, start_date, practice_id, end_date)
                    AS observation_period_id,
                patient_id AS person_id, start_date AS observation_period_start_date,
                coalesce(end_date, DATE '{end.isoformat()}') AS observation_period_end_date
            FROM read_parquet({registrations})
            ORDER BY observation_period_id"""
        for batch in _query_batches(con, period_sql):
            given = {name: batch[name] for name in batch.schema.names}
            given["period_type_concept_id"] = EHR
            writers["observation_period"].write(
                _fill(SCHEMAS["observation_period"], batch.num_rows, given)
            )
    finally:
        con.close()
    notes = []
    if unregistered:
        notes.append(
            SourceNote("person", "patients with no registration (care_site_id null)", unregistered)
        )
    if unknown_sex:
        notes.append(
            SourceNote(
                "person", "patients whose sex is neither female nor male (gender 0)", unknown_sex
            )
        )
    return notes


def _write_practices(dataset: KitDataset, writers: dict[str, TableWriter]) -> None:
    """A care site per practice, in a location naming its borough."""
    practices = pq.read_table(dataset.tables["practices"]).sort_by("practice_id")
    ids = practices["practice_id"].combine_chunks()
    count = practices.num_rows
    borough = practices["borough"].combine_chunks()
    writers["location"].write(
        _fill(
            SCHEMAS["location"],
            count,
            {"location_id": ids, "county": borough, "location_source_value": borough},
        )
    )
    names = pa.array([f"Practice {i}" for i in ids.to_pylist()], TEXT)
    writers["care_site"].write(
        _fill(
            SCHEMAS["care_site"],
            count,
            {
                "care_site_id": ids,
                "care_site_name": names,
                "place_of_service_concept_id": 0,
                "location_id": ids,
                "care_site_source_value": pc.cast(ids, TEXT),
            },
        )
    )


def _look_up(codes: pa.Array, index: CodeIndex) -> tuple[np.ndarray, np.ndarray]:
    """The position of each code in the vocabulary's index (-1 when absent) and its concept id (0,
    OMOP's "no matching concept", when absent)."""
    position = pc.fill_null(pc.index_in(codes, value_set=index.codes), -1).to_numpy()
    known = position >= 0
    concept = np.where(known, index.concept_ids[np.where(known, position, 0)], 0)
    return position, concept.astype(np.int32)


def _write_events(
    dataset: KitDataset, vocabulary: Vocabulary, writers: dict[str, TableWriter]
) -> list[SourceNote]:
    """Each coded event into the table of its concept's domain, numbered in the kit's order."""
    index = vocabulary.index(SNOMED)
    release = vocabulary.releases[SNOMED]
    unknown = inactive = valued_elsewhere = 0
    for batch in dataset.batches("clinical_events", ["patient_id", "date", "code", "value"]):
        codes, values = batch["code"], batch["value"]
        position, concept = _look_up(codes, index)
        known = position >= 0
        target = np.where(
            known, index.tables[np.where(known, position, 0)], EVENT_TABLES.index("observation")
        )
        has_value = values.is_valid().to_numpy(zero_copy_only=False)
        valued_elsewhere += int((has_value & (target != MEASUREMENT)).sum())
        target = np.where(has_value, MEASUREMENT, target)
        unknown += int((~known).sum())
        inactive += int((known & ~index.active[np.where(known, position, 0)]).sum())
        for number, table in enumerate(EVENT_TABLES):
            rows = target == number
            if rows.any():
                _write_event_rows(writers[table], table, batch, concept, rows)
    notes = []
    if unknown:
        notes.append(
            SourceNote(
                "clinical_events",
                f"events whose code is not in {release} (concept 0; the code is kept as the source value)",
                unknown,
            )
        )
    if inactive:
        notes.append(
            SourceNote(
                "clinical_events",
                f"events with a code {release} inactivates (its own, non-standard concept, which "
                "'Maps to' the replacement where the release names one)",
                inactive,
            )
        )
    if valued_elsewhere:
        notes.append(
            SourceNote(
                "clinical_events",
                "events with a value whose concept is not a measurement (written to measurement)",
                valued_elsewhere,
            )
        )
    return notes


def _write_event_rows(
    writer: TableWriter, table: str, batch: pa.RecordBatch, concept: np.ndarray, rows: np.ndarray
) -> None:
    id_name, prefix, date_name = EVENT_COLUMNS[table]
    mask = pa.array(rows)
    count = int(rows.sum())
    codes = batch["code"].filter(mask)
    concepts = pa.array(concept[rows], CONCEPT)
    given: dict[str, Any] = {
        id_name: np.arange(writer.rows + 1, writer.rows + 1 + count, dtype=np.int64),
        "person_id": batch["patient_id"].filter(mask),
        f"{prefix}_concept_id": concepts,
        date_name: batch["date"].filter(mask),
        f"{prefix}_type_concept_id": EHR,
        f"{prefix}_source_value": codes,
        f"{prefix}_source_concept_id": concepts,
    }
    if table in ("measurement", "observation"):
        values = batch["value"].filter(mask)
        given["value_as_number"] = values
        hba1c = pc.and_(pc.equal(codes, HBA1C), pc.is_valid(values))
        given["unit_source_value"] = pc.if_else(hba1c, HBA1C_UNIT, pa.scalar(None, TEXT))
    writer.write(_fill(writer.schema, count, given))


def _write_drugs(
    dataset: KitDataset, vocabulary: Vocabulary, writers: dict[str, TableWriter]
) -> list[SourceNote]:
    """Each issue of a medicine as a drug exposure of one day, numbered in the kit's order."""
    index = vocabulary.index(DMD)
    release = vocabulary.releases[DMD]
    writer = writers["drug_exposure"]
    unknown = inactive = 0
    for batch in dataset.batches("medications", ["patient_id", "date", "code"]):
        position, concept = _look_up(batch["code"], index)
        known = position >= 0
        unknown += int((~known).sum())
        inactive += int((known & ~index.active[np.where(known, position, 0)]).sum())
        count = batch.num_rows
        concepts = pa.array(concept, CONCEPT)
        given = {
            "drug_exposure_id": np.arange(writer.rows + 1, writer.rows + 1 + count, dtype=np.int64),
            "person_id": batch["patient_id"],
            "drug_concept_id": concepts,
            "drug_exposure_start_date": batch["date"],
            "drug_exposure_end_date": batch["date"],
            "drug_type_concept_id": EHR,
            "drug_source_value": batch["code"],
            "drug_source_concept_id": concepts,
        }
        writer.write(_fill(writer.schema, count, given))
    notes = []
    if unknown:
        notes.append(
            SourceNote("medications", f"issues whose code is not in {release} (concept 0)", unknown)
        )
    if inactive:
        notes.append(
            SourceNote(
                "medications",
                f"issues with a code {release} marks invalid (its own, non-standard concept)",
                inactive,
            )
        )
    return notes


def _write_vocabulary(
    dataset: KitDataset, vocabulary: Vocabulary, end: dt.date, writers: dict[str, TableWriter]
) -> None:
    for name, table in (
        ("concept", vocabulary.concept_table()),
        ("concept_relationship", vocabulary.concept_relationship_table()),
        ("concept_ancestor", vocabulary.concept_ancestor_table()),
        ("vocabulary", vocabulary.vocabulary_table()),
    ):
        writers[name].write(
            {column: table[column].combine_chunks() for column in table.column_names}
        )
    snomed = vocabulary.releases[SNOMED]
    parameters = dataset.parameters
    description = (
        f"Synthetic primary-care records generated by the Codeset Research Kit (seed "
        f"{dataset.manifest.get('seed')}, {parameters.get('patients')} patients, "
        f"{parameters.get('practices')} practices, {parameters.get('start')} to {end}); "
        f"vocabularies {snomed} and {vocabulary.releases[DMD]}"
    )
    row = {
        "cdm_source_name": "Codeset Research Kit synthetic primary care",
        "cdm_source_abbreviation": "codesetlib synth",
        "cdm_holder": "Codeset Research Kit",
        "source_description": description,
        "source_documentation_reference": "codesetlib/data/synthetic/SCHEMA.md",
        "cdm_etl_reference": ETL_REFERENCE,
        # the dataset's last day, not today's date, so that the same dataset gives the same bytes
        "source_release_date": end,
        "cdm_release_date": end,
        "cdm_version": CDM_VERSION,
        "cdm_version_concept_id": 0,
        # varchar(20) in the DDL: the edition and date; the vocabulary table names each release
        "vocabulary_version": _short_version(snomed),
    }
    table = pa.Table.from_pylist([row], schema=SCHEMAS["cdm_source"])
    writers["cdm_source"].write({c: table[c].combine_chunks() for c in table.column_names})


def _short_version(release_id: str) -> str:
    """`snomedct-teaching-20250401` as `teaching 20250401`, within the DDL's 20 characters."""
    parts = release_id.split("-")
    return " ".join(parts[1:])[:20] if len(parts) > 2 else release_id[:20]


def _write_database(folder: Path, rows: dict[str, int], out: Path) -> None:
    """Load the Parquet tables in `folder` into a new DuckDB database put in place at `out`."""
    with file_written_whole(out) as temporary:
        temporary.unlink()  # DuckDB makes its own file
        wal = temporary.with_name(temporary.name + ".wal")
        try:
            con = _quiet(duckdb.connect(str(temporary)))
            try:
                for name in rows:
                    path = _sql_path(folder / f"{name}.parquet")
                    con.execute(f"CREATE TABLE main.{name} AS SELECT * FROM read_parquet({path})")
                con.execute("CHECKPOINT")
            finally:
                con.close()
        except duckdb.Error as exc:
            raise DatasetError(f"cannot write the DuckDB database: {exc}", path=out) from None
        finally:
            with contextlib.suppress(OSError):
                remove(wal)
