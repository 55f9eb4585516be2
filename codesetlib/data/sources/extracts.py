"""A primary-care extract's files read as the kit's tables: the one reader behind OpenSAFELY-style
core tables (`ehrql.py`, whose mapping is fixed) and GP extracts described by a mapping file
(`mapped.py`, whose mapping is read from YAML and documented in `MAPPED.md`).

An `ExtractMapping` says which file holds each kit table, which of its columns holds each kit
column (or a constant for every row), how dates are written, and which code system each events
file speaks. `open_extract` reads every CSV file as text and every Parquet file as it is typed, on
one DuckDB connection, converts each column to the kit's type with Ibis and presents the kit's
tables as views. Every row left out or changed on the way is counted in a `SourceNote` with an
example row; what cannot be read as the kit's schema (a missing file or column, a patient id that
is not a whole number, a patient on two rows of the patients file) is a `DatasetError` naming the
file, the column and an example row.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from codesetlib.core.errors import DatasetError, file_problem
from codesetlib.core.models import StrictModel
from codesetlib.core.textfiles import one_line
from codesetlib.data.sources.base import OpenedSource, SourceNote

CodeSystem = Literal["snomedct", "ctv3", "read2", "icd10", "dmd"]
# The code system a codeset must be in to be matched against each events table (the cohort
# checks refuse any other): events coded otherwise (Read v2, CTV3, ICD-10 in a GP journal) match
# no codeset there, so they are counted and left out rather than joined against nothing.
MATCHED_SYSTEMS = {"clinical_events": "snomedct", "medications": "dmd"}
Sex = Literal["female", "male", "intersex", "unknown"]
SEXES = ("female", "male", "intersex", "unknown")
NAME = r"^[a-z][a-z0-9_]*$"
FileKey = Annotated[str, StringConstraints(pattern=NAME)]
PARQUET_SUFFIXES = (".parquet", ".pq")
# A year of birth alone is taken as the middle of the year, which halves the largest error in age.
YEAR_OF_BIRTH_MONTH_DAY = (7, 1)
EARLIEST_YEAR, LATEST_YEAR = 1850, 2200
# How a reader names each strftime directive when a note says what a date should look like.
DIRECTIVE_WORDS = {
    "d": "DD",
    "-d": "D",
    "e": "D",
    "m": "MM",
    "-m": "M",
    "Y": "YYYY",
    "y": "YY",
    "b": "Mon",
    "B": "Month",
    "j": "DDD",
    "H": "hh",
    "M": "mm",
    "S": "ss",
    "f": "ffffff",
    "p": "AM/PM",
    "%": "%",
}
DIRECTIVE = re.compile(r"%(-?[A-Za-z%])")
LEFT_OUT, REFUSED = "left out", "refused"


def describe_date_format(pattern: str) -> str:
    """A strftime pattern as a reader writes it: `%d/%m/%Y` is DD/MM/YYYY."""
    return DIRECTIVE.sub(lambda m: DIRECTIVE_WORDS.get(m.group(1), m.group(0)), pattern)


def check_date_format(pattern: str) -> str:
    """`pattern` when it is a strftime pattern with a year in it; a ValueError in words otherwise."""
    if not {"Y", "y"} & set(DIRECTIVE.findall(pattern)):
        raise ValueError(
            f"a date format is a strftime pattern with a year in it, e.g. '%d/%m/%Y' for "
            f"31/01/2024 (found {pattern!r})"
        )
    return pattern


class ExtractFile(StrictModel):
    """One file of the extract: CSV (any other suffix, `.csv.gz` compressed) or Parquet."""

    path: str = Field(min_length=1)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"

    @property
    def is_parquet(self) -> bool:
        return self.path.lower().endswith(PARQUET_SUFFIXES)

    @model_validator(mode="after")
    def _csv_options_only_for_csv(self) -> ExtractFile:
        given = sorted(self.model_fields_set & {"delimiter", "encoding"})
        if self.is_parquet and given:
            raise ValueError(f"{' and '.join(given)} apply to CSV files, not to Parquet")
        return self


class Column(StrictModel):
    """Where one kit column comes from: a `column` of the file (written alone as its name) or one
    `constant` value for every row."""

    column: str | None = Field(default=None, min_length=1)
    constant: str | int | float | dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: object) -> object:
        return {"column": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> Column:
        if (self.column is None) == (self.constant is None):
            raise ValueError(
                "give either column (a column of the file) or constant (one value for every row)"
            )
        return self


class DateColumn(Column):
    """A date column; `format` (a strftime pattern) overrides the mapping's `date_format`."""

    format: str | None = None

    _format_has_a_year = field_validator("format")(
        lambda value: None if value is None else check_date_format(value)
    )


