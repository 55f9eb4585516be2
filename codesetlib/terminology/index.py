"""A release indexed once into a DuckDB file, then walked as columnar arrays.

Every coding system's loader reads its own release format into the same tables (`ReleaseTables`):
concepts, descriptions, active is-a edges and history, and where the system has them every active
relationship (attributes too), reference set members and dated history. `build_index` numbers the
concepts, refuses a cyclic hierarchy and writes the tables into one DuckDB file in the cache (atomically,
see `cache`). `IndexedTerminology` opens that file: the concepts and the is-a edges become numpy arrays
with a CSR adjacency in both directions, so `descendants_of` is a vectorised breadth-first walk; the
attribute relationships become arrays on their first use; text search, refset members and history are
asked of DuckDB, where they stay on disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from codesetlib.core.errors import TerminologyError
from codesetlib.terminology.base import (
    Concept,
    HierarchyCycle,
    HistoryEvent,
    MalformedRelease,
    Release,
    Terminology,
)
from codesetlib.terminology.cache import building

RELATIONSHIP_COLUMNS = {"source": pa.string(), "type": pa.string(), "destination": pa.string()} | {
    "grp": pa.int32()
}
REFSET_COLUMNS = {"refset": pa.string(), "member": pa.string(), "active": pa.bool_()}
STATUS_COLUMNS = {"code": pa.string(), "effective": pa.string(), "active": pa.bool_()}
ASSOCIATION_COLUMNS = {"code": pa.string(), "association": pa.string(), "target": pa.string()} | {
    "effective": pa.string(),
    "active": pa.bool_(),
}


@dataclass(frozen=True)
class ReleaseTables:
    """A release read into columns: what every loader hands to `build_index`.

    concepts: code, active (bool), term, fsn (may be null). descriptions: code, term (active terms and
    synonyms). is_a: child, parent, line (active is-a edges and where each was read). history: code,
    association, target. `is_a_path` names the file the is-a edges came from, for error messages.
    relationships: source, type, destination, grp (every active relationship, is-a included, between
    concepts of the release). refset_rows: refset, member, active (reference set members, inactive rows
    kept so that a refset whose members were all withdrawn is still known). status_history: code,
    effective, active (the dated status rows of concepts). association_history: code, association,
    target, effective, active (the dated rows of historical associations).
    `extra` holds what one coding system keeps beside these (written as table `extra_<name>`).
    """

    concepts: pa.Table
    descriptions: pa.Table
    is_a: pa.Table
    history: pa.Table
    is_a_path: Path | str | None = None
    extra: dict[str, pa.Table] = field(default_factory=dict)
    relationships: pa.Table = field(default_factory=lambda: empty_table(RELATIONSHIP_COLUMNS))
    refset_rows: pa.Table = field(default_factory=lambda: empty_table(REFSET_COLUMNS))
    status_history: pa.Table = field(default_factory=lambda: empty_table(STATUS_COLUMNS))
    association_history: pa.Table = field(default_factory=lambda: empty_table(ASSOCIATION_COLUMNS))


def quiet(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The connection without DuckDB's progress bar, which a long query draws on standard output,
    where a command prints its own lines."""
    connection.execute("SET enable_progress_bar = false")
    return connection


def empty_table(columns: dict[str, pa.DataType]) -> pa.Table:
    """A table of `columns` with no rows."""
    return pa.table({name: pa.array([], kind) for name, kind in columns.items()})


def empty_history() -> pa.Table:
    """A history table with no rows, for releases that carry no history."""
    return pa.table(
        {"code": pa.array([], pa.string()), "association": pa.array([], pa.string())}
        | {"target": pa.array([], pa.string())}
    )


