"""The OMOP CDM's vocabulary tables as releases, one per vocabulary (SNOMED, RxNorm, LOINC, ICD10…).

A vocabulary folder holds the tables as OHDSI Athena ships them: tab-separated `CONCEPT.csv`,
`CONCEPT_RELATIONSHIP.csv`, `CONCEPT_ANCESTOR.csv` and `VOCABULARY.csv` (unquoted, dates as YYYYMMDD;
file names in either case), or the same tables as Parquet files (`concept.parquet`…); a DuckDB CDM file
(`*.duckdb`) holding a `concept` table is read the same way. Each vocabulary in CONCEPT is a release,
`omop-<vocabulary>-<version>` (e.g. `omop-snomed-20240301`), whose codes are the vocabulary's
`concept_code`s, the codes codesets hold:

- term: `concept_name`; active: `invalid_reason` empty; search by name.
- hierarchy: CONCEPT_ANCESTOR's rows with `min_levels_of_separation = 1` between two concepts of the
  vocabulary. CONCEPT_ANCESTOR holds only standard concepts, so where it holds no such row for the
  vocabulary (ICD10 and other classifications), or is absent, the valid 'Is a' rows of
  CONCEPT_RELATIONSHIP within the vocabulary are used instead; `hierarchy_source` says which.
- replacements of an invalid concept: its valid 'Concept replaced by' (REPLACED_BY), 'Concept same_as
  to' (SAME_AS), 'Concept poss_eq to' (POSSIBLY_EQUIVALENT_TO), 'Concept was_a to' (WAS_A), 'Concept
  alt_to to' (ALTERNATIVE) and 'Maps to' (MAPS_TO) relationships to concepts of the same vocabulary;
  a target in another vocabulary has no code in this release and is not listed.

The coding system of a release is `snomedct` for SNOMED, `icd10` for ICD10 and ICD10CM, `dmd` for dm+d,
and `omop:<vocabulary>` (e.g. `omop:rxnorm`) for any other vocabulary. The `concept_id` of each code is
kept in the index, for exports such as ATLAS concept sets that name concepts by id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from codesetlib.core import atomic
from codesetlib.core.csvfiles import require_columns
from codesetlib.core.errors import CodesetError
from codesetlib.core.paths import cache_dir
from codesetlib.core.textfiles import one_line, text_lines
from codesetlib.terminology.base import MalformedRelease, MissingReleaseFile, Release
from codesetlib.terminology.cache import fingerprint, index_path
from codesetlib.terminology.identifiers import (
    dmd_id_problem,
    icd10_problem,
    normalise_icd10,
    sctid_problem,
)
from codesetlib.terminology.index import IndexedTerminology, ReleaseTables, build_index

EDITION = "omop"
RELEASE_PREFIX = "omop-"
SYSTEMS = {"SNOMED": "snomedct", "ICD10": "icd10", "ICD10CM": "icd10", "dm+d": "dmd"}
COLUMNS: dict[str, tuple[str, ...]] = {
    "concept": (
        "concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
        "standard_concept", "concept_code", "valid_start_date", "invalid_reason",
    ),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id", "invalid_reason"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation"),
    "vocabulary": ("vocabulary_id", "vocabulary_version"),
}  # fmt: skip
IS_A = "Is a"
REPLACEMENTS = {
    "Concept replaced by": "REPLACED_BY",
    "Concept same_as to": "SAME_AS",
    "Concept poss_eq to": "POSSIBLY_EQUIVALENT_TO",
    "Concept was_a to": "WAS_A",
    "Concept alt_to to": "ALTERNATIVE",
    "Maps to": "MAPS_TO",
}
HIERARCHY_FROM_ANCESTOR = "CONCEPT_ANCESTOR"
HIERARCHY_FROM_IS_A = "CONCEPT_RELATIONSHIP 'Is a'"
NO_HIERARCHY = "none"
# ICD-10-CM extends the WHO codes to seven characters, letters included (S72.001A).
_ICD10CM_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def coding_system(vocabulary_id: str) -> str:
    """The kit's coding system for an OMOP vocabulary: snomedct, icd10, dmd, or `omop:<vocabulary>`."""
    return SYSTEMS.get(vocabulary_id) or f"omop:{vocabulary_slug(vocabulary_id)}"


