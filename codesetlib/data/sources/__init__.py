"""Where the data come from: one interface (`DataSource`) in front of the kit's Parquet dataset, an
OMOP CDM, OpenSAFELY-style core tables and mapped GP extracts, and the parser of the names users
give them (`kit folder`, `omop:PATH`, `omop:postgresql://…`, `ehrql:PATH`, `mapped:MAPPING.yaml`)."""

from __future__ import annotations

from pathlib import Path

from codesetlib.core.errors import DatasetError
from codesetlib.data.sources.base import (
    KIT_TABLES,
    DataSource,
    OpenedSource,
    SourceNote,
)
from codesetlib.data.sources.kit import KitParquet

__all__ = ["KIT_TABLES", "DataSource", "KitParquet", "OpenedSource", "SourceNote", "data_source"]

PREFIXES = ("kit", "omop", "ehrql", "mapped")


def data_source(spec: str | Path | DataSource, root: Path | None = None) -> DataSource:
    """The source a user names: a `DataSource` as it is, a folder (the kit's dataset), or
    `KIND:WHERE`. Relative paths are taken from `root` (the study's folder) when given."""
    if isinstance(spec, DataSource):
        return spec
    text = str(spec)
    kind, sep, where = text.partition(":")
    if not sep or kind not in PREFIXES or (len(kind) == 1 and where.startswith("\\")):
        return KitParquet(_path(text, root))
    if not where:
        raise DatasetError(f"the data source {text!r} names no path after {kind}:")
    if kind == "kit":
        return KitParquet(_path(where, root))
    if kind == "omop":
        from codesetlib.data.sources.omop import omop_source

        return omop_source(where, root)
    if kind == "ehrql":
        from codesetlib.data.sources.ehrql import EhrqlTables

        return EhrqlTables(_path(where, root))
    from codesetlib.data.sources.mapped import MappedExtract

    return MappedExtract(_path(where, root))


def _path(text: str, root: Path | None) -> Path:
    path = Path(text).expanduser()
    return path if root is None or path.is_absolute() else root / path