class SexColumn(Column):
    """The sex column, with what each value in the file means (`F: female`); without `values` the
    file must hold the kit's own words (female, male, intersex, unknown)."""

    values: dict[str, Sex] | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _keys_as_text(cls, value: object) -> object:
        # Sex is often coded 1/2/9: YAML reads those keys as numbers.
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value


class PatientsTable(StrictModel):
    """The file with one row per patient: id, sex and date (or year) of birth, date of death."""

    file: str
    patient_id: Column
    sex: SexColumn
    date_of_birth: DateColumn | None = None
    year_of_birth: Column | None = None
    date_of_death: DateColumn | None = None

    @model_validator(mode="after")
    def _one_birth(self) -> PatientsTable:
        if (self.date_of_birth is None) == (self.year_of_birth is None):
            raise ValueError("give either date_of_birth or year_of_birth")
        return self


class RegistrationsTable(StrictModel):
    """The file of registration spells; `practice_columns` are carried to the practices table
    (e.g. `borough: Locality`)."""

    file: str
    patient_id: Column
    practice_id: Column
    start_date: DateColumn
    end_date: DateColumn | None = None
    practice_columns: dict[Annotated[str, StringConstraints(pattern=NAME)], Column] = Field(
        default_factory=dict
    )

    @field_validator("practice_columns")
    @classmethod
    def _not_the_practice_keys(cls, value: dict[str, Column]) -> dict[str, Column]:
        clash = sorted(set(value) & {"practice_id", "practice_code"})
        if clash:
            raise ValueError(f"{', '.join(clash)} is made by the reader; name the column otherwise")
        return value


class EventsFile(StrictModel):
    """One file of coded events (or medication issues) and the code system its codes are in."""

    file: str
    code_system: CodeSystem
    patient_id: Column
    date: DateColumn
    code: Column
    value: Column | None = None


def _as_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


class ExtractTables(StrictModel):
    """Where each kit table comes from; an events table may gather several files."""

    patients: PatientsTable
    registrations: RegistrationsTable | None = None
    clinical_events: list[EventsFile] = Field(min_length=1)
    medications: list[EventsFile] = Field(default_factory=list)

    _events_as_lists = field_validator("clinical_events", "medications", mode="before")(_as_list)

    @field_validator("medications")
    @classmethod
    def _issues_have_no_value(cls, value: list[EventsFile]) -> list[EventsFile]:
        if any(issue.value is not None for issue in value):
            raise ValueError("medications have no value column; only clinical events do")
        return value