def vocabulary_slug(vocabulary_id: str) -> str:
    """A vocabulary id as it is written in release ids: lower case, spaces and the like as `_`."""
    return re.sub(r"[^a-z0-9+]+", "_", vocabulary_id.lower()).strip("_")


@dataclass(frozen=True)
class VocabularyRelease(Release):
    """One vocabulary of an OMOP vocabulary folder or CDM file, as a release of its coding system."""

    vocabulary: str

    @property
    def id(self) -> str:
        return f"{RELEASE_PREFIX}{vocabulary_slug(self.vocabulary)}-{self.version}"


@dataclass(frozen=True)
class OmopConcept:
    """What CONCEPT says of one code beyond its term: what ATLAS concept sets carry."""

    concept_id: int
    code: str
    name: str
    domain_id: str | None
    vocabulary_id: str
    concept_class_id: str | None
    standard_concept: str | None
    invalid_reason: str | None


# Where the tables are read from ------------------------------------------------------------------


@dataclass(frozen=True)
class VocabularySource:
    """The vocabulary tables of one folder (a CSV or Parquet file per table) or one DuckDB CDM file
    (`tables` then names each table as `schema.table` inside it)."""

    path: Path
    tables: dict[str, Path | str]

    @property
    def in_database(self) -> bool:
        return self.path.is_file()

    def where(self, table: str) -> Path:
        """The file to name in an error about `table`."""
        found = self.tables.get(table)
        return found if isinstance(found, Path) else self.path

    def files(self) -> list[Path]:
        """The files the tables are read from, for the cache fingerprint."""
        if self.in_database:
            return [self.path]
        return sorted(p for p in self.tables.values() if isinstance(p, Path))


_SUFFIXES = (".csv", ".parquet")