def compressed_rows(size: int, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR adjacency: the targets of node i are `indices[indptr[i]:indptr[i + 1]]`."""
    order = np.argsort(source, kind="stable")
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=size), out=indptr[1:])
    return indptr, target[order].astype(np.int32)


def neighbours_of_all(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The neighbours of every node in `nodes`, end to end (with repeats), without a Python loop."""
    starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    total = int(counts.sum())
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
    return indices[offsets]


def reachable(indptr: np.ndarray, indices: np.ndarray, start: int) -> np.ndarray:
    """Every node reachable from `start` (not `start` itself), by a breadth-first walk of whole frontiers."""
    seen = np.zeros(len(indptr) - 1, dtype=bool)
    seen[start] = True
    frontier = np.array([start], dtype=np.int64)
    while frontier.size:
        step = neighbours_of_all(indptr, indices, frontier)
        frontier = np.unique(step[~seen[step]])
        seen[frontier] = True
    seen[start] = False
    return np.flatnonzero(seen)


def check_acyclic(codes: np.ndarray, child: np.ndarray, parent: np.ndarray, lines, path) -> None:
    """Refuse an is-a hierarchy with a cycle, naming the concepts in it and one row that closes it."""
    size = len(codes)
    indptr, indices = compressed_rows(size, parent, child)
    waiting = np.bincount(child, minlength=size)
    frontier = np.flatnonzero(waiting == 0)
    while frontier.size:
        below = neighbours_of_all(indptr, indices, frontier)
        np.subtract.at(waiting, below, 1)
        frontier = np.unique(below[waiting[below] == 0])
    if not waiting.any():
        return
    raise _cycle_error(codes, child, parent, waiting > 0, lines, path)


def _cycle_error(codes, child, parent, stuck, lines, path) -> HierarchyCycle:
    # Every concept left waiting has a parent also left waiting, so following them must loop.
    up = {
        int(c): (int(p), int(line))
        for c, p, line in zip(child, parent, lines, strict=True)
        if stuck[p]
    }
    node, path_taken = int(np.flatnonzero(stuck)[0]), []
    while node not in path_taken:
        path_taken.append(node)
        node = up[node][0]
    loop = path_taken[path_taken.index(node) :]
    names = " → ".join(str(codes[i]) for i in [*loop, node])
    return HierarchyCycle(
        f"is-a cycle: {names} (a concept cannot be its own ancestor)",
        path=path,
        line=up[loop[-1]][1],
    )


def build_index(tables: ReleaseTables, release: Release, target: Path) -> None:
    """Write `tables` as an index file at `target`; nothing is left at `target` if this fails.

    A release without a single concept is refused: every code looked up in it would be unknown."""
    if tables.concepts.num_rows == 0:
        raise MalformedRelease(
            f"release {release.id} holds no concepts; is this the release folder you meant?",
            path=release.path,
        )
    with building(target) as temporary:
        try:
            connection = quiet(duckdb.connect(str(temporary)))
        except duckdb.Error as exc:
            raise TerminologyError(
                f"cannot write the release index ({exc}); set CODESET_CACHE_DIR to a folder you "
                "can write",
                path=target.parent,
            ) from None
        try:
            _write_tables(connection, tables, release)
            connection.execute("CHECKPOINT")
        finally:
            connection.close()


def _write_tables(connection: duckdb.DuckDBPyConnection, tables: ReleaseTables, release) -> None:
    connection.register("source_concepts", tables.concepts)
    connection.register("source_descriptions", tables.descriptions)
    connection.register("source_is_a", tables.is_a)
    connection.register("source_history", tables.history)
    connection.execute(
        "CREATE TABLE concepts AS SELECT (row_number() OVER (ORDER BY code) - 1)::INTEGER AS idx, "
        "code, active, term, fsn FROM source_concepts ORDER BY code"
    )
    connection.execute(
        "CREATE TABLE is_a AS SELECT c.idx AS child, p.idx AS parent, e.line FROM source_is_a e "
        "JOIN concepts c ON c.code = e.child JOIN concepts p ON p.code = e.parent"
    )
    edges = connection.execute("SELECT child, parent, line FROM is_a").fetchnumpy()
    codes = connection.execute("SELECT code FROM concepts ORDER BY idx").fetchnumpy()["code"]
    check_acyclic(codes, edges["child"], edges["parent"], edges["line"], tables.is_a_path)
    connection.execute(
        "CREATE TABLE descriptions AS SELECT c.idx AS concept, lower(d.term) AS term_lower "
        "FROM source_descriptions d JOIN concepts c ON c.code = d.code"
    )
    connection.execute(
        "CREATE TABLE history AS SELECT code, association, target FROM source_history"
    )
    _write_relationships_and_refsets(connection, tables)
    for name, table in tables.extra.items():
        connection.register(f"source_extra_{name}", table)
        connection.execute(f"CREATE TABLE extra_{name} AS SELECT * FROM source_extra_{name}")
    connection.execute("CREATE TABLE release (system VARCHAR, edition VARCHAR, version VARCHAR)")
    connection.execute(
        "INSERT INTO release VALUES (?, ?, ?)", [release.system, release.edition, release.version]
    )


def _write_relationships_and_refsets(connection: duckdb.DuckDBPyConnection, tables) -> None:
    # Sorted by type, so that the rows of one attribute are one slice of the arrays read back.
    connection.register("source_relationships", tables.relationships)
    connection.execute(
        "CREATE TABLE relationships AS SELECT s.idx AS source, r.type, d.idx AS destination, "
        "r.grp FROM source_relationships r JOIN concepts s ON s.code = r.source "
        "JOIN concepts d ON d.code = r.destination ORDER BY type, source, destination"
    )
    connection.register("source_refset_rows", tables.refset_rows)
    connection.execute(
        "CREATE TABLE refsets AS SELECT DISTINCT refset FROM source_refset_rows ORDER BY refset"
    )
    connection.execute(
        "CREATE TABLE refset_members AS SELECT DISTINCT refset, member FROM source_refset_rows "
        "WHERE active ORDER BY refset, member"
    )
    connection.register("source_status_history", tables.status_history)
    connection.execute(
        "CREATE TABLE status_history AS SELECT DISTINCT code, effective, active "
        "FROM source_status_history ORDER BY code, effective"
    )
    connection.register("source_association_history", tables.association_history)
    connection.execute(
        "CREATE TABLE association_history AS SELECT DISTINCT code, association, target, effective, "
        "active FROM source_association_history ORDER BY code, effective, association, target"
    )


def _numbers(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    """A column of numbers without nulls as a numpy array over Arrow's own buffer. Arrow's `to_numpy`
    (and DuckDB's `fetchnumpy`) import pandas, which costs a process that only opens a release a
    third of a second."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(array) == 0:
        return np.array([], dtype=dtype)
    size = np.dtype(dtype).itemsize
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * size
    )


def _numpy(relation: duckdb.DuckDBPyRelation, kinds: dict[str, type]) -> dict[str, np.ndarray]:
    """The numeric columns `kinds` of a query as numpy arrays (see `_numbers`)."""
    table = relation.to_arrow_table()
    return {name: _numbers(table[name], kind) for name, kind in kinds.items()}


class CodePositions:
    """Where each code sits in the index. Codes that are all numbers (SNOMED CT and dm+d identifiers)
    are found by a binary search over their values, which costs a few milliseconds to prepare where a
    dictionary of a SNOMED CT-sized release costs a third of a second on every open; other codes use
    a dictionary."""

    def __init__(self, codes: list[str], numbers: pa.ChunkedArray) -> None:
        self._index: dict[str, int] | None = None
        # `numbers` holds each code's value where the code is exactly that number's digits.
        if numbers.null_count or not codes:
            self._index = dict(zip(codes, range(len(codes)), strict=True))
            return
        values = _numbers(numbers, np.uint64)
        self._order = np.argsort(values, kind="stable")
        self._sorted = values[self._order]

    def get(self, code: str) -> int | None:
        if self._index is not None:
            return self._index.get(code)
        if not code.isascii() or not code.isdigit() or code.startswith("0") or len(code) > 19:
            return None
        value = np.uint64(int(code))
        at = int(np.searchsorted(self._sorted, value))
        if at < len(self._sorted) and self._sorted[at] == value:
            return int(self._order[at])
        return None


class IndexedTerminology(Terminology):
    """A release opened from its index file. Subclasses find or build the index for their format."""

    def __init__(self, index_file: Path, release: Release) -> None:
        self.release = release
        self.index_file = index_file
        try:
            self._db = quiet(duckdb.connect(str(index_file), read_only=True))
        except duckdb.Error as exc:
            raise TerminologyError(
                f"the cached index of {release.id} cannot be opened ({exc}); delete it and the "
                "release is indexed again",
                path=index_file,
            ) from None
        columns = self._db.sql(
            "SELECT code, active::TINYINT AS active, CASE WHEN TRY_CAST(code AS UBIGINT)::VARCHAR "
            "= code THEN TRY_CAST(code AS UBIGINT) END AS number FROM concepts ORDER BY idx"
        ).to_arrow_table()
        codes = columns["code"].to_pylist()
        self._codes = np.array(codes, dtype=object)
        self._active = _numbers(columns["active"], np.int8).astype(bool)
        self._names: tuple[list, list] | None = None
        self._position = CodePositions(codes, columns["number"])
        edges = self._db.sql("SELECT child, parent FROM is_a").to_arrow_table()
        child, parent = _numbers(edges["child"], np.int32), _numbers(edges["parent"], np.int32)
        size = len(codes)
        self._up = compressed_rows(size, child, parent)
        self._down = compressed_rows(size, parent, child)
        self._attributes: tuple[np.ndarray, ...] | None = None
        self._types: dict[str, int] = {}

    def _at(self, code: str) -> int | None:
        return self._position.get(self.normalise(code))

    def _concept(self, i: int) -> Concept:
        if self._names is None:
            # Read on first use: opening a release to walk its hierarchy does not need the terms.
            names = self._db.cursor().sql("SELECT term, fsn FROM concepts ORDER BY idx")
            table = names.to_arrow_table()
            self._names = (table["term"].to_pylist(), table["fsn"].to_pylist())
        terms, fsns = self._names
        fsn = fsns[i]
        return Concept(
            self._codes[i], terms[i] or fsn or "", bool(self._active[i]), self.system,
            self.release.id, fsn,
        )  # fmt: skip

    def lookup(self, code: str) -> Concept | None:
        i = self._at(code)
        return None if i is None else self._concept(i)

    def _neighbours(self, code: str, adjacency: tuple[np.ndarray, ...]) -> frozenset[str]:
        i = self._at(code)
        if i is None:
            return frozenset()
        indptr, indices = adjacency
        return frozenset(self._codes[indices[indptr[i] : indptr[i + 1]]].tolist())

    def parents(self, code: str) -> frozenset[str]:
        return self._neighbours(code, self._up)

    def children(self, code: str) -> frozenset[str]:
        return self._neighbours(code, self._down)

    def _walk_from(self, code: str, adjacency: tuple[np.ndarray, ...]) -> frozenset[str]:
        start = self._at(code)
        if start is None:
            raise self.missing(code)
        return frozenset(self._codes[reachable(*adjacency, start)].tolist())

    def descendants_of(self, code: str) -> frozenset[str]:
        return self._walk_from(code, self._down)

    def ancestors_of(self, code: str) -> frozenset[str]:
        return self._walk_from(code, self._up)

    def codes(self) -> list[str]:
        return self._codes.tolist()

    def search(self, text: str, *, include_inactive: bool = False) -> list[Concept]:
        words = text.lower().split()
        if not words:
            return []
        where = " AND ".join("contains(term_lower, ?)" for _ in words)
        query = f"SELECT DISTINCT concept FROM descriptions WHERE {where}"
        relation = self._db.cursor().sql(query, params=words)
        found = np.sort(_numpy(relation, {"concept": np.int32})["concept"])
        if not include_inactive:
            found = found[self._active[found]]
        return [self._concept(int(i)) for i in found]

    def replacements(self, code: str) -> dict[str, frozenset[str]]:
        rows = (
            self._db.cursor()
            .execute(
                "SELECT association, target FROM history WHERE code = ?", [self.normalise(code)]
            )
            .fetchall()
        )
        found: dict[str, set[str]] = {}
        for association, target in rows:
            found.setdefault(association, set()).add(target)
        return {name: frozenset(targets) for name, targets in found.items()}

    def _positions(self, codes: Iterable[str]) -> np.ndarray:
        found = (self._position.get(self.normalise(code)) for code in codes)
        return np.fromiter((i for i in found if i is not None), dtype=np.int64)

    def _relationship_arrays(self) -> tuple[np.ndarray, ...]:
        # Read on first use: a session that asks no attribute question does not pay for them.
        if self._attributes is None:
            cursor = self._db.cursor()
            # Types are codes (a subset of SNOMED CT need not hold them as concepts), numbered here
            # in code order, the rows sorted by them so that each type is one slice.
            rows = _numpy(
                cursor.sql(
                    "SELECT source, destination, (dense_rank() OVER (ORDER BY type) - 1)::INTEGER "
                    "AS kind FROM relationships ORDER BY type, source, destination"
                ),
                {"source": np.int32, "destination": np.int32, "kind": np.int32},
            )
            names = cursor.sql("SELECT DISTINCT type FROM relationships ORDER BY type")
            self._types = {
                code: n for n, code in enumerate(names.to_arrow_table()["type"].to_pylist())
            }
            kind = rows["kind"]
            self._attributes = (rows["source"], kind, rows["destination"])
        return self._attributes

    def _matching(self, types: Iterable[str], ends: Iterable[str], at_source: bool) -> np.ndarray:
        source, kind, destination = self._relationship_arrays()
        numbered = (self._types.get(self.normalise(code)) for code in types)
        wanted_types = np.fromiter((n for n in numbered if n is not None), dtype=np.int64)
        wanted_ends = self._positions(ends)
        if not wanted_types.size or not wanted_ends.size or not kind.size:
            return np.array([], dtype=np.int64)
        # The rows are sorted by type, so each wanted type is one slice.
        starts = np.searchsorted(kind, wanted_types, side="left")
        stops = np.searchsorted(kind, wanted_types, side="right")
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
        matched, other = (source, destination) if at_source else (destination, source)
        keep = np.isin(matched[rows], wanted_ends, kind="table" if wanted_ends.size > 64 else None)
        return np.unique(other[rows[keep]])

    def with_attribute(self, types: Iterable[str], values: Iterable[str]) -> frozenset[str]:
        return frozenset(self._codes[self._matching(types, values, at_source=False)].tolist())

    def attribute_values(self, codes: Iterable[str], types: Iterable[str]) -> frozenset[str]:
        return frozenset(self._codes[self._matching(types, codes, at_source=True)].tolist())

    def refsets(self) -> dict[str, str]:
        ids = self._db.cursor().execute("SELECT refset FROM refsets").fetchall()
        found = {refset: self.lookup(refset) for (refset,) in ids}
        return {refset: concept.term if concept else "" for refset, concept in found.items()}

    def refset_members(self, refset_id: str) -> frozenset[str]:
        cursor = self._db.cursor()
        known = cursor.execute("SELECT 1 FROM refsets WHERE refset = ?", [refset_id]).fetchall()
        if not known:
            concept = self.lookup(refset_id)
            named = f"{refset_id} |{concept.term}|" if concept else refset_id
            raise TerminologyError(
                f"{self.release.id} has no reference set {named}: no refset file of the release "
                "holds a member of it",
                field="refset",
            )
        rows = cursor.sql(
            "SELECT member FROM refset_members WHERE refset = ?", params=[refset_id]
        ).to_arrow_table()
        return frozenset(rows["member"].to_pylist())

    def inactivated_on(self, code: str) -> str | None:
        concept = self.lookup(code)
        if concept is None or concept.active:
            return None
        rows = (
            self._db.cursor()
            .execute(
                "SELECT effective, active FROM status_history WHERE code = ? ORDER BY effective",
                [concept.code],
            )
            .fetchall()
        )
        # The start of the last run of inactive rows: a concept can be inactivated, brought back and
        # inactivated again.
        since = None
        for effective, active in rows:
            since = None if active else (since or effective)
        return since

    def history(self, code: str) -> list[HistoryEvent]:
        cursor = self._db.cursor()
        key = self.normalise(code)
        status = cursor.execute(
            "SELECT effective, active FROM status_history WHERE code = ? ORDER BY effective", [key]
        ).fetchall()
        events: list[HistoryEvent] = []
        previous = None
        for effective, active in status:
            if active != previous:
                events.append(HistoryEvent(effective, "active" if active else "inactive"))
            previous = active
        associations = cursor.execute(
            "SELECT effective, association, target, active FROM association_history WHERE code = ? "
            "ORDER BY effective, association, target",
            [key],
        ).fetchall()
        state: dict[tuple[str, str], bool] = {}
        for effective, association, target, active in associations:
            if state.get((association, target), False) != active:
                events.append(HistoryEvent(effective, association, target, withdrawn=not active))
            state[(association, target)] = active
        return sorted(events, key=lambda e: (e.date, e.change not in ("active", "inactive")))
