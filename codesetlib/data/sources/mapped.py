"""A GP extract in long format (EMIS or SystmOne style) read through a mapping file: which file
holds each of the kit's tables, which column each kit column, how its dates are written and which
code system each events file speaks. `MAPPED.md` documents every field of the mapping with an
example; `extracts.py` reads the files.
"""

from __future__ import annotations

from pathlib import Path

from codesetlib.core.errors import DatasetError
from codesetlib.core.yamlfile import field_path, line_of, read_yaml, validate_yaml
from codesetlib.data.sources.base import DataSource, OpenedSource, duckdb_settings
from codesetlib.data.sources.extracts import NAME, ExtractMapping, open_extract

HINTS = {NAME: "a name of lower-case letters, digits and underscores, e.g. journal"}


def load_mapping(path: Path) -> ExtractMapping:
    """The mapping in `path`; a DatasetError naming the file, the line and the field of the first
    problem (a misspelt field, a missing one, a table naming a file that `files` does not list)."""
    mapping = validate_yaml(path, ExtractMapping, DatasetError, HINTS)
    for where, key in mapping.file_references():
        if key not in mapping.files:
            _, tree = read_yaml(path, DatasetError)
            raise DatasetError(
                f"names no file listed under files (found {key!r}; files lists "
                f"{', '.join(sorted(mapping.files))})",
                path=path,
                line=line_of(tree, where),
                field=field_path(where),
            )
    return mapping


class MappedExtract(DataSource):
    """An extract described by a mapping YAML file; its files are found relative to the mapping."""

    kind = "mapped"

    def __init__(self, mapping_path: Path) -> None:
        self.mapping_path = Path(mapping_path)

    @property
    def location(self) -> str:
        return str(self.mapping_path)

    def open(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> OpenedSource:
        mapping = load_mapping(self.mapping_path)
        details = {
            "kind": self.kind,
            "mapping": str(self.mapping_path),
            "description": mapping.description,
        }
        return open_extract(
            mapping,
            self.mapping_path.parent,
            duckdb_settings(threads, memory_limit, temp_directory),
            details,
            mapping_path=self.mapping_path,
        )