def _table_files(folder: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        stem, suffix = entry.stem.lower(), entry.suffix.lower()
        if stem in COLUMNS and suffix in _SUFFIXES and entry.is_file():
            files.setdefault(stem, []).append(entry)
    return files


def is_release(path: Path) -> bool:
    """True when `path` is a folder holding OMOP vocabulary tables (CONCEPT.csv and the tables beside
    it, in either case, or as Parquet) or a DuckDB file, which may hold a CDM's vocabulary tables."""
    if path.is_file():
        return path.suffix.lower() == ".duckdb"
    return path.is_dir() and bool(_table_files(path))


def locate(path: Path) -> VocabularySource:
    """The vocabulary tables at `path`, refusing a folder without CONCEPT or with one table twice."""
    if path.is_file():
        return _locate_in_database(path)
    tables: dict[str, Path | str] = {}
    for table, files in _table_files(path).items():
        if len(files) > 1:
            names = " and ".join(f.name for f in files)
            raise MalformedRelease(f"holds {names}: keep one file for the {table} table", path=path)
        tables[table] = files[0]
    if "concept" not in tables:
        raise MissingReleaseFile(
            "no CONCEPT.csv (or concept.parquet): an OMOP vocabulary folder holds the CONCEPT table "
            "beside CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR and VOCABULARY",
            path=path,
        )
    return VocabularySource(path, tables)


def _locate_in_database(path: Path) -> VocabularySource:
    with _connect(path) as db:
        rows = db.execute(
            "SELECT lower(table_name), table_schema FROM information_schema.tables "
            "WHERE table_catalog = 'omop_cdm' AND lower(table_name) IN (SELECT unnest(?)) ORDER BY 2",
            [list(COLUMNS)],
        ).fetchall()
    schemas: dict[str, list[str]] = {}
    for table, schema in rows:
        schemas.setdefault(table, []).append(schema)
    for table, found in schemas.items():
        if len(found) > 1:
            raise MalformedRelease(
                f"holds a {table} table in schemas {', '.join(found)}: the kit cannot tell which "
                "CDM's vocabulary to read",
                path=path,
            )
    if "concept" not in schemas:
        raise MissingReleaseFile("holds no concept table: not an OMOP CDM database", path=path)
    return VocabularySource(path, {t: f'"{found[0]}"."{t}"' for t, found in schemas.items()})


@contextmanager
def _connect(database: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection, with the CDM file attached read-only as `omop_cdm` when given."""
    db = duckdb.connect()
    try:
        if database is not None:
            try:
                db.execute(f"ATTACH {_literal(database)} AS omop_cdm (READ_ONLY)")
            except duckdb.Error as exc:
                raise MalformedRelease(
                    f"cannot be opened as a DuckDB database ({_duckdb_reason(str(exc))})",
                    path=database,
                ) from None
        yield db
    finally:
        db.close()


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_reason(message: str) -> str:
    """The line of a DuckDB error that says what is wrong, without its advice on reading options."""
    skip = ("Original Line", "Possible", "  ", "file =", "CSV Error on Line")
    lines = [line.strip() for line in message.splitlines()]
    useful = [line for line in lines[1:] if line and not line.startswith(skip)]
    first = lines[0].split("Error: ", 1)[-1] if lines else ""
    return one_line(useful[0] if useful and "CSV Error on Line" in first else first)


def _header(source: VocabularySource, table: str, db: duckdb.DuckDBPyConnection) -> list[str]:
    """The column names of `table` as written (line 1 of a CSV file, the schema of the others)."""
    location = source.tables[table]
    if isinstance(location, Path) and location.suffix.lower() == ".csv":
        # The reader of lines is dropped at once, which closes the file: only line 1 is read.
        first = next(text_lines(location, MalformedRelease), "")
        return first.rstrip("\r\n").split("\t") if first.strip() else []
    relation = _relation(source, table)
    try:
        return [row[0] for row in db.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    except duckdb.Error as exc:
        raise MalformedRelease(
            f"cannot be read as the {table} table ({_duckdb_reason(str(exc))})",
            path=source.where(table),
        ) from None


def _relation(source: VocabularySource, table: str) -> str:
    """A Parquet file or a table of the CDM file, as DuckDB reads it."""
    location = source.tables[table]
    if not isinstance(location, Path):
        return f"omop_cdm.{location}"
    return f"read_parquet({_literal(location)})"


# Each line of an Athena file is read whole and split at tabs here, so that a row of the wrong width
# is refused: DuckDB's reader drops an extra field when the row ends with an empty one, as Athena's
# rows do (an empty invalid_reason). Athena's files are unquoted: a name may hold a double quote.
_WHOLE_LINES = "delim='\x01', header=true, quote='', escape='', auto_detect=false"
_WIDTH_ERROR = re.compile(r"omop-row-width line=(\d+) fields=(\d+) expected=(\d+)")


def _csv_select(path: Path, header: list[str], table: str) -> str:
    width = len(header)
    at = {name.lower(): i + 1 for i, name in reversed(list(enumerate(header)))}
    columns = ", ".join(f"nullif(fields[{at[c]}], '') AS {c}" for c in COLUMNS[table])
    check = (
        f"CASE WHEN len(fields) = {width} THEN true ELSE error('omop-row-width line=' || line || "
        f"' fields=' || len(fields) || ' expected={width}') END"
    )
    lines = (
        "SELECT string_split(rtrim(row, chr(13)), chr(9)) AS fields, row_number() OVER () + 1 AS line "
        f"FROM read_csv({_literal(path)}, {_WHOLE_LINES}, columns={{'row': 'VARCHAR'}})"
    )
    return f"SELECT {columns}, line FROM ({lines}) WHERE {check}"


def select_table(source: VocabularySource, table: str, db: duckdb.DuckDBPyConnection) -> str:
    """SQL for `table`'s required columns as text (lower-case names, empty as null), and the `line`
    each row is on (the file's line for CSV, the row number for Parquet and DuckDB tables); refuses a
    missing column, and (when run) a row of the wrong width."""
    header = _header(source, table, db)
    where = source.where(table)
    location = source.tables[table]
    if isinstance(location, Path) and location.suffix.lower() == ".csv":
        require_columns([h.lower() for h in header], COLUMNS[table], where, MalformedRelease)
        return _csv_select(location, header, table)
    names = {h.lower(): h for h in header}
    missing = [c for c in COLUMNS[table] if c not in names]
    if missing:
        raise MalformedRelease(
            f"the {table} table lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(COLUMNS[table])}",
            path=where,
        )
    columns = ", ".join(
        f"nullif(CAST(\"{names[c]}\" AS VARCHAR), '') AS {c}" for c in COLUMNS[table]
    )
    return f"SELECT {columns}, row_number() OVER () AS line FROM {_relation(source, table)}"


def _run(db: duckdb.DuckDBPyConnection, sql: str, parameters: list, source, table: str) -> None:
    """Run `sql`, which reads `table`; a row that cannot be read is an error naming file and line."""
    try:
        db.execute(sql, parameters)
    except duckdb.Error as exc:
        message = str(exc)
        width = _WIDTH_ERROR.search(message)
        if width:
            line, found, expected = (int(n) for n in width.groups())
            raise MalformedRelease(
                f"expected {expected} tab-separated fields, found {found}",
                path=source.where(table),
                line=line,
            ) from None
        line_at = re.search(r"CSV Error on Line: (\d+)", message)
        raise MalformedRelease(
            f"cannot be read as the {table} table: {_duckdb_reason(message)}",
            path=source.where(table),
            line=int(line_at[1]) if line_at else None,
        ) from None


# Discovery ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VocabularySummary:
    """One vocabulary of a source: its concepts counted, VOCABULARY's version and its latest date."""

    vocabulary_id: str
    concepts: int
    vocabulary_version: str | None
    latest_start: str | None


def summarise(source: VocabularySource) -> list[VocabularySummary]:
    """Every vocabulary in CONCEPT or VOCABULARY, read once and then kept in the cache by fingerprint
    (reading CONCEPT takes seconds for a whole Athena download)."""
    kept = (
        cache_dir()
        / f"omop-vocabularies-{fingerprint(source.files(), str(source.path.resolve()))}.json"
    )
    try:
        return [VocabularySummary(*row) for row in json.loads(kept.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        pass
    found = _read_summary(source)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(kept, json.dumps([list(vars(s).values()) for s in found]))
    except (OSError, CodesetError):
        pass  # a summary that cannot be kept is read again next time: slower, never wrong
    return found


def _read_summary(source: VocabularySource) -> list[VocabularySummary]:
    database = source.path if source.in_database else None
    with _connect(database) as db:
        concepts = select_table(source, "concept", db)
        _run(
            db,
            "CREATE TEMP TABLE counted AS SELECT vocabulary_id, count(*) AS n, "
            f"max(replace(valid_start_date, '-', '')) AS latest FROM ({concepts}) "
            "WHERE vocabulary_id IS NOT NULL GROUP BY 1",
            [],
            source,
            "concept",
        )
        versions = (
            "SELECT NULL::VARCHAR AS vocabulary_id, NULL::VARCHAR AS vocabulary_version LIMIT 0"
        )
        if "vocabulary" in source.tables:
            versions = select_table(source, "vocabulary", db)
            _run(db, f"CREATE TEMP TABLE listed AS {versions}", [], source, "vocabulary")
            versions = "SELECT vocabulary_id, vocabulary_version FROM listed"
        rows = db.execute(
            f"SELECT coalesce(c.vocabulary_id, v.vocabulary_id), coalesce(c.n, 0), "
            f"any_value(v.vocabulary_version), any_value(c.latest) FROM counted c "
            f"FULL JOIN ({versions}) v USING (vocabulary_id) "
            "WHERE coalesce(c.vocabulary_id, v.vocabulary_id) IS NOT NULL GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    return [VocabularySummary(str(v), int(n), version, latest) for v, n, version, latest in rows]


def release_version(summary: VocabularySummary) -> str:
    """The version in a release id: the first date in VOCABULARY's `vocabulary_version` as YYYYMMDD
    (`2024-03-01 SNOMED CT International Edition`, `RxNorm 20240304`), else its first version number
    (`LOINC 2.76` gives `2.76`), else the vocabulary's latest `valid_start_date`."""
    text = summary.vocabulary_version or ""
    for match in _DATE.finditer(text):
        try:
            return dt.date(*(int(part) for part in match.groups())).strftime("%Y%m%d")
        except ValueError:
            continue
    rest = re.sub(re.escape(summary.vocabulary_id), " ", text, flags=re.IGNORECASE)
    number = re.search(r"\d+(?:\.\d+)*", rest)
    if number:
        return number[0]
    if summary.latest_start and re.fullmatch(r"\d{8}", summary.latest_start):
        return summary.latest_start
    return "undated"


def find_releases(path: Path) -> list[VocabularyRelease]:
    """A release for every vocabulary with concepts at `path` (a folder or a DuckDB CDM file)."""
    try:
        source = locate(path)
    except MissingReleaseFile:
        if path.is_file():
            return []  # a DuckDB file of something else: not a release at all
        raise
    summaries = summarise(source)
    with_concepts = [s for s in summaries if s.concepts]
    if not with_concepts:
        raise MalformedRelease("holds no concepts", path=source.where("concept"))
    return [_release(path, s) for s in with_concepts]


def find_release(path: Path, vocabulary_id: str) -> VocabularyRelease:
    """The release of one vocabulary at `path`, refusing a vocabulary without a concept in CONCEPT."""
    source = locate(path)
    for summary in summarise(source):
        if summary.vocabulary_id == vocabulary_id and summary.concepts:
            return _release(path, summary)
    raise MalformedRelease(
        f"vocabulary {vocabulary_id} has no concepts in the concept table",
        path=source.where("concept"),
    )


def _release(path: Path, summary: VocabularySummary) -> VocabularyRelease:
    return VocabularyRelease(
        coding_system(summary.vocabulary_id), EDITION, release_version(summary), path,
        summary.vocabulary_id,
    )  # fmt: skip


# Reading one vocabulary ---------------------------------------------------------------------------


def read_vocabulary(source: VocabularySource, vocabulary_id: str) -> ReleaseTables:
    """The index tables of one vocabulary, refusing a vocabulary without concepts, a blank or repeated
    code and a concept_id that is not a number."""
    with _connect(source.path if source.in_database else None) as db:
        _read_concepts(db, source, vocabulary_id)
        hierarchy, is_a_path = _read_hierarchy(db, source)
        _read_history(db, source)
        db.execute(
            "CREATE TEMP TABLE release_notes AS SELECT ?::VARCHAR AS vocabulary_id, "
            "?::VARCHAR AS hierarchy",
            [vocabulary_id, hierarchy],
        )
        return ReleaseTables(
            concepts=db.sql(
                "SELECT code, invalid_reason IS NULL AS active, concept_name AS term, "
                "NULL::VARCHAR AS fsn FROM vc"
            ).to_arrow_table(),
            descriptions=db.sql(
                "SELECT code, concept_name AS term FROM vc WHERE concept_name IS NOT NULL"
            ).to_arrow_table(),
            is_a=db.sql("SELECT child, parent, line FROM edges").to_arrow_table(),
            history=db.sql("SELECT code, association, target FROM history").to_arrow_table(),
            is_a_path=is_a_path,
            extra={
                "omop_concepts": db.sql(
                    "SELECT code, CAST(concept_id AS BIGINT) AS concept_id, concept_name, domain_id, "
                    "concept_class_id, standard_concept, invalid_reason FROM vc"
                ).to_arrow_table(),
                "omop_release": db.sql("SELECT * FROM release_notes").to_arrow_table(),
            },
        )


def _read_concepts(
    db: duckdb.DuckDBPyConnection, source: VocabularySource, vocabulary: str
) -> None:
    concepts = select_table(source, "concept", db)
    _run(
        db,
        "CREATE TEMP TABLE vc AS SELECT concept_id, trim(concept_code) AS code, concept_name, "
        "domain_id, concept_class_id, nullif(trim(standard_concept), '') AS standard_concept, "
        f"nullif(trim(invalid_reason), '') AS invalid_reason, line FROM ({concepts}) "
        "WHERE vocabulary_id = ?",
        [vocabulary],
        source,
        "concept",
    )
    where = source.where("concept")
    if not _count(db, "vc"):
        raise MalformedRelease(f"vocabulary {vocabulary} has no concepts", path=where)
    _refuse_first(
        db,
        "SELECT line, 'concept_code', 'blank concept_code (concept_id ' || concept_id || ')' "
        "FROM vc WHERE code IS NULL OR code = '' ORDER BY line LIMIT 1",
        source,
    )
    _refuse_first(
        db,
        "SELECT line, 'concept_id', 'concept_id ' || coalesce(concept_id, '(blank)') || ' is not a "
        "number' FROM vc WHERE TRY_CAST(concept_id AS BIGINT) IS NULL ORDER BY line LIMIT 1",
        source,
    )
    for column in ("code", "concept_id"):
        name = "concept_code" if column == "code" else column
        _refuse_first(
            db,
            f"SELECT line, '{name}', '{name} ' || {column} || ' of {vocabulary} appears again "
            f"(first on line ' || first || '); a code names one concept' FROM (SELECT {column}, "
            f"line, min(line) OVER (PARTITION BY {column}) AS first FROM vc) WHERE line > first "
            "ORDER BY line LIMIT 1",
            source,
        )


def _first_row(
    db: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None
) -> tuple | None:
    # Every row is fetched: DuckDB refuses more work on a connection with a result left unread.
    rows = db.execute(sql, parameters or []).fetchall()
    return rows[0] if rows else None


def _count(db: duckdb.DuckDBPyConnection, table: str) -> int:
    row = _first_row(db, f"SELECT count(*) FROM {table}")
    return int(row[0]) if row else 0


def _refuse_first(db: duckdb.DuckDBPyConnection, sql: str, source: VocabularySource) -> None:
    """Raise the problem that `sql` finds first, as (line, field, message), in the concept table."""
    found = _first_row(db, sql)
    if found is not None:
        line, field, message = found
        raise MalformedRelease(
            message, path=source.where("concept"), line=_shown_line(source, line), field=field
        )


def _shown_line(source: VocabularySource, line: int) -> int | None:
    # A row number of a Parquet file or a DuckDB table is said in the message, not as a file line.
    return line if source.where("concept").suffix.lower() == ".csv" else None


def _read_hierarchy(
    db: duckdb.DuckDBPyConnection, source: VocabularySource
) -> tuple[str, Path | None]:
    """The is-a edges within the vocabulary, from CONCEPT_ANCESTOR or, failing that, 'Is a'."""
    if "concept_ancestor" in source.tables:
        ancestors = select_table(source, "concept_ancestor", db)
        _run(
            db,
            "CREATE TEMP TABLE edges AS SELECT c.code AS child, p.code AS parent, min(a.line) AS line "
            f"FROM ({ancestors}) a JOIN vc c ON c.concept_id = a.descendant_concept_id "
            "JOIN vc p ON p.concept_id = a.ancestor_concept_id "
            "WHERE TRY_CAST(a.min_levels_of_separation AS INTEGER) = 1 GROUP BY 1, 2",
            [],
            source,
            "concept_ancestor",
        )
        if _count(db, "edges"):
            return HIERARCHY_FROM_ANCESTOR, source.where("concept_ancestor")
        db.execute("DROP TABLE edges")
    _read_relationships(db, source)
    db.execute(
        "CREATE TEMP TABLE edges AS SELECT c.code AS child, p.code AS parent, min(r.line) AS line "
        "FROM relationships r JOIN vc c ON c.concept_id = r.concept_id_1 "
        "JOIN vc p ON p.concept_id = r.concept_id_2 WHERE r.relationship_id = ? GROUP BY 1, 2",
        [IS_A],
    )
    if _count(db, "edges"):
        return HIERARCHY_FROM_IS_A, source.where("concept_relationship")
    return NO_HIERARCHY, None


def _read_relationships(db: duckdb.DuckDBPyConnection, source: VocabularySource) -> None:
    """The valid 'Is a' and history relationships from a concept of the vocabulary, read once."""
    if _first_row(db, "SELECT 1 FROM duckdb_tables() WHERE table_name = 'relationships'"):
        return
    if "concept_relationship" not in source.tables:
        db.execute(
            "CREATE TEMP TABLE relationships (concept_id_1 VARCHAR, concept_id_2 VARCHAR, "
            "relationship_id VARCHAR, line BIGINT)"
        )
        return
    relationships = select_table(source, "concept_relationship", db)
    _run(
        db,
        "CREATE TEMP TABLE relationships AS SELECT concept_id_1, concept_id_2, relationship_id, line "
        f"FROM ({relationships}) WHERE relationship_id IN (SELECT unnest(?)) "
        "AND nullif(trim(invalid_reason), '') IS NULL AND concept_id_1 IN (SELECT concept_id FROM vc)",
        [[IS_A, *REPLACEMENTS]],
        source,
        "concept_relationship",
    )


def _read_history(db: duckdb.DuckDBPyConnection, source: VocabularySource) -> None:
    _read_relationships(db, source)
    names = pa.table(
        {"relationship_id": list(REPLACEMENTS), "association": list(REPLACEMENTS.values())}
    )
    db.register("replacement_names", names)
    db.execute(
        "CREATE TEMP TABLE history AS SELECT DISTINCT c.code, n.association, t.code AS target "
        "FROM relationships r JOIN replacement_names n USING (relationship_id) "
        "JOIN vc c ON c.concept_id = r.concept_id_1 JOIN vc t ON t.concept_id = r.concept_id_2 "
        "WHERE c.invalid_reason IS NOT NULL AND c.concept_id <> t.concept_id ORDER BY 1, 2, 3"
    )


# The terminology ----------------------------------------------------------------------------------


class OmopVocabulary(IndexedTerminology):
    """One vocabulary of an OMOP vocabulary folder or CDM file, indexed once into the cache."""

    release: VocabularyRelease

    def __init__(self, release: VocabularyRelease) -> None:
        source = locate(release.path)
        extra = f"{release.path.resolve()}|{release.vocabulary}"
        target = index_path(release.id, source.files(), extra=extra)
        if not target.exists():
            build_index(read_vocabulary(source, release.vocabulary), release, target)
        super().__init__(target, release)
        notes = _first_row(self._db.cursor(), "SELECT hierarchy FROM extra_omop_release")
        self.hierarchy_source: str = notes[0] if notes else NO_HIERARCHY

    @property
    def vocabulary_id(self) -> str:
        return self.release.vocabulary

    def omop_concept(self, code: str) -> OmopConcept | None:
        """CONCEPT's row for `code` (its concept_id, domain, class…), or None when it is not held."""
        row = _first_row(
            self._db.cursor(),
            "SELECT concept_id, code, concept_name, domain_id, concept_class_id, standard_concept, "
            "invalid_reason FROM extra_omop_concepts WHERE code = ?",
            [self.normalise(code)],
        )
        if row is None:
            return None
        concept_id, found, name, domain, concept_class, standard, invalid = row
        return OmopConcept(
            int(concept_id), found, name or "", domain, self.vocabulary_id, concept_class, standard,
            invalid,
        )  # fmt: skip

    def normalise(self, code: str) -> str:
        if self.system == "icd10":
            return normalise_icd10(code)
        return code.strip()

    def code_problem(self, code: str) -> str | None:
        if not code.strip():
            return "a code is not blank"
        if self.vocabulary_id == "ICD10CM":
            if _ICD10CM_CODE.match(normalise_icd10(code)):
                return None
            return (
                "expected a letter, a digit and a digit or letter, then up to four more after a dot"
            )
        checks = {"snomedct": sctid_problem, "dmd": dmd_id_problem, "icd10": icd10_problem}
        check = checks.get(self.system)
        return check(code) if check is not None else None


def open_vocabulary(path: Path, vocabulary_id: str) -> OmopVocabulary:
    """The vocabulary `vocabulary_id` (as CONCEPT writes it, e.g. `SNOMED`) of the folder or DuckDB
    CDM file at `path`."""
    return OmopVocabulary(find_release(path, vocabulary_id))
