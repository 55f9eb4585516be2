"""The kit's own dataset: a folder of Parquet tables, checked against its manifest when it has one."""

from __future__ import annotations

from pathlib import Path

from codesetlib.core.errors import DatasetError
from codesetlib.data.sources.base import (
    KIT_TABLES,
    REQUIRED_TABLES,
    DataSource,
    OpenedSource,
    duckdb_settings,
)
from codesetlib.data.synthetic.manifest import dataset_tables
from codesetlib.data.synthetic.writer import MANIFEST


class KitParquet(DataSource):
    """A folder written by `codeset synth` (or by hand in the same schema).

    Each table is checked against the manifest before it is read; a folder without a manifest is read
    as it is. Only a generated dataset holds the truth tables validation against a truth needs.
    """

    kind = "kit"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def location(self) -> str:
        return str(self.folder)

    @property
    def has_truth(self) -> bool:  # type: ignore[override]
        return (self.folder / MANIFEST).is_file() and (
            self.folder / "truth_conditions.parquet"
        ).is_file()

    def spec(self) -> str:
        return str(self.folder)

    def open(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> OpenedSource:
        import ibis

        con = ibis.duckdb.connect(**duckdb_settings(threads, memory_limit, temp_directory))
        paths = dataset_tables(self.folder, KIT_TABLES)
        tables = {}
        for name in KIT_TABLES:
            if name not in paths:
                if name in REQUIRED_TABLES:
                    raise DatasetError(
                        f"table {name} is missing (expected {self.folder / f'{name}.parquet'})",
                        path=self.folder,
                    )
                continue
            table = con.read_parquet(paths[name], table_name=name)
            required = set(KIT_TABLES[name]) if name in REQUIRED_TABLES else set()
            missing = required - set(table.columns)
            if missing:
                raise DatasetError(
                    f"missing column(s) {', '.join(sorted(missing))}", path=paths[name], field=name
                )
            tables[name] = table
        return OpenedSource(con=con, backend="duckdb", tables=tables, details={"kind": "kit"})
