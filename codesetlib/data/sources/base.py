"""The one interface every data source meets: open it, and get the kit's tables on an Ibis backend.

Cohorts, measures and the validation that needs no truth read five tables in the kit's schema
(`codesetlib/data/synthetic/SCHEMA.md`): `patients`, `registrations`, `practices`, `clinical_events`
and `medications`. A source is anything that can present those tables (as views, never copies) on
one Ibis backend connection: the kit's own Parquet dataset, an OMOP CDM, OpenSAFELY-style core
tables, or a GP extract described by a mapping. What a source leaves out on the way (rows without a
date, codes that map to nothing, persons with no sex) is counted in its notes, never dropped
silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

# The kit's tables and the columns each must have when present. `patients` and `clinical_events`
# are required of every source; the others are read when a source has them, and a definition that
# needs a missing one is refused before it runs.
KIT_TABLES: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "int64",
        "sex": "string",
        "date_of_birth": "date",
        "date_of_death": "date",
    },
    "registrations": {
        "patient_id": "int64",
        "practice_id": "int64",
        "start_date": "date",
        "end_date": "date",
    },
    "practices": {"practice_id": "int64"},
    "clinical_events": {"patient_id": "int64", "date": "date", "code": "string"},
    "medications": {"patient_id": "int64", "date": "date", "code": "string"},
}
REQUIRED_TABLES = ("patients", "clinical_events")
CODING_SYSTEMS: dict[str, tuple[str, ...]] = {
    "clinical_events": ("snomedct",),
    "medications": ("dmd",),
}


@dataclass(frozen=True)
class SourceNote:
    """Something a source did to the rows on their way in, with how many it touched."""

    table: str
    what: str
    rows: int

    def sentence(self) -> str:
        """The note as the reader sees it: `clinical_events: 2 measurement rows whose ...`, with the
        counted noun in the singular when one row was touched."""
        what = _singular(self.what) if self.rows == 1 else self.what
        return f"{self.table}: {self.rows:,} {what}"


# The plural nouns a note's `what` counts in, among its first words ("death records of ...",
# "measurement rows whose ..."), and their singulars.
SINGULARS = {
    "rows": "row",
    "patients": "patient",
    "persons": "person",
    "events": "event",
    "issues": "issue",
    "records": "record",
    "periods": "period",
    "registrations": "registration",
    "codes": "code",
}


def _singular(what: str) -> str:
    words = what.split(" ")
    for index, word in enumerate(words[:3]):
        if word in SINGULARS:
            words[index] = SINGULARS[word]
            break
    return " ".join(words)


@dataclass
class OpenedSource:
    """A source's tables in the kit's schema on one Ibis connection.

    `backend` names the connection's kind (`duckdb` or `postgres`); `tables` holds the kit tables the
    source has; `notes` the rows excluded or changed on the way in; `details` what the record says
    of the source (kind, location, what maps); `coding_systems` the systems each event table's
    codes are in, which the cohort checks hold codesets to.
    """

    con: Any
    backend: str
    tables: dict[str, Any]
    notes: list[SourceNote] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # The coding systems whose codes each event table's `code` column holds: primary-care data
    # hold SNOMED CT events and dm+d medicines; an OMOP CDM's events carry ICD-10 codes too.
    coding_systems: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(CODING_SYSTEMS))


def duckdb_settings(
    threads: int | None, memory_limit: str | None = None, temp_directory: str | None = None
) -> dict[str, Any]:
    """The settings a source's DuckDB connection is opened with; DuckDB's own default for each one
    not given (all cores, 80% of the machine's memory, `.tmp` in the working folder)."""
    given = {"threads": threads, "memory_limit": memory_limit, "temp_directory": temp_directory}
    return {name: value for name, value in given.items() if value}


class DataSource(ABC):
    """Somewhere the kit's tables can be read from. Subclasses say how to open one."""

    # `kit`, `omop`, `ehrql` or `mapped`: the prefix of the source's name on the command line.
    kind: str = ""
    # Whether the source holds a ground truth (only the kit's synthetic datasets do).
    has_truth: bool = False

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data are (a path or a database address without its password)."""

    @abstractmethod
    def open(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> OpenedSource:
        """The source's tables on a fresh connection; a `DatasetError` naming the table, column and
        an example row when the data cannot be read as the kit's schema. `threads`, `memory_limit`
        (e.g. `4GB` or `50%`) and `temp_directory` (where a query larger than memory spills) set a
        DuckDB connection (see `duckdb_settings`); a database server keeps its own."""

    def spec(self) -> str:
        """The source as it is written on the command line and in study.yaml."""
        return f"{self.kind}:{self.location}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec()}>"
