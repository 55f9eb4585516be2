"""An OMOP CDM (5.3 or 5.4) as a data source: a DuckDB file, a folder of Parquet or CSV tables, or a
PostgreSQL schema, presented as the kit's tables by Ibis expressions that run on DuckDB and
PostgreSQL alike. The mapping, table by table and column by column, is in `OMOP.md` beside this file.

Events in a CDM carry concept ids; codesets carry codes. The `code` of an event is read through the
CDM's CONCEPT table, restricted to the vocabularies the kit codes in (SNOMED CT, ICD-10 in its WHO
written form, dm+d), by one of two routes or both: the concept the data were recorded in
(`*_source_concept_id`, the `source` route) and the codes that map to the event's standard concept
(`*_concept_id`, the `standard` route). `match_report` says, for a codeset's codes, how many patients
each route finds and which codes find nothing.

The CDM is checked once when it is opened, by aggregate queries: a missing table or column, a value
of the wrong type, a date before 1850 or after today, or a person id given twice is refused with a
`DatasetError` naming the table, the column and an example row. Dates out of range are refused
rather than left out: they mark an extract whose dates were read wrongly, and leaving them out would
change the counts without the reader knowing why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import ibis
import ibis.expr.types as ir
import pandas as pd

from codesetlib.core.errors import DatasetError, file_problem
from codesetlib.data.sources.base import DataSource, OpenedSource, SourceNote, duckdb_settings

Match = Literal["source", "standard", "both"]
MATCHES: tuple[Match, ...] = ("source", "standard", "both")
# The CDM's vocabularies the kit codes in, with the kit's names for them. The ICD-10 of WHO and its US
# clinical modification share one written form, so an ICD-10 codeset finds codes of either; SNOMED CT
# and dm+d identifiers are drawn from one identifier space, so they never collide. Codes of any other
# vocabulary (ICD-9-CM's V10.3 is not ICD-10's V10.3) never reach the kit's tables.
KIT_VOCABULARIES = {"SNOMED": "SNOMED CT", "ICD10": "ICD-10", "ICD10CM": "ICD-10", "dm+d": "dm+d"}
ICD10_VOCABULARIES = ("ICD10", "ICD10CM")
GENDER_CONCEPTS = {8507: "male", 8532: "female"}
EARLIEST_DATE = dt.date(1850, 1, 1)
OPTIONS = ("schema", "vocabulary_schema", "match", "host")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
TABLE_SUFFIXES = (".parquet", ".csv", ".tsv")
IBIS_TYPES = {"integer": "int64", "date": "date", "number": "float64", "text": "string"}
KIND_WORDS = {
    "integer": "a whole number",
    "date": "a date (YYYY-MM-DD)",
    "number": "a number",
    "text": "text",
}
INTEGER_TEXT = r"^-?[0-9]{1,18}$"
NUMBER_TEXT = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
DATE_TEXT = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([ T].*)?$"


class Column(NamedTuple):
    """A CDM column the mapping reads: its kind, and whether it must be there (`key`: present and
    never empty; `present`: present, may be empty; `optional`: may be absent, read as empty)."""

    kind: str
    need: str


@dataclass(frozen=True)
class EventTable:
    """A CDM table of coded events and the columns that become a kit event."""

    name: str
    id: str
    concept: str
    source_concept: str
    date: str
    source_value: str
    value: str | None
    kit_table: str


EVENT_TABLES = (
    EventTable(
        "condition_occurrence",
        "condition_occurrence_id",
        "condition_concept_id",
        "condition_source_concept_id",
        "condition_start_date",
        "condition_source_value",
        None,
        "clinical_events",
    ),
    EventTable(
        "observation",
        "observation_id",
        "observation_concept_id",
        "observation_source_concept_id",
        "observation_date",
        "observation_source_value",
        "value_as_number",
        "clinical_events",
    ),
    EventTable(
        "procedure_occurrence",
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_source_concept_id",
        "procedure_date",
        "procedure_source_value",
        None,
        "clinical_events",
    ),
    EventTable(
        "measurement",
        "measurement_id",
        "measurement_concept_id",
        "measurement_source_concept_id",
        "measurement_date",
        "measurement_source_value",
        "value_as_number",
        "clinical_events",
    ),
    EventTable(
        "drug_exposure",
        "drug_exposure_id",
        "drug_concept_id",
        "drug_source_concept_id",
        "drug_exposure_start_date",
        "drug_source_value",
        None,
        "medications",
    ),
)
EVENTS = {spec.name: spec for spec in EVENT_TABLES}


def _event_columns(spec: EventTable) -> dict[str, Column]:
    columns = {
        spec.id: Column("integer", "key"),
        "person_id": Column("integer", "key"),
        spec.concept: Column("integer", "key"),
        spec.date: Column("date", "key"),
        spec.source_concept: Column("integer", "present"),
        spec.source_value: Column("text", "optional"),
    }
    if spec.value:
        columns[spec.value] = Column("number", "optional")
    return columns


# Every CDM column the mapping reads, by table.
CDM_COLUMNS: dict[str, dict[str, Column]] = {
    "person": {
        "person_id": Column("integer", "key"),
        "gender_concept_id": Column("integer", "key"),
        "year_of_birth": Column("integer", "key"),
        "month_of_birth": Column("integer", "optional"),
        "day_of_birth": Column("integer", "optional"),
        "care_site_id": Column("integer", "optional"),
    },
    "observation_period": {
        "person_id": Column("integer", "key"),
        "observation_period_start_date": Column("date", "key"),
        "observation_period_end_date": Column("date", "key"),
    },
    "death": {"person_id": Column("integer", "key"), "death_date": Column("date", "key")},
    "care_site": {
        "care_site_id": Column("integer", "key"),
        "care_site_name": Column("text", "optional"),
    },
    **{spec.name: _event_columns(spec) for spec in EVENT_TABLES},
    "concept": {
        "concept_id": Column("integer", "key"),
        "vocabulary_id": Column("text", "key"),
        "concept_code": Column("text", "key"),
        "standard_concept": Column("text", "optional"),
    },
    "concept_relationship": {
        "concept_id_1": Column("integer", "key"),
        "concept_id_2": Column("integer", "key"),
        "relationship_id": Column("text", "key"),
        "invalid_reason": Column("text", "optional"),
    },
    "vocabulary": {
        "vocabulary_id": Column("text", "key"),
        "vocabulary_version": Column("text", "optional"),
    },
    "cdm_source": {
        "cdm_version": Column("text", "optional"),
        "vocabulary_version": Column("text", "optional"),
    },
}
REQUIRED_TABLES = ("person", "observation_period", "concept")
CLINICAL_TABLES = tuple(s.name for s in EVENT_TABLES if s.kit_table == "clinical_events")
VOCABULARY_TABLES = ("concept", "concept_relationship", "vocabulary")
# The columns that identify a row in an example, and whose values must not repeat.
ROW_KEYS = {
    "person": "person_id",
    "care_site": "care_site_id",
    "concept": "concept_id",
    **{spec.name: spec.id for spec in EVENT_TABLES},
}
UNIQUE_KEYS = ("person", "care_site", "concept")


@dataclass
class RawCdm:
    """A CDM's tables as found, before checking: lower-case table and column names, with where each
    table was read (a file, or a schema's table) for messages."""

    con: Any
    backend: str
    tables: dict[str, ir.Table]
    places: dict[str, str]
    storage: dict[str, str]


@dataclass
class CdmCodes:
    """The kit's codes of the CDM's concepts: `concepts` (concept_id, code, vocabulary_id) of the
    kit's vocabularies; `standard` (standard_concept_id, code): the codes that reach each standard
    concept, its own and those of every concept that 'Maps to' it."""

    concepts: ir.Table
    standard: ir.Table
    maps_to: ir.Table | None


@dataclass
class CdmMapping:
    """The checked CDM tables and the expressions that turn them into the kit's tables."""

    tables: dict[str, ir.Table]
    present: dict[str, set[str]]
    codes: CdmCodes
    match: Match
    con: Any = None
    backend: str = "duckdb"
    compiled: dict[str, str] = field(default_factory=dict, repr=False)

    def sql(self, name: str) -> str:
        """The SQL of a checked CDM table (by its name) or of `concepts`, `standard`, `maps_to` or
        `match_events:<kit table>`, compiled once per opened CDM: the checks and the match report
        are written as SQL around these, so that no query is compiled again for each check."""
        if name not in self.compiled:
            self.compiled[name] = self.con.compile(self._expression(name))
        return self.compiled[name]

    def _expression(self, name: str) -> ir.Table:
        if name in self.tables:
            return self.tables[name]
        if name.startswith("match_events:"):
            return self._match_events(name.partition(":")[2])
        found = {"concepts": self.codes.concepts, "standard": self.codes.standard}
        found["maps_to"] = self.codes.maps_to  # type: ignore[assignment]
        expr = found.get(name)
        if expr is None:
            raise KeyError(name)
        return expr

    def _match_events(self, kit_table: str) -> ir.Table:
        """A kit table's events with what the match report reads: the person, both concept ids and
        the source value as written (stripped), null where the table has none."""
        parts = []
        for spec in EVENT_TABLES:
            if spec.kit_table != kit_table or spec.name not in self.tables:
                continue
            t = self.tables[spec.name]
            value = (
                t[spec.source_value].strip()
                if spec.source_value in self.present[spec.name]
                else ibis.null().cast("string")
            )
            parts.append(
                t.select(
                    patient_id=t.person_id,
                    concept_id=t[spec.concept],
                    source_concept_id=t[spec.source_concept],
                    source_value=value,
                )
            )
        if not parts:
            raise DatasetError(f"the CDM has no table of {kit_table.replace('_', ' ')}")
        return reduce(lambda a, b: a.union(b), parts)

    def events(self, kit_table: str) -> ir.Table | None:
        """The CDM's events of a kit table, before codes: one row per event, with the CDM table and
        event id that identify it, its two concept ids and its value (null where it has none)."""
        parts = []
        for spec in EVENT_TABLES:
            if spec.kit_table != kit_table or spec.name not in self.tables:
                continue
            t = self.tables[spec.name]
            parts.append(
                t.select(
                    cdm_table=ibis.literal(spec.name, type="string"),
                    event_id=t[spec.id],
                    patient_id=t.person_id,
                    date=t[spec.date],
                    concept_id=t[spec.concept],
                    source_concept_id=t[spec.source_concept],
                    value=t[spec.value] if spec.value else ibis.null().cast("float64"),
                )
            )
        return reduce(lambda a, b: a.union(b), parts) if parts else None

    def coded(self, events: ir.Table, route: Match) -> ir.Table:
        """The events with their codes by a route; `both` is the union of the two, one row per event
        and code: the standard route's rows whose code the event's source concept already gives
        are left out (an anti join against the small concept table), so no distinct is computed
        over every event."""
        if route == "both":
            codes = self.codes.standard
            standard = events.join(codes, events.concept_id == codes.standard_concept_id).select(
                events.cdm_table,
                events.event_id,
                events.patient_id,
                events.date,
                events.value,
                events.source_concept_id,
                code=codes.code,
            )
            concepts = self.codes.concepts
            only_standard = standard.anti_join(
                concepts,
                [
                    standard.source_concept_id == concepts.concept_id,
                    standard.code == concepts.code,
                ],
            ).drop("source_concept_id")
            return self.coded(events, "source").union(only_standard, distinct=False)
        if route == "source":
            codes = self.codes.concepts
            joined = events.join(codes, events.source_concept_id == codes.concept_id)
        else:
            codes = self.codes.standard
            joined = events.join(codes, events.concept_id == codes.standard_concept_id)
        return joined.select(
            events.cdm_table,
            events.event_id,
            events.patient_id,
            events.date,
            events.value,
            code=codes.code,
        )

    def kit_tables(self) -> dict[str, ir.Table]:
        """The kit's tables as expressions over the CDM's."""
        person = self.tables["person"]
        tables = {"patients": patients(person, self.tables.get("death"))}
        tables["registrations"] = registrations(self.tables["observation_period"], person)
        if "care_site" in self.tables:
            tables["practices"] = practices(
                self.tables["care_site"], "care_site_name" in self.present["care_site"]
            )
        for kit_table in ("clinical_events", "medications"):
            events = self.events(kit_table)
            if events is None:
                continue
            columns = ["patient_id", "date", "code"]
            if kit_table == "clinical_events":
                columns.append("value")
            tables[kit_table] = self.coded(events, self.match).select(*columns)
        return tables


@dataclass
class OpenedCdm(OpenedSource):
    """An OMOP CDM opened as the kit's tables, with the mapping behind them (for `match_report`)."""

    mapping: CdmMapping | None = None


@dataclass(frozen=True)
class MatchReport:
    """For a codeset's codes: the patients each route finds, and each code's patients and events.

    `codes` has one row per code: `vocabularies` (the kit's vocabularies in which CONCEPT has it),
    `maps_to_standard` (its concept is standard or 'Maps to' one), `patients_source`,
    `events_source`, `patients_standard`, `events_standard`, `patients` (by either route),
    `source_value_events` (events whose `*_source_value` is the code, with or without a concept) and
    `status`: `found`, `no events` (in CONCEPT, but no event reaches it) or `not in CONCEPT`.
    """

    table: str
    match: Match
    patients_by_source: int
    patients_by_standard: int
    patients_by_both: int
    patients_by_either: int
    codes: pd.DataFrame

    @property
    def unmatched(self) -> pd.DataFrame:
        """The codes that find no event by either route, with why and their counts."""
        return self.codes[self.codes["status"] != "found"].reset_index(drop=True)


@dataclass(frozen=True)
class PostgresAddress:
    """A PostgreSQL database named by a `postgresql://USER:PASSWORD@HOST:PORT/DB` address; the
    password (better kept in PGPASSWORD or ~/.pgpass) is used to connect and never shown."""

    user: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    database: str | None

    @classmethod
    def parse(cls, text: str) -> PostgresAddress:
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            raise DatasetError(f"the port of {parts.netloc!r} is not a number") from None
        return cls(
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname,
            port=port,
            database=unquote(parts.path.lstrip("/")) or None,
        )

    def url(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{self.host or ''}{port}/{self.database or ''}"


class OmopCdm(DataSource):
    """An OMOP CDM 5.3 or 5.4: a DuckDB file (attached read-only), a folder of Parquet or CSV tables
    (file names in either case), or a PostgreSQL database.

    `schema` names the schema holding the CDM tables (by default `main` in a DuckDB file, the first of
    the search path in PostgreSQL); `vocabulary_schema` the one holding CONCEPT and its neighbours
    when it is another; `match` the route from concepts to codes (`source`, `standard` or `both`).
    """

    kind = "omop"

    def __init__(
        self,
        where: Path | str,
        *,
        schema: str | None = None,
        vocabulary_schema: str | None = None,
        match: str = "both",
        host: str | None = None,
    ) -> None:
        if match not in MATCHES:
            raise DatasetError(
                f"match must be one of {', '.join(MATCHES)} (found {match!r})", field="match"
            )
        self.match: Match = match  # type: ignore[assignment]
        self.schema = schema
        self.vocabulary_schema = vocabulary_schema
        self.host = host
        self.server: PostgresAddress | None = None
        self.path: Path | None = None
        if isinstance(where, str) and where.startswith(POSTGRES_SCHEMES):
            self.server = PostgresAddress.parse(where)
        else:
            self.path = Path(where)

    @property
    def location(self) -> str:
        return self.server.url() if self.server is not None else str(self.path)

    def spec(self) -> str:
        options = {
            "schema": self.schema,
            "vocabulary_schema": self.vocabulary_schema,
            "match": None if self.match == "both" else self.match,
            "host": self.host,
        }
        query = urlencode({k: v for k, v in options.items() if v is not None}, safe="/")
        return f"omop:{self.location}" + (f"?{query}" if query else "")

    def open(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> OpenedCdm:
        raw = self._read(duckdb_settings(threads, memory_limit, temp_directory))
        try:
            return open_cdm(raw, self.match, self.location)
        except _database_errors(raw.backend) as error:
            raise DatasetError(
                f"the CDM cannot be read: {_said(error)}", path=self.location
            ) from None

    def _read(self, settings: Mapping[str, Any]) -> RawCdm:
        if self.server is not None:
            return self._read_postgres(self.server)
        assert self.path is not None
        if self.path.is_dir():
            if self.schema or self.vocabulary_schema:
                raise DatasetError(
                    "a folder of tables has no schemas: schema= and vocabulary_schema= name "
                    "schemas of a DuckDB file or a PostgreSQL database",
                    path=self.path,
                )
            return read_folder(self.path, settings)
        if self.path.is_file():
            return read_duckdb_file(self.path, self.schema, self.vocabulary_schema, settings)
        raise DatasetError("no OMOP CDM here (expected a DuckDB file or a folder)", path=self.path)

    def _read_postgres(self, server: PostgresAddress) -> RawCdm:
        url = server.url()
        try:
            import psycopg
        except ImportError:
            raise DatasetError(
                "reading a CDM in PostgreSQL needs the psycopg package", path=url
            ) from None
        try:
            con = ibis.postgres.connect(
                host=self.host or server.host,
                user=server.user,
                password=server.password,
                port=server.port or 5432,
                database=server.database,
            )
        except psycopg.Error as error:
            raise DatasetError(f"cannot connect: {_said(error)}", path=url) from None
        schema = self.schema or con.current_database
        found = _tables_in(con.list_tables(database=schema), schema)
        vocabulary = found
        if self.vocabulary_schema:
            vocabulary = _tables_in(
                con.list_tables(database=self.vocabulary_schema), self.vocabulary_schema
            )
        tables, places = {}, {}
        for name in CDM_COLUMNS:
            where = vocabulary if name in VOCABULARY_TABLES else found
            if name in where:
                schema_of, actual = where[name]
                tables[name] = _lower_columns(con.table(actual, database=schema_of))
                places[name] = f"{url} {schema_of}.{actual}"
        storage = {"storage": "PostgreSQL", "schema": schema}
        if self.vocabulary_schema:
            storage["vocabulary_schema"] = self.vocabulary_schema
        return RawCdm(con, "postgres", tables, places, storage)


def omop_source(where: str, root: Path | None) -> OmopCdm:
    """The CDM a user names after `omop:`: a DuckDB file, a folder of tables, or a
    `postgresql://USER@HOST:PORT/DB` address, each with options after `?` (`schema`,
    `vocabulary_schema`, `match`, and for PostgreSQL `host`, e.g. a socket folder). Relative paths
    are taken from `root` (the study's folder) when given."""
    base, _, query = where.partition("?")
    options: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in OPTIONS:
            raise DatasetError(
                f"unknown option {key!r} in omop:{where} (known: {', '.join(OPTIONS)})"
            )
        options[key] = values[-1]
    if base.startswith(POSTGRES_SCHEMES):
        return OmopCdm(base, **options)
    if "host" in options:
        raise DatasetError(f"host= is an option of a PostgreSQL address only (omop:{where})")
    path = Path(base).expanduser()
    if root is not None and not path.is_absolute():
        path = root / path
    return OmopCdm(path, **options)


def read_duckdb_file(
    path: Path, schema: str | None, vocabulary_schema: str | None, settings: Mapping[str, Any]
) -> RawCdm:
    """A CDM in a DuckDB file, attached read-only to a fresh in-memory connection (the kit's views
    are made in the connection, never in the file)."""
    import duckdb

    con = ibis.duckdb.connect(**settings)
    catalog = "omop_cdm"
    try:
        con.attach(str(path).replace("'", "''"), catalog, read_only=True)
    except duckdb.Error as error:
        raise DatasetError(
            f"not a DuckDB database that can be opened: {str(error).splitlines()[0]}", path=path
        ) from None
    # Every table's columns in one query, rather than one DESCRIBE per table.
    _, rows = _fetch(
        con,
        "duckdb",
        "SELECT table_schema, table_name, column_name, data_type, is_nullable "
        f"FROM information_schema.columns WHERE table_catalog = {_text_sql(catalog)} "
        "ORDER BY table_schema, table_name, ordinal_position",
    )
    by_schema: dict[str, dict[str, str]] = {}
    columns: dict[tuple[str, str], list[tuple[str, str, bool]]] = {}
    for schema_name, table_name, column, data_type, nullable in rows:
        by_schema.setdefault(schema_name, {})[table_name.lower()] = table_name
        columns.setdefault((schema_name, table_name), []).append(
            (column, data_type, nullable == "YES")
        )
    schema = schema or _default_schema(by_schema, "main", path)
    if schema not in by_schema:
        known = ", ".join(sorted(by_schema)) or "none"
        raise DatasetError(f"no schema {schema!r} in the file (it has: {known})", path=path)
    vocabulary = vocabulary_schema or schema
    if vocabulary not in by_schema:
        known = ", ".join(sorted(by_schema)) or "none"
        raise DatasetError(f"no schema {vocabulary!r} in the file (it has: {known})", path=path)
    tables, places = {}, {}
    for name in CDM_COLUMNS:
        schema_of = vocabulary if name in VOCABULARY_TABLES else schema
        if name in by_schema[schema_of]:
            actual = by_schema[schema_of][name]
            table = _duckdb_table(con, catalog, schema_of, actual, columns[schema_of, actual])
            tables[name] = _lower_columns(table)
            places[name] = f"{path} {schema_of}.{actual}"
    storage = {"storage": "DuckDB file", "schema": schema}
    if vocabulary_schema:
        storage["vocabulary_schema"] = vocabulary_schema
    return RawCdm(con, "duckdb", tables, places, storage)


def _duckdb_table(
    con: Any, catalog: str, schema: str, name: str, columns: list[tuple[str, str, bool]]
) -> ir.Table:
    """A table of the attached file, with the schema its columns were listed with (as `con.table`
    makes one, without asking the file again)."""
    import ibis.expr.operations as ops
    import ibis.expr.schema as sch

    types = con.compiler.type_mapper
    found = sch.Schema(
        {column: types.from_string(kind, nullable=nullable) for column, kind, nullable in columns}
    )
    return ops.DatabaseTable(
        name, schema=found, source=con, namespace=ops.Namespace(catalog=catalog, database=schema)
    ).to_expr()


def _default_schema(by_schema: Mapping[str, Mapping[str, str]], preferred: str, path: Path) -> str:
    """The schema holding the person table: `preferred` when it does, else the only one that does."""
    holding = sorted(s for s, tables in by_schema.items() if "person" in tables)
    if preferred in holding or not holding:
        return preferred
    if len(holding) == 1:
        return holding[0]
    raise DatasetError(
        f"several schemas hold a person table ({', '.join(holding)}): name one with ?schema=",
        path=path,
    )


def read_folder(folder: Path, settings: Mapping[str, Any]) -> RawCdm:
    """A CDM as a folder of one file per table (`person.parquet`, `PERSON.csv`, `concept.tsv`).

    CSV files are read as text and typed by the mapping, which checks every value it converts, so
    no column's type is guessed from its first rows; tab- or comma-separated, by the header line.
    """
    import duckdb

    con = ibis.duckdb.connect(**settings)
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
            name = path.name[: -len(path.suffix)].lower()
            if name in CDM_COLUMNS:
                files.setdefault(name, []).append(path)
    tables, places = {}, {}
    for name, paths in files.items():
        if len(paths) > 1:
            raise DatasetError(
                f"table {name} is in more than one file: {', '.join(p.name for p in paths)}",
                path=folder,
            )
        path = paths[0]
        try:
            table = _read_table_file(con, path, f"omop_{name}")
        except duckdb.Error as error:
            raise DatasetError(f"cannot be read: {_said(error)}", path=path, field=name) from None
        tables[name] = _lower_columns(table)
        places[name] = str(path)
    return RawCdm(con, "duckdb", tables, places, {"storage": "folder", "folder": str(folder)})


def _read_table_file(con: Any, path: Path, view: str) -> ir.Table:
    """One table file as a view on the connection: Parquet as it is typed, CSV as text."""
    if path.suffix.lower() == ".parquet":
        return con.read_parquet(path, table_name=view)
    header = _header_line(path)
    tab = "\t" in header
    return con.read_csv(
        path,
        table_name=view,
        all_varchar=True,
        header=True,
        delim="\t" if tab else ",",
        # Tab-separated vocabulary files as Athena gives them quote nothing and hold concept names
        # with unbalanced quotes: quotes are read as quotes only when the header has some.
        quote='"' if '"' in header or not tab else "",
    )


def _header_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except OSError as error:
        raise DatasetError(file_problem(error), path=path) from None


def _tables_in(names: Iterable[str], schema: str) -> dict[str, tuple[str, str]]:
    return {name.lower(): (schema, name) for name in names}


def _lower_columns(table: ir.Table) -> ir.Table:
    renames = {c.lower(): c for c in table.columns if c != c.lower()}
    return table.rename(renames) if renames else table


def _said(error: BaseException) -> str:
    """The first line of what a database said, or the error's kind when it said nothing."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _database_errors(backend: str) -> tuple[type[BaseException], ...]:
    import duckdb

    errors: list[type[BaseException]] = [duckdb.Error]
    if backend == "postgres":
        import psycopg

        errors.append(psycopg.Error)
    return tuple(errors)


# -- checking ---------------------------------------------------------------------------------


class Problem(NamedTuple):
    """Rows a check refuses: the column named, what is wrong in words, and which rows (an SQL
    condition on the typed table, aliased `t`)."""

    column: str
    words: str
    rows: str


EMPTY = "row(s) where it is empty (the CDM requires a value)"
OUT_OF_RANGE = f"row(s) with a date before {EARLIEST_DATE} or after today"
BIRTH = f"row(s) whose date of birth is not a date, or is before {EARLIEST_DATE} or after today"


@dataclass
class Checked:
    """A CDM table with the columns the mapping reads in their kinds, and what its check counted."""

    table: ir.Table
    present: set[str]
    counts: dict[str, Any]


@dataclass(frozen=True)
class Joined:
    """Counts a table's check takes from its rows joined to other tables: the joins (SQL after
    `FROM ... AS t`) and the aggregates over them, by name."""

    joins: str = ""
    measures: Mapping[str, str] = field(default_factory=dict)


def open_cdm(raw: RawCdm, match: Match, location: str) -> OpenedCdm:
    """Check the CDM's tables, once, and present the kit's tables over them.

    Each table is checked by one aggregate query written as SQL around the table's compiled form
    (so no check compiles an expression of its own); what a note counts against another table (an
    event's person, a code for an event's concepts) is counted by left joins in the same query, on
    keys the checks before it proved unique."""
    for name in REQUIRED_TABLES:
        if name not in raw.tables:
            raise DatasetError(
                f"table {name} is missing (an OMOP CDM needs {', '.join(REQUIRED_TABLES)})",
                path=location,
                field=name,
            )
    if not any(name in raw.tables for name in CLINICAL_TABLES):
        raise DatasetError(
            f"no table of clinical events (the CDM needs one of {', '.join(CLINICAL_TABLES)})",
            path=location,
        )
    typed = {name: typed_table(raw, name) for name in CDM_COLUMNS if name in raw.tables}
    tables = {name: table for name, (table, _) in typed.items()}
    present = {name: columns for name, (_, columns) in typed.items()}
    codes = cdm_codes(tables["concept"], tables.get("concept_relationship"))
    mapping = CdmMapping(tables, present, codes, match, con=raw.con, backend=raw.backend)
    checked: dict[str, Checked] = {}
    for name in ("person", "observation_period", "death", "care_site", *VOCABULARY_TABLES):
        if name in typed:
            person = checked.get("person")
            checked[name] = check_table(raw, mapping, name, note_joins(mapping, name, person))
    if raw.backend == "duckdb":
        mapping.codes = kept_codes(raw.con, mapping)
    for spec in EVENT_TABLES:
        if spec.name in typed:
            joined = event_joins(mapping, spec, checked["person"])
            checked[spec.name] = check_table(raw, mapping, spec.name, joined)
    kit = mapping.kit_tables()
    if raw.backend == "duckdb":
        # Views on the in-memory connection, so that the SQL a cohort runs (and the record shows)
        # reads `clinical_events`, not the mapping spelled out again in every query.
        kit = {name: raw.con.create_view(name, expr) for name, expr in kit.items()}
    return OpenedCdm(
        con=raw.con,
        backend=raw.backend,
        tables=kit,
        notes=cdm_notes(mapping, checked),
        details=cdm_details(raw, mapping, checked, location),
        # A CDM's events carry ICD-10 codes beside SNOMED CT (by either route), so ICD-10 codesets
        # select events too.
        coding_systems={"clinical_events": ("snomedct", "icd10"), "medications": ("dmd",)},
        mapping=mapping,
    )


def kept_codes(con: Any, mapping: CdmMapping) -> CdmCodes:
    """The kit's codes of the CDM's concepts kept as temporary tables of the connection, once the
    vocabulary tables are checked: every query after (the events' checks, the kit's views, each
    criterion, the match report) reads them rather than working the codes out of CONCEPT and
    CONCEPT_RELATIONSHIP again (the ICD-10 spelling, the 'Maps to' join), and its SQL is short."""
    kept: dict[str, ir.Table | None] = {}
    for name in ("concepts", "standard", "maps_to"):
        expr = getattr(mapping.codes, name)
        if expr is None:
            kept[name] = None
            continue
        table = f"cdm_{name}"
        con.raw_sql(f"CREATE TEMP TABLE {_ident(table)} AS {mapping.sql(name)}")
        kept[name] = con.table(table)
        mapping.compiled[name] = f"SELECT * FROM {_ident(table)}"
    return CdmCodes(**kept)


def unknown_person(mapping: CdmMapping, person: Checked) -> Joined:
    """The rows of a table (aliased `t`) whose person_id is not in PERSON, as the `unknown_person`
    count. PERSON's ids were proved unique by its check: when they are also every whole number from
    the least to the greatest, a person_id is unknown exactly when it lies outside that range, and
    no join is needed; otherwise an anti join (a left join on the unique key) finds them."""
    if _dense_ids(person):
        low, high = int(person.counts["min_id"]), int(person.counts["max_id"])
        return Joined(
            measures={
                "unknown_person": (
                    f"COUNT(*) FILTER (WHERE t.person_id < {low} OR t.person_id > {high})"
                )
            }
        )
    return Joined(
        f"LEFT JOIN (SELECT person_id FROM ({mapping.sql('person')}) AS p0) AS p "
        "ON t.person_id = p.person_id",
        {
            "unknown_person": (
                "COUNT(*) FILTER (WHERE t.person_id IS NOT NULL AND p.person_id IS NULL)"
            )
        },
    )


def _dense_ids(person: Checked) -> bool:
    counts = person.counts
    if counts["min_id"] is None or counts["max_id"] is None:
        return False
    return int(counts["max_id"]) - int(counts["min_id"]) + 1 == int(counts["rows"])


def note_joins(mapping: CdmMapping, name: str, person: Checked | None) -> Joined:
    """What the notes count of a table other than events, beside its check: persons with more than
    one death record, death records of an unknown person, observation periods with no care site;
    and the version the vocabulary table gives itself."""
    if name == "death" and person is not None:
        repeated = (
            "(SELECT COUNT(*) FROM (SELECT person_id FROM t GROUP BY person_id "
            "HAVING COUNT(*) > 1) AS r)"
        )
        orphans = unknown_person(mapping, person)
        return Joined(orphans.joins, {"several_deaths": repeated, **orphans.measures})
    if name == "observation_period" and person is not None:
        if not person.counts["no_site"]:
            # Every person has a care site: only the periods of an unknown person have none.
            orphans = unknown_person(mapping, person)
            return Joined(orphans.joins, {"no_site": orphans.measures["unknown_person"]})
        return Joined(
            f"LEFT JOIN (SELECT person_id, care_site_id FROM ({mapping.sql('person')}) AS p0) "
            "AS p ON t.person_id = p.person_id",
            {"no_site": "COUNT(*) FILTER (WHERE p.care_site_id IS NULL)"},
        )
    if name == "vocabulary":
        return Joined(
            measures={
                "none_version": "MAX(t.vocabulary_version) FILTER (WHERE t.vocabulary_id = 'None')"
            }
        )
    return Joined()


def event_joins(mapping: CdmMapping, spec: EventTable, person: Checked) -> Joined:
    """The counts an event table's notes need beside its check: rows of a person not in PERSON and
    rows whose concepts give no code by the match's route (both by anti joins written as left
    joins on unique keys, which a database runs as hash joins at any size), and its first and last
    dates."""
    orphans = unknown_person(mapping, person)
    joins = [orphans.joins] if orphans.joins else []
    missing = []
    if mapping.match in ("source", "both"):
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT concept_id FROM ({mapping.sql('concepts')}) AS c0) AS s "
            f"ON t.{_ident(spec.source_concept)} = s.concept_id"
        )
        missing.append("s.concept_id IS NULL")
    if mapping.match in ("standard", "both"):
        joins.append(
            "LEFT JOIN (SELECT DISTINCT standard_concept_id "
            f"FROM ({mapping.sql('standard')}) AS c1) AS d "
            f"ON t.{_ident(spec.concept)} = d.standard_concept_id"
        )
        missing.append("d.standard_concept_id IS NULL")
    date = f"t.{_ident(spec.date)}"
    return Joined(
        "\n".join(joins),
        {
            "without_code": f"COUNT(*) FILTER (WHERE {' AND '.join(missing)})",
            **orphans.measures,
            "first_date": f"MIN({date})",
            "last_date": f"MAX({date})",
        },
    )


def typed_table(raw: RawCdm, name: str) -> tuple[ir.Table, set[str]]:
    """The columns of a CDM table the mapping reads, each converted to its kind; a DatasetError for
    a missing column, a column of a type that cannot hold its kind, or a value that does not read
    as it (counted in one aggregate query, with an example row)."""
    table, place = raw.tables[name], raw.places[name]
    wanted = CDM_COLUMNS[name]
    missing = [c for c, col in wanted.items() if col.need != "optional" and c not in table.columns]
    if missing:
        raise DatasetError(
            f"missing column(s) {', '.join(missing)} in table {name}", path=place, field=name
        )
    converted, unreadable = {}, {}
    for column, spec in wanted.items():
        if column not in table.columns:
            converted[column] = ibis.null().cast(IBIS_TYPES[spec.kind])
            continue
        value, bad = read_as(table[column], spec.kind, raw.backend, name, column, place)
        converted[column] = value
        if bad is not None:
            unreadable[column] = bad
    if unreadable:
        counts = _aggregate(table, {c: bad.ifelse(1, 0).sum() for c, bad in unreadable.items()})
        for column, bad in unreadable.items():
            if counts[column]:
                raise _unreadable_row_error(
                    table,
                    bad,
                    name,
                    column,
                    place,
                    f"{counts[column]:,} row(s) where {column} is not "
                    f"{KIND_WORDS[wanted[column].kind]}",
                )
    present = {c for c in wanted if c in table.columns}
    return table.select(**converted), present


def read_as(
    value: ir.Value, kind: str, backend: str, table: str, column: str, place: str
) -> tuple[ir.Value, ir.BooleanValue | None]:
    """A column read as `kind`, and the rows whose value does not read (None when all must)."""
    dtype = value.type()
    target = IBIS_TYPES[kind]
    if dtype.is_null():
        return ibis.null().cast(target), None
    if kind == "text" and (dtype.is_string() or dtype.is_integer()):
        return value.cast("string"), None
    if kind == "date" and dtype.is_date():
        return value, None
    if kind == "date" and dtype.is_timestamp():
        return value.date(), None
    if kind in ("integer", "number") and dtype.is_integer():
        return value.cast(target), None
    if kind == "number" and (dtype.is_floating() or dtype.is_decimal()):
        return value.cast(target), None
    if kind == "integer" and (dtype.is_floating() or dtype.is_decimal()):
        return value.cast(target), value.notnull() & (value != value.floor())
    if dtype.is_string():
        text = value.strip().nullif("")
        if kind == "integer":
            return text.cast(target), text.notnull() & ~text.re_search(INTEGER_TEXT)
        if kind == "number":
            return text.cast(target), text.notnull() & ~text.re_search(NUMBER_TEXT)
        if kind == "date":
            day = text.substr(0, 10)
            bad = ~text.re_search(DATE_TEXT)
            if backend == "duckdb":
                # PostgreSQL has no cast that gives null for 2020-02-30; DuckDB does.
                bad = bad | day.try_cast("date").isnull()
            return day.cast(target), text.notnull() & bad
    raise DatasetError(
        f"{column} is of type {dtype}, which cannot hold {KIND_WORDS[kind]}",
        path=place,
        field=f"{table}.{column}",
    )


def check_table(raw: RawCdm, mapping: CdmMapping, name: str, joined: Joined) -> Checked:
    """One aggregate query over a typed CDM table: its rows, empty required values, dates out of
    range and repeated ids (refused, with an example row), and the counts its notes need."""
    wanted, place = CDM_COLUMNS[name], raw.places[name]
    today = dt.date.today()
    problems: dict[str, Problem] = {}
    for column, spec in wanted.items():
        if spec.need == "key":
            problems[f"empty_{column}"] = Problem(column, EMPTY, f"t.{_ident(column)} IS NULL")
    for column, spec in wanted.items():
        if spec.kind == "date":
            value = f"t.{_ident(column)}"
            out = (
                f"{value} IS NOT NULL AND "
                f"({value} < {_date_sql(EARLIEST_DATE)} OR {value} > {_date_sql(today)})"
            )
            problems[f"range_{column}"] = Problem(column, OUT_OF_RANGE, out)
    if name == "person":
        problems.update(birth_problems(today))
    measures: dict[str, str] = {"rows": "COUNT(*)"}
    measures.update({key: f"COUNT(*) FILTER (WHERE {p.rows})" for key, p in problems.items()})
    if name in UNIQUE_KEYS:
        measures["distinct_ids"] = f"COUNT(DISTINCT t.{_ident(ROW_KEYS[name])})"
    if name == "person":
        measures["no_month"] = "COUNT(*) FILTER (WHERE t.month_of_birth IS NULL)"
        measures["no_day"] = "COUNT(*) FILTER (WHERE t.day_of_birth IS NULL)"
        measures["no_site"] = "COUNT(*) FILTER (WHERE t.care_site_id IS NULL)"
        measures["min_id"] = "MIN(t.person_id)"
        measures["max_id"] = "MAX(t.person_id)"
        known = ", ".join(str(concept) for concept in GENDER_CONCEPTS)
        measures["unknown_sex"] = (
            f"COUNT(*) FILTER (WHERE t.gender_concept_id IS NULL "
            f"OR t.gender_concept_id NOT IN ({known}))"
        )
    measures.update(joined.measures)
    typed = mapping.sql(name)
    selected = ",\n  ".join(f"{sql} AS {_ident(key)}" for key, sql in measures.items())
    query = f"WITH t AS ({typed})\nSELECT\n  {selected}\nFROM t\n{joined.joins}"
    columns, rows = _fetch(raw.con, raw.backend, query)
    counts = {key: _plain(value) for key, value in zip(columns, rows[0], strict=True)}
    for key, p in problems.items():
        if counts[key]:
            raise _row_error(
                raw, typed, p.rows, name, p.column, place, f"{counts[key]:,} {p.words}"
            )
    if name in UNIQUE_KEYS and counts["distinct_ids"] != counts["rows"]:
        key = _ident(ROW_KEYS[name])
        _, repeated = _fetch(
            raw.con,
            raw.backend,
            f"SELECT {key}, COUNT(*) FROM ({typed}) AS t GROUP BY {key} HAVING COUNT(*) > 1 "
            f"ORDER BY {key} LIMIT 1",
        )
        example, times = repeated[0]
        raise DatasetError(
            f"{counts['rows'] - counts['distinct_ids']:,} row(s) repeat a {ROW_KEYS[name]} of "
            f"another row, e.g. {ROW_KEYS[name]}={example} is in {int(times)} rows",
            path=place,
            field=f"{name}.{ROW_KEYS[name]}",
        )
    return Checked(mapping.tables[name], mapping.present[name], counts)


def birth_problems(today: dt.date) -> dict[str, Problem]:
    """Years, months and days of birth that make no date, or one before 1850 or after today."""
    year, month, day = "t.year_of_birth", "t.month_of_birth", "t.day_of_birth"
    year_ok = f"({year} BETWEEN {EARLIEST_DATE.year} AND {today.year})"
    month_ok = f"({month} IS NULL OR {month} BETWEEN 1 AND 12)"
    day_ok = f"({day} IS NULL OR {day} BETWEEN 1 AND 31)"
    safe_year = f"CAST(CASE WHEN {year_ok} THEN {year} ELSE 2000 END AS INTEGER)"
    safe_month = f"CAST(CASE WHEN {month_ok} THEN COALESCE({month}, 1) ELSE 1 END AS INTEGER)"
    safe_day = f"CAST(CASE WHEN {day_ok} THEN COALESCE({day}, 1) ELSE 1 END AS INTEGER)"
    # Day 31 of a 30-day month spills into the next month; the check must not build that date.
    # A date plus a whole number of days is a date in DuckDB and PostgreSQL alike. The date is
    # built only where it can matter (a birth this year; a day after the 28th), not for every row.
    born = f"(MAKE_DATE({safe_year}, {safe_month}, 1) + ({safe_day} - 1))"
    return {
        "birth_year": Problem(
            "year_of_birth",
            BIRTH,
            f"{year} IS NOT NULL AND (NOT {year_ok} OR "
            f"CASE WHEN {year} = {today.year} THEN {born} > {_date_sql(today)} ELSE FALSE END)",
        ),
        "birth_month": Problem("month_of_birth", BIRTH, f"NOT {month_ok}"),
        "birth_day": Problem(
            "day_of_birth",
            BIRTH,
            f"NOT {day_ok} OR "
            f"CASE WHEN {day} > 28 THEN EXTRACT(MONTH FROM {born}) <> {safe_month} ELSE FALSE END",
        ),
    }


def _aggregate(table: ir.Table, measures: Mapping[str, ir.Value]) -> dict[str, Any]:
    row = table.aggregate(**measures).execute().iloc[0]
    return {key: _plain(row[key]) for key in measures}


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    return value


def _row_error(
    raw: RawCdm, typed: str, rows: str, name: str, column: str, place: str, what: str
) -> DatasetError:
    """The problem with an example row: the first (by the table's id) for which `rows` holds."""
    key = ROW_KEYS.get(name)
    order = f" ORDER BY t.{_ident(key)}" if key is not None else ""
    columns, found = _fetch(
        raw.con, raw.backend, f"SELECT * FROM ({typed}) AS t WHERE {rows}{order} LIMIT 1"
    )
    shown = ", ".join(f"{c}={_shown(v)}" for c, v in zip(columns, found[0], strict=True))
    return DatasetError(f"{what}, e.g. the row {shown}", path=place, field=f"{name}.{column}")


def _unreadable_row_error(
    table: ir.Table, pred: ir.BooleanValue, name: str, column: str, place: str, what: str
) -> DatasetError:
    """The first row (by the table's id) of a table as found whose value does not read as its kind."""
    rows = table.filter(pred)
    key = ROW_KEYS.get(name)
    if key is not None and key in table.columns and table[key].type().is_integer():
        rows = rows.order_by(key)
    example = rows.limit(1).execute()
    shown = ", ".join(f"{c}={_shown(v)}" for c, v in example.iloc[0].items())
    return DatasetError(f"{what}, e.g. the row {shown}", path=place, field=f"{name}.{column}")


def _shown(value: Any) -> str:
    plain = _plain(value)
    if plain is None:
        return "(empty)"
    if isinstance(plain, dt.date):
        return plain.isoformat()
    return repr(plain) if isinstance(plain, str) else str(plain)


# -- SQL written here -------------------------------------------------------------------------
# The checks and the match report are SQL written around the compiled form of each table, in what
# DuckDB and PostgreSQL share (FILTER clauses, MAKE_DATE, VALUES lists), and run as they are.


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _date_sql(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


def _fetch(con: Any, backend: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of a query run as it is written."""
    cursor = con.raw_sql(query)
    try:
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        # DuckDB's cursor is the connection itself, which stays open; a server's cursor is closed.
        if backend != "duckdb":
            cursor.close()


# -- mapping ----------------------------------------------------------------------------------


def icd10_written(code: ir.StringValue) -> ir.StringValue:
    """An ICD-10 code in the WHO written form (`C509` → `C50.9`), as the kit's ICD-10 codes are;
    blocks (`C00-C97`) and codes already dotted are kept."""
    upper = code.upper()
    bare = upper.re_search(r"^[A-Z][0-9]{2}[0-9A-Z]+$")
    return bare.ifelse(upper.substr(0, 3) + "." + upper.substr(3), upper)


def cdm_codes(concept: ir.Table, relationship: ir.Table | None) -> CdmCodes:
    """The kit's codes of the CDM's concepts, and of every standard concept."""
    kit = concept.filter(concept.vocabulary_id.isin(list(KIT_VOCABULARIES)))
    code = kit.concept_code.strip()
    concepts = kit.select(
        concept_id=kit.concept_id,
        code=kit.vocabulary_id.isin(list(ICD10_VOCABULARIES)).ifelse(icd10_written(code), code),
        vocabulary_id=kit.vocabulary_id,
    )
    own = concepts.select(standard_concept_id=concepts.concept_id, code=concepts.code)
    if relationship is None:
        return CdmCodes(concepts, own, None)
    # Only current mappings: a 'Maps to' row with an invalid_reason was withdrawn or replaced.
    maps_to = relationship.filter(
        (relationship.relationship_id == "Maps to") & relationship.invalid_reason.isnull()
    )
    mapped = maps_to.join(concepts, maps_to.concept_id_1 == concepts.concept_id).select(
        standard_concept_id=maps_to.concept_id_2, code=concepts.code
    )
    return CdmCodes(concepts, own.union(mapped, distinct=True), maps_to)


def patients(person: ir.Table, death: ir.Table | None) -> ir.Table:
    """One row per person: sex from the gender concept, the date of birth from its parts (a missing
    month or day taken as the first), and the earliest date of death recorded."""
    sex = ibis.cases(
        *((person.gender_concept_id == concept, sex) for concept, sex in GENDER_CONCEPTS.items()),
        else_="unknown",
    )
    born = ibis.date(
        person.year_of_birth.cast("int32"),
        person.month_of_birth.fill_null(1).cast("int32"),
        person.day_of_birth.fill_null(1).cast("int32"),
    )
    columns = {"patient_id": person.person_id, "sex": sex, "date_of_birth": born}
    if death is None:
        return person.select(**columns, date_of_death=ibis.null().cast("date"))
    first = death.group_by(death.person_id).agg(date_of_death=death.death_date.min())
    joined = person.left_join(first, person.person_id == first.person_id)
    return joined.select(**columns, date_of_death=first.date_of_death)


def registrations(period: ir.Table, person: ir.Table) -> ir.Table:
    """An observation period as a registration at the person's care site (the CDM records one care
    site per person, not the practices a person moved between)."""
    sites = person.select(site_person_id=person.person_id, care_site_id=person.care_site_id)
    joined = period.left_join(sites, period.person_id == sites.site_person_id)
    return joined.select(
        patient_id=period.person_id,
        practice_id=sites.care_site_id,
        start_date=period.observation_period_start_date,
        end_date=period.observation_period_end_date,
    )


def practices(care_site: ir.Table, named: bool) -> ir.Table:
    """A care site as a practice, with its name when the CDM gives one."""
    columns = {"practice_id": care_site.care_site_id}
    if named:
        columns["name"] = care_site.care_site_name
    return care_site.select(**columns)


def cdm_notes(mapping: CdmMapping, checked: Mapping[str, Checked]) -> list[SourceNote]:
    """What the mapping changed or left out, counted (only what touched at least one row)."""
    person = checked["person"].counts
    notes = [
        SourceNote(
            "patients", "persons with no month_of_birth: born in January", person["no_month"]
        ),
        SourceNote("patients", "persons with no day_of_birth: born on the 1st", person["no_day"]),
    ]
    notes.append(
        SourceNote(
            "patients",
            "persons whose gender_concept_id is neither 8507 (male) nor 8532 (female): sex unknown",
            person["unknown_sex"],
        )
    )
    if "death" in checked:
        death = checked["death"].counts
        notes.append(
            SourceNote(
                "patients",
                "persons with more than one death record: the earliest death_date taken",
                death["several_deaths"],
            )
        )
        notes.append(
            SourceNote(
                "patients",
                "death records of a person_id not in person: not read",
                death["unknown_person"],
            )
        )
    notes.append(
        SourceNote(
            "registrations",
            "observation periods of a person with no care_site_id: practice unknown",
            checked["observation_period"].counts["no_site"],
        )
    )
    vocabularies = "SNOMED CT, ICD-10 or dm+d"
    for spec in EVENT_TABLES:
        if spec.name in checked:
            notes.append(
                SourceNote(
                    spec.kit_table,
                    f"{spec.name} rows whose concepts have no {vocabularies} code by the "
                    f"{mapping.match} route: left out",
                    checked[spec.name].counts["without_code"],
                )
            )
            notes.append(
                SourceNote(
                    spec.kit_table,
                    f"{spec.name} rows of a person_id not in person: kept, but in no cohort",
                    checked[spec.name].counts["unknown_person"],
                )
            )
    return [note for note in notes if note.rows]


def cdm_details(
    raw: RawCdm, mapping: CdmMapping, checked: Mapping[str, Checked], location: str
) -> dict[str, Any]:
    """What the record says of the CDM: where it is, its versions, the match, rows and dates."""
    tables = mapping.tables
    cdm_version = vocabulary_version = None
    if "cdm_source" in tables:
        _, found = _fetch(
            raw.con,
            raw.backend,
            f"SELECT MAX(cdm_version), MAX(vocabulary_version) FROM ({mapping.sql('cdm_source')}) "
            "AS t",
        )
        cdm_version, vocabulary_version = found[0]
    if "vocabulary" in checked:
        vocabulary_version = checked["vocabulary"].counts["none_version"] or vocabulary_version
    events = [checked[s.name].counts for s in EVENT_TABLES if s.name in checked]
    firsts = [c["first_date"] for c in events if c["first_date"] is not None]
    lasts = [c["last_date"] for c in events if c["last_date"] is not None]
    return {
        "kind": "omop",
        "location": location,
        **raw.storage,
        "cdm_version": cdm_version,
        "vocabulary_version": vocabulary_version,
        "match": mapping.match,
        "vocabularies": dict(KIT_VOCABULARIES),
        "maps_to": "concept_relationship" in tables,
        "rows": {name: int(c.counts["rows"]) for name, c in checked.items()},
        "events_from": min(firsts).isoformat() if firsts else None,
        "events_to": max(lasts).isoformat() if lasts else None,
    }


# -- how codes meet concepts --------------------------------------------------------------------


def match_report(
    source: OmopCdm | OpenedSource | Any, codes: Iterable[str], table: str = "clinical_events"
) -> MatchReport:
    """For a codeset's codes, in a CDM's `clinical_events` or `medications`: the patients found by
    the source route, the standard route, both and either, and per code its patients and events by
    each route; codes that find nothing are kept, with why (`MatchReport.unmatched`).

    `source` is an `OmopCdm` (opened here), what its `open()` gave, or an engine running on it."""
    return match_reports(source, {"codes": codes}, table)["codes"]


def match_reports(
    source: OmopCdm | OpenedSource | Any,
    codesets: Mapping[str, Iterable[str]],
    table: str = "clinical_events",
    *,
    per_code: bool = True,
) -> dict[str, MatchReport]:
    """`match_report` for several codesets at once (by id), with the events read once for all of
    them: the concepts are narrowed to the codesets' codes before the events meet them, and the
    events are read once for both routes (one query), once for their source values and not at all
    for the codes' concepts.

    With `per_code` False only each codeset's patients by route and each code's status are
    counted (what `codeset cohort` prints): the codes' own patient and event counts, the grouping
    of every event by code and patient, are left empty (NA)."""
    opened = _opened_cdm(source)
    mapping = opened.mapping
    assert mapping is not None
    wanted = {
        codeset: sorted({str(code).strip() for code in codes if str(code).strip()})
        for codeset, codes in codesets.items()
    }
    for codeset, codes in wanted.items():
        if not codes:
            raise DatasetError(f"no codes to look for in {codeset}")
    if not any(s.kit_table == table and s.name in mapping.tables for s in EVENT_TABLES):
        raise DatasetError(f"the CDM has no table of {table.replace('_', ' ')}", field=table)
    every = sorted(set().union(*wanted.values()))
    # Each (codeset, code) pair and each codeset by a number: the events are grouped on numbers.
    names = sorted(wanted)
    number_of = {codeset: n for n, codeset in enumerate(names)}
    pairs = [(codeset, code) for codeset in names for code in wanted[codeset]]
    pairs_sql = ", ".join(
        f"({number}, {number_of[codeset]}, {_text_sql(code)})"
        for number, (codeset, code) in enumerate(pairs)
    )
    codes_sql = f"""wanted AS (SELECT * FROM (VALUES {pairs_sql}) AS w(pair, codeset, code)),
events AS ({mapping.sql(f"match_events:{table}")}),
by_source AS (
  SELECT c.concept_id, w.pair, w.codeset FROM ({mapping.sql("concepts")}) AS c
  JOIN wanted AS w ON c.code = w.code
),
by_standard AS (
  SELECT s.standard_concept_id, w.pair, w.codeset FROM ({mapping.sql("standard")}) AS s
  JOIN wanted AS w ON s.code = w.code
)"""
    if per_code:
        found = _per_code_counts(mapping, codes_sql)
    else:
        found = _found_pairs(mapping, codes_sql) + _patients_by_route(
            mapping, codes_sql, len(names)
        )
    counted = {pairs[int(row[1])]: [int(n or 0) for n in row[2:]] for row in found if row[1] >= 0}
    totals = {names[int(row[0])]: [int(n or 0) for n in row[2:6]] for row in found if row[1] < 0}
    value_events = (
        dict(zip(every, _source_value_events(mapping, table, every), strict=True))
        if per_code
        else {}
    )
    concepts = _concepts_of(mapping, ", ".join(f"({_text_sql(code)})" for code in every))
    none = [0, 0, 0, 0, 0]
    reports = {}
    for codeset, codes in wanted.items():
        rows = []
        for code in codes:
            counts_of_code = counted.get((codeset, code), none)
            found_any = counts_of_code[4] > 0
            numbers: list[int | None] = list(counts_of_code) if per_code else [None] * 5
            patients_source, events_source, patients_standard, events_standard, patients = numbers
            vocabularies, reaches = concepts.get(code, ([], False))
            rows.append(
                {
                    "code": code,
                    "vocabularies": ", ".join(vocabularies),
                    "maps_to_standard": reaches,
                    "patients_source": patients_source,
                    "events_source": events_source,
                    "patients_standard": patients_standard,
                    "events_standard": events_standard,
                    "patients": patients,
                    "source_value_events": value_events.get(code),
                    "status": (
                        "found"
                        if found_any
                        else ("no events" if code in concepts else "not in CONCEPT")
                    ),
                }
            )
        frame = pd.DataFrame(rows)
        counts = [c for c in frame.columns if c.startswith(("patients", "events", "source_value"))]
        frame[counts] = frame[counts].astype("int64" if per_code else "Int64")
        by_source, by_standard, by_both, by_either = totals.get(codeset, [0, 0, 0, 0])
        reports[codeset] = MatchReport(
            table=table,
            match=mapping.match,
            patients_by_source=by_source,
            patients_by_standard=by_standard,
            patients_by_both=by_both,
            patients_by_either=by_either,
            codes=frame,
        )
    return reports


def _per_code_counts(mapping: CdmMapping, codes_sql: str) -> list[tuple[Any, ...]]:
    """Per (codeset, code) pair its patients and events by each route and its patients, and per
    codeset (pair -1) its patients by the source route, the standard route, both and either."""
    return _fetch(
        mapping.con,
        mapping.backend,
        f"""WITH {codes_sql},
found AS (
  SELECT c.pair, c.codeset, e.patient_id, 1 AS source_events, 0 AS standard_events
  FROM events AS e JOIN by_source AS c ON e.source_concept_id = c.concept_id
  UNION ALL
  SELECT s.pair, s.codeset, e.patient_id, 0 AS source_events, 1 AS standard_events
  FROM events AS e JOIN by_standard AS s ON e.concept_id = s.standard_concept_id
),
pairs AS (
  SELECT pair, codeset, patient_id, SUM(source_events) AS source_events,
    SUM(standard_events) AS standard_events
  FROM found GROUP BY pair, codeset, patient_id
),
per_patient AS (
  SELECT codeset, patient_id, MAX(CASE WHEN source_events > 0 THEN 1 ELSE 0 END) AS by_source,
    MAX(CASE WHEN standard_events > 0 THEN 1 ELSE 0 END) AS by_standard
  FROM pairs GROUP BY codeset, patient_id
)
SELECT codeset, pair, COUNT(*) FILTER (WHERE source_events > 0), SUM(source_events),
  COUNT(*) FILTER (WHERE standard_events > 0), SUM(standard_events), COUNT(*)
FROM pairs GROUP BY codeset, pair
UNION ALL
SELECT codeset, -1, COUNT(*) FILTER (WHERE by_source = 1),
  COUNT(*) FILTER (WHERE by_standard = 1),
  COUNT(*) FILTER (WHERE by_source = 1 AND by_standard = 1), COUNT(*), 0
FROM per_patient GROUP BY codeset""",
    )[1]


def _found_pairs(mapping: CdmMapping, codes_sql: str) -> list[tuple[Any, ...]]:
    """The (codeset, code) pairs that find any event by either route, in the rows
    `_per_code_counts` gives (with counts left at zero): the events are first grouped by their
    two concepts, which leaves as many rows as the data has distinct pairs of concepts."""
    return _fetch(
        mapping.con,
        mapping.backend,
        f"""WITH {codes_sql},
seen AS (SELECT source_concept_id, concept_id FROM events GROUP BY source_concept_id, concept_id)
SELECT c.codeset, c.pair, 0, 0, 0, 0, 1
FROM seen JOIN by_source AS c ON seen.source_concept_id = c.concept_id
UNION
SELECT s.codeset, s.pair, 0, 0, 0, 0, 1
FROM seen JOIN by_standard AS s ON seen.concept_id = s.standard_concept_id""",
    )[1]


# Codesets whose routes share one 64-bit mask: two bits each (source, standard), sign bit unused.
MASK_CODESETS = 31


def _patients_by_route(mapping: CdmMapping, codes_sql: str, codesets: int) -> list[tuple[Any, ...]]:
    """Per codeset (pair -1, as `_per_code_counts` gives them) its patients by the source route,
    the standard route, both and either, in one pass over the events: each event carries a bit
    mask of the codesets and routes that find it (codeset n's source route is bit 2n of mask
    n // MASK_CODESETS, its standard route the bit above), and each patient the OR of their
    events' masks, so that the events are grouped by patient alone."""
    masks = range((codesets + MASK_CODESETS - 1) // MASK_CODESETS)
    bits = [1 << (2 * (n % MASK_CODESETS)) for n in range(codesets)]

    def of_codeset(route_bit: int, m: int) -> str:
        # The mask of codeset w.codeset in mask m, by a route (1 source, 2 standard).
        cases = " ".join(
            f"WHEN {n} THEN {bits[n] * route_bit}"
            for n in range(codesets)
            if n // MASK_CODESETS == m
        )
        return f"CAST(CASE w.codeset {cases} ELSE 0 END AS BIGINT)"

    source_masks = ", ".join(f"BIT_OR({of_codeset(1, m)}) AS m{m}" for m in masks)
    standard_masks = ", ".join(f"BIT_OR({of_codeset(2, m)}) AS m{m}" for m in masks)
    marked = ", ".join(f"COALESCE(s.m{m}, 0) | COALESCE(d.m{m}, 0) AS m{m}" for m in masks)
    per_patient = ", ".join(f"BIT_OR(m{m}) AS m{m}" for m in masks)
    counts = []
    for n in range(codesets):
        mask, source, both = f"m{n // MASK_CODESETS}", bits[n], 3 * bits[n]
        counts += [
            f"COUNT(*) FILTER (WHERE ({mask} & {source}) <> 0)",
            f"COUNT(*) FILTER (WHERE ({mask} & {2 * source}) <> 0)",
            f"COUNT(*) FILTER (WHERE ({mask} & {both}) = {both})",
            f"COUNT(*) FILTER (WHERE ({mask} & {both}) <> 0)",
        ]
    _, rows = _fetch(
        mapping.con,
        mapping.backend,
        f"""WITH {codes_sql},
source_masks AS (
  SELECT w.concept_id, {source_masks}
  FROM by_source AS w GROUP BY w.concept_id
),
standard_masks AS (
  SELECT w.standard_concept_id, {standard_masks}
  FROM by_standard AS w GROUP BY w.standard_concept_id
),
marked AS (
  SELECT e.patient_id, {marked}
  FROM events AS e
  LEFT JOIN source_masks AS s ON e.source_concept_id = s.concept_id
  LEFT JOIN standard_masks AS d ON e.concept_id = d.standard_concept_id
  WHERE s.concept_id IS NOT NULL OR d.standard_concept_id IS NOT NULL
),
per_patient AS (SELECT patient_id, {per_patient} FROM marked GROUP BY patient_id)
SELECT {", ".join(counts)} FROM per_patient""",
    )
    totals = [int(n or 0) for n in rows[0]]
    return [(n, -1, *totals[4 * n : 4 * n + 4], 0) for n in range(codesets)]


def _opened_cdm(source: OmopCdm | OpenedSource | Any) -> OpenedCdm:
    opened = source.open() if isinstance(source, OmopCdm) else getattr(source, "opened", source)
    if not isinstance(opened, OpenedCdm) or opened.mapping is None:
        raise DatasetError(f"{source!r} is not an OMOP CDM: a match report needs one")
    return opened


def _concepts_of(mapping: CdmMapping, values: str) -> dict[str, tuple[list[str], bool]]:
    """Each code's vocabularies in CONCEPT, and whether any of its concepts is standard or maps to
    one (so that the standard route can find its events); `values` is the codes as a VALUES list."""
    maps_to = ""
    reaches = "st.concept_id IS NOT NULL"
    if mapping.codes.maps_to is not None:
        maps_to = (
            f"LEFT JOIN (SELECT DISTINCT concept_id_1 FROM ({mapping.sql('maps_to')}) AS m0) AS m "
            "ON c.concept_id = m.concept_id_1"
        )
        reaches += " OR m.concept_id_1 IS NOT NULL"
    _, rows = _fetch(
        mapping.con,
        mapping.backend,
        f"""SELECT c.code, c.vocabulary_id, CASE WHEN {reaches} THEN 1 ELSE 0 END
FROM ({mapping.sql("concepts")}) AS c
JOIN (SELECT * FROM (VALUES {values}) AS w(code)) AS w ON c.code = w.code
LEFT JOIN (SELECT DISTINCT concept_id FROM ({mapping.sql("concept")}) AS s0
  WHERE standard_concept = 'S') AS st ON c.concept_id = st.concept_id
{maps_to}""",
    )
    result: dict[str, tuple[list[str], bool]] = {}
    for code, vocabulary, reach in rows:
        vocabularies, before = result.get(str(code), ([], False))
        result[str(code)] = (sorted({*vocabularies, str(vocabulary)}), before or bool(reach))
    return result


def _source_value_events(mapping: CdmMapping, table: str, wanted: list[str]) -> list[int]:
    """Per code, the events whose `*_source_value` is the code as written, or ICD-10's without its
    dot: the data may hold a code CONCEPT does not, and the reader should see how often."""
    spellings = {code: {code, code.replace(".", "")} for code in wanted}
    every = ", ".join(_text_sql(text) for text in sorted(set().union(*spellings.values())))
    _, rows = _fetch(
        mapping.con,
        mapping.backend,
        f"SELECT source_value, COUNT(*) FROM ({mapping.sql(f'match_events:{table}')}) AS e "
        f"WHERE source_value IN ({every}) GROUP BY source_value",
    )
    totals = {str(text): int(n) for text, n in rows}
    return [sum(totals.get(s, 0) for s in spellings[code]) for code in wanted]