class ExtractMapping(StrictModel):
    """An extract's files and how each kit table is read from them."""

    description: str = ""
    files: dict[FileKey, ExtractFile] = Field(min_length=1)
    date_format: str = "%Y-%m-%d"
    tables: ExtractTables

    _date_format_has_a_year = field_validator("date_format")(check_date_format)

    def file_references(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every `file:` of the tables, with where in the mapping it is."""
        tables = self.tables
        yield ("tables", "patients", "file"), tables.patients.file
        if tables.registrations is not None:
            yield ("tables", "registrations", "file"), tables.registrations.file
        for name in ("clinical_events", "medications"):
            for i, events in enumerate(getattr(tables, name)):
                yield ("tables", name, i, "file"), events.file


# Reading the files ---------------------------------------------------------------------------

# The kit's columns of each table, in order, as this reader makes them.
PATIENT_COLUMNS = ["patient_id", "sex", "date_of_birth", "date_of_death"]
REGISTRATION_COLUMNS = ["patient_id", "practice_id", "start_date", "end_date"]
EVENT_COLUMNS = ["patient_id", "date", "code"]
ROW = "extract_row"


@dataclass
class _Problem:
    """Rows failing a check (an Ibis deferred boolean over the file), what a note calls them, the
    value an example shows, and what is done with them: left out, refused (a DatasetError naming
    `column`), or kept with the change `outcome` says."""

    what: str
    failed: Any
    shown: Any
    outcome: str
    column: str | None = None


@dataclass
class _Part:
    """One file read as (part of) one kit table: its columns as Ibis deferreds over the file, and
    the checks its rows pass."""

    table: str
    key: str
    where: tuple[str | int, ...]
    columns: dict[str, Any] = field(default_factory=dict)
    problems: list[_Problem] = field(default_factory=list)


@dataclass
class _Read:
    """A part read: its rows in the kit's columns, which file rows those are, and counts."""

    rows: Any
    kept: Any
    rows_read: int
    rows_kept: int
    first_date: dt.date | None = None
    last_date: dt.date | None = None


def _text(column: str) -> Any:
    """A file column as trimmed text, with empty text as no value."""
    from ibis import _

    return _[column].cast("string").strip().nullif("")


@functools.cache
def _try_strptime() -> Any:
    import ibis

    @ibis.udf.scalar.builtin(name="try_strptime")
    def try_strptime(text: str, format: str) -> dt.datetime:  # type: ignore[empty-body]
        """DuckDB's strptime, null where the text does not match."""

    return try_strptime


def _parsed_date(text: Any, pattern: str) -> Any:
    """DuckDB's `try_strptime` through Ibis: the date, or null for text that is not one in the
    pattern (Ibis's own `as_date` uses `strptime`, which stops the query at the first bad date)."""
    return _try_strptime()(text, pattern).cast("date")


def _plain(value: Any) -> Any:
    """A value fetched from DuckDB as plain Python (None for a missing one)."""
    import pandas as pd

    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def duckdb_problem(error: Exception) -> str:
    """DuckDB's message on one line: its first paragraph, less the SQL and file line it quotes."""
    lines = []
    for line in str(error).strip().splitlines():
        if not line.strip():
            break
        if not line.startswith(("Original Line", "LINE ")):
            lines.append(line.strip())
    text = "; ".join(lines) or type(error).__name__
    return one_line(re.sub(r"^[A-Za-z ]*Error: ", "", text))


def _a(words: str) -> str:
    """`a date`, `an end date`."""
    return ("an " if words[:1] in "aeiou" else "a ") + words


def _shown(value: Any) -> str:
    value = _plain(value)
    return "empty" if value is None else repr(one_line(str(value)))


class ExtractReader:
    """Reads the files of one mapping on one DuckDB connection and makes the kit's tables of them.

    Relative paths are taken from `base`; `mapping_path` names the mapping file in errors about its
    fields (none for a mapping fixed in code, whose errors name the data files alone).
    """

    def __init__(
        self, con: Any, mapping: ExtractMapping, base: Path, mapping_path: Path | None = None
    ) -> None:
        self.con = con
        self.mapping = mapping
        self.base = base
        self.mapping_path = mapping_path
        self.notes: list[SourceNote] = []
        self.tables: dict[str, Any] = {}
        self.details: dict[str, Any] = {"tables": {}, "code_systems": {}, "event_dates": {}}
        self._raw: dict[str, Any] = {}

    # Files -----------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        if key not in self.mapping.files:
            raise DatasetError(
                f"no file {key!r} among the files ({', '.join(sorted(self.mapping.files))})",
                path=self.mapping_path,
            )
        return self.base / self.mapping.files[key].path

    @contextmanager
    def reading(self, path: Path | None) -> Iterator[None]:
        """DuckDB's complaint about a file (not CSV, not UTF-8, ragged rows) as one DatasetError."""
        import duckdb

        try:
            yield
        except duckdb.Error as exc:
            raise DatasetError(
                f"cannot be read: {duckdb_problem(exc)}", path=path or self.mapping_path
            ) from None

    def run(self, expr: Any, key: str | None = None) -> Any:
        """The result of `expr` as pandas, DuckDB's errors naming the file read."""
        with self.reading(self.path(key) if key else None):
            return self.con.execute(expr)

    def raw(self, key: str) -> Any:
        """The file as an Ibis view, made once: CSV with every column as text, Parquet as typed."""
        if key in self._raw:
            return self._raw[key]
        spec, path = self.mapping.files[key], self.path(key)
        try:
            path.open("rb").close()
        except OSError as exc:
            raise DatasetError(file_problem(exc), path=path) from None
        with self.reading(path):
            if spec.is_parquet:
                table = self.con.read_parquet(path, table_name=f"extract_file_{key}")
            else:
                table = self.con.read_csv(
                    path,
                    table_name=f"extract_file_{key}",
                    all_varchar=True,
                    header=True,
                    delim=spec.delimiter,
                    encoding=spec.encoding,
                )
        self._raw[key] = table
        return table

    def column(self, key: str, spec: Column, where: tuple[str | int, ...]) -> str:
        """The file's column that `spec` names; a DatasetError naming the file, the column, the
        mapping's field and the columns the file has, when it has none of that name."""
        name = spec.column or ""
        columns = list(self.raw(key).columns)
        if name in columns:
            return name
        close = difflib.get_close_matches(name, columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        delimiter = self.mapping.files[key].delimiter
        if len(columns) == 1 and any(d in columns[0] for d in ",;\t|" if d != delimiter):
            hint += f"; is {delimiter!r} the delimiter the file uses?"
        raise DatasetError(
            f"no column {name!r}{self.named_by(where)}; the file has {', '.join(columns)}{hint}",
            path=self.path(key),
            field=name,
        )

    def named_by(self, where: tuple[str | int, ...]) -> str:
        """` (named by tables.patients.sex in mapping.yaml)`, for a mapping read from a file."""
        if self.mapping_path is None:
            return ""
        text = ""
        for part in where:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return f" (named by {text} in {self.mapping_path.name})"

    def view(self, name: str, expr: Any) -> Any:
        """`expr` as the temporary view `name`, so the SQL a cohort runs reads the kit's names."""
        with self.reading(None):
            sql = self.con.compile(expr)
            self.con.raw_sql(f'CREATE OR REPLACE TEMPORARY VIEW "{name}" AS {sql}')
        return self.con.table(name)

    # Columns ---------------------------------------------------------------------------------

    def constant(self, spec: Column, kind: str, where: tuple[str | int, ...]) -> Any:
        """A constant as an Ibis literal of the kit's type, or a DatasetError naming its field."""
        import ibis

        value = spec.constant
        try:
            if kind == "date":
                value = dt.date.fromisoformat(value) if isinstance(value, str) else value
                if not isinstance(value, dt.date):
                    raise ValueError
            elif kind == "int64":
                if isinstance(value, float | dt.date) or not re.fullmatch(r"-?\d+", str(value)):
                    raise ValueError
                value = int(str(value))
            elif kind == "float64":
                value = float(value)  # type: ignore[arg-type]
            else:
                value = str(value)
        except (TypeError, ValueError):
            words = {"date": "a date (YYYY-MM-DD)", "int64": "a whole number"}.get(kind, "a number")
            raise DatasetError(
                f"the constant {spec.constant!r} is not {words}",
                path=self.mapping_path,
                field=".".join(map(str, where)),
            ) from None
        return ibis.literal(value, type=kind)

    def whole_number(self, part: _Part, name: str, spec: Column) -> None:
        """An id: a row without one is left out; one that is not a whole number is refused."""
        from ibis import _

        where = (*part.where, name)
        if spec.constant is not None:
            part.columns[name] = self.constant(spec, "int64", where)
            return
        column = self.column(part.key, spec, where)
        kind = self.raw(part.key)[column].type()
        text = _text(column)
        if kind.is_integer():
            part.columns[name] = _[column].cast("int64")
            not_whole = _[column].isnull() & False
        elif kind.is_floating():
            part.columns[name] = _[column].cast("int64")
            not_whole = _[column] != _[column].floor()
        else:
            part.columns[name] = text.try_cast("int64")
            not_whole = text.notnull() & text.try_cast("int64").isnull()
        part.problems.append(_Problem(f"rows with no {name}", text.isnull(), text, LEFT_OUT))
        part.problems.append(
            _Problem(f"the {name} is not a whole number", not_whole, text, REFUSED, column)
        )

    def date(
        self, part: _Part, name: str, spec: DateColumn | None, label: str, required: bool
    ) -> None:
        """A date: a row whose date is given but not in the format is left out, as a wrong date is
        never taken as none (an end of registration or a death); so is one without a date the
        table needs."""
        import ibis

        where = (*part.where, name)
        if spec is None:
            part.columns[name] = ibis.null("date")
            return
        if spec.constant is not None:
            part.columns[name] = self.constant(spec, "date", where)
            return
        from ibis import _

        column = self.column(part.key, spec, where)
        kind = self.raw(part.key)[column].type()
        pattern = spec.format or self.mapping.date_format
        text = _text(column)
        if kind.is_date():
            value = _[column]
        elif kind.is_timestamp():
            value = _[column].cast("date")
        else:
            value = _parsed_date(text, pattern)
        part.columns[name] = value
        if required:
            part.problems.append(_Problem(f"rows with no {label}", text.isnull(), text, LEFT_OUT))
        part.problems.append(
            _Problem(
                f"rows with {_a(label)} that is not {describe_date_format(pattern)}",
                text.notnull() & value.isnull(),
                text,
                LEFT_OUT,
            )
        )

    def text(self, part: _Part, name: str, spec: Column, label: str, required: bool) -> None:
        """Text (a code, a practice): a row without it is left out when the table needs it."""
        if spec.constant is not None:
            part.columns[name] = self.constant(spec, "string", (*part.where, name))
            return
        column = self.column(part.key, spec, (*part.where, name))
        text = _text(column)
        part.columns[name] = text
        if required:
            part.problems.append(_Problem(f"rows with no {label}", text.isnull(), text, LEFT_OUT))

    def number(self, part: _Part, name: str, spec: Column) -> None:
        """A numeric value: text that is not a number is kept as no value, and counted."""
        where = (*part.where, name)
        if spec.constant is not None:
            part.columns[name] = self.constant(spec, "float64", where)
            return
        column = self.column(part.key, spec, where)
        text = _text(column)
        if self.raw(part.key)[column].type().is_numeric():
            from ibis import _

            part.columns[name] = _[column].cast("float64")
            return
        value = text.try_cast("float64")
        part.columns[name] = value
        part.problems.append(
            _Problem(
                f"rows with a {name} that is not a number",
                text.notnull() & value.isnull(),
                text,
                "kept without a value",
            )
        )

    def sex(self, part: _Part, spec: SexColumn) -> None:
        """Sex in the kit's words; a value the mapping does not name is taken as unknown."""
        import ibis

        where = (*part.where, "sex")
        if spec.constant is not None:
            if spec.constant not in SEXES:
                raise DatasetError(
                    f"the constant {spec.constant!r} is not one of {', '.join(SEXES)}",
                    path=self.mapping_path,
                    field=".".join(map(str, where)),
                )
            part.columns["sex"] = ibis.literal(str(spec.constant), type="string")
            return
        column = self.column(part.key, spec, where)
        values: dict[str, str] = {s: s for s in SEXES}
        if spec.values:
            values = dict(spec.values)
        text = _text(column)
        mapped = text.substitute(values, else_=ibis.null("string"))
        part.columns["sex"] = mapped.fill_null("unknown")
        part.problems.append(
            _Problem(
                f"rows with a sex that is not one of {', '.join(values)}",
                mapped.isnull(),
                text,
                "taken as unknown",
            )
        )

    def year_of_birth(self, part: _Part, spec: Column) -> None:
        """A year of birth alone, taken as the date of birth 1 July of that year."""
        import ibis

        month, day = YEAR_OF_BIRTH_MONTH_DAY
        where = (*part.where, "year_of_birth")
        if spec.constant is not None:
            year = self.constant(spec, "int64", where)
            part.columns["date_of_birth"] = ibis.date(year, month, day)
            return
        text = _text(self.column(part.key, spec, where))
        number = text.try_cast("int64")
        year = ibis.ifelse(number.between(EARLIEST_YEAR, LATEST_YEAR), number, ibis.null("int64"))
        part.columns["date_of_birth"] = ibis.date(year, month, day)
        part.problems.append(_Problem("rows with no year of birth", text.isnull(), text, LEFT_OUT))
        part.problems.append(
            _Problem(
                f"rows with a year of birth that is not a year from {EARLIEST_YEAR} to "
                f"{LATEST_YEAR}",
                text.notnull() & year.isnull(),
                text,
                LEFT_OUT,
            )
        )

    # Rows ------------------------------------------------------------------------------------

    def example(self, key: str, failed: Any, shown: Any) -> str:
        """`row 17: '31/02/2021'`: the first row of the file (counted after its header) that
        fails, and its value. DuckDB numbers the rows of a scan in the file's order."""
        import ibis

        numbered = self.raw(key).mutate(**{ROW: ibis.row_number() + 1})
        first = numbered.filter(failed).order_by(ROW).limit(1).select(ROW, shown=shown)
        found = self.run(first, key)
        row = found.iloc[0]
        return f"row {int(row[ROW])}: {_shown(row['shown'])}"

    def read(self, part: _Part, columns: list[str]) -> _Read:
        """The part's rows in the kit's `columns`, its checks counted in one pass over the file,
        an example found for each that some row fails, and a note made of each."""
        from ibis import _

        raw, path = self.raw(part.key), self.path(part.key)
        left_out: Any = None
        counted: list[tuple[_Problem, Any]] = []
        for problem in part.problems:
            failed = problem.failed.fill_null(False)
            if problem.outcome == LEFT_OUT:
                # A row is counted by the first check that leaves it out, so the notes add up.
                counted.append((problem, failed if left_out is None else failed & ~left_out))
                left_out = failed if left_out is None else left_out | failed
        kept = None if left_out is None else ~left_out
        for problem in part.problems:
            if problem.outcome != LEFT_OUT:
                failed = problem.failed.fill_null(False)
                keep_too = problem.outcome != REFUSED and kept is not None
                counted.append((problem, failed & kept if keep_too else failed))
        sums = {f"p{i}": cond.cast("int64").sum() for i, (_p, cond) in enumerate(counted)}
        if "date" in columns:
            date = part.columns["date"]
            sums["first_date"] = date.min() if kept is None else date.min(where=kept)
            sums["last_date"] = date.max() if kept is None else date.max(where=kept)
        counts = self.run(raw.aggregate(rows_read=_.count(), **sums), part.key).iloc[0]
        rows_read, dropped = int(counts["rows_read"]), 0
        for i, (problem, condition) in enumerate(counted):
            rows = int(_plain(counts[f"p{i}"]) or 0)
            if not rows:
                continue
            example = self.example(part.key, condition, problem.shown)
            if problem.outcome == REFUSED:
                raise DatasetError(
                    f"{problem.what} in {rows:,} row(s) (e.g. {example})",
                    path=path,
                    field=problem.column,
                )
            dropped += rows if problem.outcome == LEFT_OUT else 0
            self.notes.append(
                SourceNote(
                    part.table,
                    f"{problem.what} (e.g. {example}) in {path.name}, {problem.outcome}",
                    rows,
                )
            )
        selected = raw if kept is None else raw.filter(kept)
        rows = selected.select(**{c: part.columns[c] for c in columns})
        first = _plain(counts["first_date"]) if "date" in columns else None
        last = _plain(counts["last_date"]) if "date" in columns else None
        return _Read(rows, kept, rows_read, rows_read - dropped, first, last)

    def record(self, table: str, keys: list[str], reads: list[_Read]) -> None:
        """The files, rows read and rows kept of a table, for the source's details."""
        self.details["tables"][table] = {
            "files": [self.path(k).name for k in keys],
            "rows_read": sum(r.rows_read for r in reads),
            "rows": sum(r.rows_kept for r in reads),
        }

    # Tables ----------------------------------------------------------------------------------

    def patients(self) -> None:
        """One row per patient; a patient on two rows is refused, with the rows."""
        spec = self.mapping.tables.patients
        part = _Part("patients", spec.file, ("tables", "patients"))
        self.whole_number(part, "patient_id", spec.patient_id)
        self.sex(part, spec.sex)
        if spec.date_of_birth is not None:
            self.date(part, "date_of_birth", spec.date_of_birth, "date of birth", required=True)
        else:
            assert spec.year_of_birth is not None
            self.year_of_birth(part, spec.year_of_birth)
        self.date(part, "date_of_death", spec.date_of_death, "date of death", required=False)
        read = self.read(part, PATIENT_COLUMNS)
        self.refuse_duplicates(part, read, spec.patient_id)
        if spec.date_of_death is None and read.rows_kept:
            self.notes.append(
                SourceNote(
                    "patients",
                    "patients with no date of death in the extract, taken as alive",
                    read.rows_kept,
                )
            )
        if spec.year_of_birth is not None and read.rows_kept:
            self.notes.append(
                SourceNote(
                    "patients",
                    "patients with only a year of birth, taken as born on 1 July of it",
                    read.rows_kept,
                )
            )
        self.tables["patients"] = self.view("patients", read.rows)
        self.record("patients", [spec.file], [read])

    def refuse_duplicates(self, part: _Part, read: _Read, spec: Column) -> None:
        from ibis import _

        twice = (
            read.rows.group_by("patient_id")
            .aggregate(n=_.count())
            .filter(_.n > 1)
            .order_by("patient_id")
            .limit(1)
        )
        found = self.run(twice, part.key)
        if found.empty:
            return
        patient = int(found.iloc[0]["patient_id"])
        import ibis

        numbered = self.raw(part.key).mutate(**{ROW: ibis.row_number() + 1})
        same = part.columns["patient_id"] == patient
        rows = numbered.filter(same if read.kept is None else same & read.kept)
        where = self.run(rows.order_by(ROW).limit(2).select(ROW), part.key)[ROW].tolist()
        raise DatasetError(
            f"patient {patient} is on {int(found.iloc[0]['n'])} rows (rows {where[0]} and "
            f"{where[1]}, counted after the header); the patients file holds one row per patient",
            path=self.path(part.key),
            field=spec.column,
        )

    def registrations(self) -> None:
        """Registration spells, and the practices they name (numbered when their codes are not
        whole numbers, e.g. ODS codes, which the practices table keeps as practice_code)."""
        import ibis
        from ibis import _

        spec = self.mapping.tables.registrations
        if spec is None:
            return
        part = _Part("registrations", spec.file, ("tables", "registrations"))
        self.whole_number(part, "patient_id", spec.patient_id)
        self.text(part, "practice_code", spec.practice_id, "practice", required=True)
        self.date(part, "start_date", spec.start_date, "start date", required=True)
        self.date(part, "end_date", spec.end_date, "end date", required=False)
        extra = list(spec.practice_columns)
        for name, column in spec.practice_columns.items():
            self.text(part, name, column, name.replace("_", " "), required=False)
        read = self.read(part, ["patient_id", "practice_code", "start_date", "end_date", *extra])
        rows = read.rows
        code = rows.practice_code
        not_whole = self.run(
            rows.aggregate(
                n=(code.notnull() & code.try_cast("int64").isnull()).cast("int64").sum()
            ),
            part.key,
        ).iloc[0]["n"]
        if int(_plain(not_whole) or 0) == 0:
            rows = rows.mutate(practice_id=code.try_cast("int64"))
            by_practice = {c: rows[c].min() for c in extra}
            how = "the extract's own"
        else:
            codes = rows.select("practice_code").distinct()
            codes = codes.mutate(
                practice_id=(ibis.row_number().over(order_by="practice_code") + 1).cast("int64")
            )
            rows = rows.join(codes, "practice_code")
            by_practice = {"practice_code": _.practice_code.min()} | {
                c: rows[c].min() for c in extra
            }
            how = "numbered 1 to N in the order of the extract's practice codes (kept as practice_code)"
        registrations = self.view("registrations", rows.select(*REGISTRATION_COLUMNS))
        if by_practice:
            practices = rows.group_by("practice_id").aggregate(**by_practice)
        else:
            practices = rows.select("practice_id").distinct()
        practices = practices.order_by("practice_id")
        self.tables["registrations"] = registrations
        self.tables["practices"] = self.view("practices", practices)
        if spec.end_date is None and read.rows_kept:
            self.notes.append(
                SourceNote(
                    "registrations",
                    "registrations with no end date in the extract, taken as open",
                    read.rows_kept,
                )
            )
        self.record("registrations", [spec.file], [read])
        count = self.run(self.tables["practices"].count())
        self.details["tables"]["practices"] = {"rows": int(count)}
        self.details["practice_ids"] = how

    def events(self, table: str) -> None:
        """Coded events (or medication issues) from one or more files; a file in a code system no
        codeset can match is counted and left out."""
        import ibis

        files: list[EventsFile] = getattr(self.mapping.tables, table)
        reads: list[_Read] = []
        keys: list[str] = []
        with_value = any(f.value is not None for f in files)
        systems = {self.path(f.file).name: f.code_system for f in files}
        if files:
            self.details["code_systems"][table] = systems
        for i, events in enumerate(files):
            where = ("tables", table, i)
            if events.code_system != MATCHED_SYSTEMS[table]:
                rows = int(self.run(self.raw(events.file).count(), events.file))
                self.notes.append(
                    SourceNote(
                        table,
                        f"rows coded in {events.code_system}, which no codeset for {table} can "
                        f"match (they are in {MATCHED_SYSTEMS[table]}), in "
                        f"{self.path(events.file).name}, left out",
                        rows,
                    )
                )
                continue
            part = _Part(table, events.file, where)
            self.whole_number(part, "patient_id", events.patient_id)
            self.date(part, "date", events.date, "date", required=True)
            self.text(part, "code", events.code, "code", required=True)
            if events.value is not None:
                self.number(part, "value", events.value)
            elif with_value:
                part.columns["value"] = ibis.null("float64")
            reads.append(self.read(part, [*EVENT_COLUMNS, *(["value"] if with_value else [])]))
            keys.append(events.file)
        if not reads:
            if table == "clinical_events":
                raise DatasetError(
                    f"no events file is in {MATCHED_SYSTEMS['clinical_events']}, the code system "
                    "of the codesets a cohort matches against clinical_events",
                    path=self.mapping_path,
                    field=f"tables.{table}",
                )
            return
        union = reads[0].rows if len(reads) == 1 else ibis.union(*(r.rows for r in reads))
        self.tables[table] = self.view(table, union)
        self.record(table, keys, reads)
        firsts = [r.first_date for r in reads if r.first_date is not None]
        lasts = [r.last_date for r in reads if r.last_date is not None]
        if firsts:
            self.details["event_dates"][table] = {
                "first": min(firsts).isoformat(),
                "last": max(lasts).isoformat(),
            }


def open_extract(
    mapping: ExtractMapping,
    base: Path,
    settings: Mapping[str, Any],
    details: Mapping[str, Any],
    mapping_path: Path | None = None,
) -> OpenedSource:
    """The extract's kit tables as views on a new DuckDB connection, with notes and `details`
    (the source's own, then the tables' files and counts, code systems and event dates)."""
    import ibis

    con = ibis.duckdb.connect(**settings)
    reader = ExtractReader(con, mapping, base, mapping_path)
    reader.patients()
    reader.registrations()
    reader.events("clinical_events")
    reader.events("medications")
    return OpenedSource(
        con=con,
        backend="duckdb",
        tables=reader.tables,
        notes=reader.notes,
        details={**details, **reader.details},
    )
