"""A throwaway PostgreSQL server for the test session, reached only through a Unix socket.

`initdb` writes a cluster into a temporary folder, `pg_ctl -w` starts it with no TCP port
(`listen_addresses=''`) and its socket in a folder of its own, and at the end of the session it is
stopped without a checkpoint and the folder removed. Authentication on the socket is `trust`, and
the cluster's superuser is named after the user running the tests, so they connect without a
password.

PostgreSQL refuses to run as root. When the tests run as root (as on CI), the cluster is written and
the server run by the `postgres` system user that Debian's `postgresql` package creates; the tests
still connect as root, the superuser's name. The programs come from Debian's package
(`/usr/lib/postgresql/VERSION/bin`, off the PATH) or, elsewhere, from the PATH; `make system-deps`
installs them, and without them the fixture fails rather than skips, as `make test` installs them
first.
"""

from __future__ import annotations

import contextlib
import io
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from codesetlib.data.sources import DataSource, OpenedSource

DEBIAN_PROGRAMS = Path("/usr/lib/postgresql")
# The socket's file is named after the port (`.s.PGSQL.5432`); nothing listens on TCP.
PORT = 5432
DATABASE = "postgres"
# A throwaway cluster need not survive a crash: no fsync, no full pages, no waiting on commits.
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "50",
}


def postgres_programs() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`: Debian's newest version, else the PATH's."""
    versions = sorted(
        DEBIAN_PROGRAMS.glob("*/bin/initdb"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.parent.name)],
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return (
        Path(found).parent
        if found and shutil.which("pg_ctl", path=str(Path(found).parent))
        else None
    )


def run_program(command: list[str], what: str, log: Path | None = None) -> None:
    """Run one of PostgreSQL's programs; a failed test naming what failed and its output when it
    does."""
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        server_log = log.read_text(errors="replace")[-3000:] if log and log.is_file() else ""
        pytest.fail(
            f"could not {what} ({' '.join(command)}, exit {done.returncode}):\n"
            f"{done.stdout}{done.stderr}{server_log}",
            pytrace=False,
        )


@dataclass
class PostgresServer:
    """A running server: its socket folder (`host`), port, user and database, the kit's name for a
    schema of it as a data source, and a way to load tables into a schema."""

    host: str
    port: int
    user: str
    dbname: str
    _con: Any = field(default=None, repr=False)
    _loaded: dict[str, str] = field(default_factory=dict, repr=False)

    def url(self, schema: str) -> str:
        """The data source a user would name for `schema` (`omop:postgresql://…`)."""
        return f"omop:postgresql://{self.user}@/{self.dbname}?host={self.host}&schema={schema}"

    def connect(self, schema: str | None = None) -> Any:
        """A new Ibis connection to the server, reading `schema` first when given."""
        import ibis

        return ibis.postgres.connect(
            host=self.host, port=self.port, user=self.user, database=self.dbname, schema=schema
        )

    def source(self, schema: str, names: list[str]) -> DataSource:
        """The tables `names` of `schema`, as a data source the cohort engines open."""
        return TablesOnPostgres(self, schema, names)

    def schema_holding(self, frames: Mapping[str, pa.Table], key: str) -> str:
        """The schema holding `frames`, loaded into a new one (`tables_N`) the first time their
        content `key` is seen in the session and read from there after."""
        if key not in self._loaded:
            schema = f"tables_{len(self._loaded)}"
            self.load_tables(frames, schema)
            self._loaded[key] = schema
        return self._loaded[key]

    def load_tables(self, frames: Mapping[str, pa.Table | pd.DataFrame], schema: str) -> None:
        """Create `schema` and a table in it for each frame, with the frame's column types, loaded
        through COPY (a DataFrame's types are read as Arrow reads them; a column with only nulls
        has none, so give such tables as Arrow tables with their types)."""
        if self._con is None:
            self._con = self.connect()
        con = self._con
        con.create_database(schema, force=True)
        for name, frame in frames.items():
            table = (
                frame
                if isinstance(frame, pa.Table)
                else pa.Table.from_pandas(frame, preserve_index=False)
            )
            untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
            if untyped:
                raise ValueError(
                    f"{name}: column(s) {', '.join(untyped)} hold only nulls and have no type; "
                    "pass the table as a pyarrow.Table with its types"
                )
            import ibis

            con.create_table(name, schema=ibis.Schema.from_pyarrow(table.schema), database=schema)
            copy_rows(con.con, f'"{schema}"."{name}"', table)


class TablesOnPostgres(DataSource):
    """Tables in the kit's schema held in one schema of the test server, each opened on a new
    connection, as a site's database would be."""

    kind = "kit"

    def __init__(self, server: PostgresServer, schema: str, names: list[str]) -> None:
        self.server = server
        self.schema = schema
        self.names = names

    @property
    def location(self) -> str:
        return self.server.url(self.schema).removeprefix("omop:")

    def open(self, threads: int | None = None) -> OpenedSource:
        con = self.server.connect()
        tables = {name: con.table(name, database=self.schema) for name in self.names}
        return OpenedSource(con=con, backend="postgres", tables=tables, details={"kind": "test"})


def copy_rows(connection: Any, target: str, table: pa.Table) -> None:
    """COPY the table's rows into `target` as CSV; every value is quoted and a null is not, which
    is how PostgreSQL's CSV tells an empty text from a null."""
    buffer = io.BytesIO()
    options = pacsv.WriteOptions(include_header=True, quoting_style="all_valid")
    pacsv.write_csv(table, buffer, write_options=options)
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    sql = f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    with connection.cursor() as cursor:
        with connection.transaction(), cursor.copy(sql) as copy:
            copy.write(buffer.getvalue())
        # Statistics now, as a site's tables have them, rather than when autovacuum gets there.
        cursor.execute(f"ANALYZE {target}")


def start_server(root: Path, programs: Path) -> PostgresServer:
    """Write a cluster under `root` and start it; as root, as the `postgres` system user."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "PostgreSQL refuses to run as root and there is no `postgres` system user to run "
                "it as; `make system-deps` installs Debian's postgresql package, which creates it",
                pytrace=False,
            )
        os.chown(root, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, socket, log = root / "data", root / "socket", root / "server.log"
    socket.mkdir()
    if prefix:
        os.chown(socket, owner.pw_uid, owner.pw_gid)
    run_program(
        [
            *prefix,
            str(programs / "initdb"),
            f"--pgdata={data}",
            f"--username={user}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
        "write a PostgreSQL cluster",
    )
    options = " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
    run_program(
        [
            *prefix,
            str(programs / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            f"--pgdata={data}",
            f"--log={log}",
            f"--options={options} -p {PORT} -k {socket}",
        ],
        "start the PostgreSQL server",
        log,
    )
    return PostgresServer(host=str(socket), port=PORT, user=user, dbname=DATABASE)


def stop_server(root: Path, programs: Path) -> None:
    """Stop the server at once (its data are thrown away) and remove its folder."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*prefix, str(programs / "pg_ctl"), "stop", "-m", "immediate", f"--pgdata={root / 'data'}"],
        capture_output=True,
        check=False,
        cwd="/",
    )
    shutil.rmtree(root, ignore_errors=True)


def postgres_programs_or_fail() -> Path:
    """The programs' folder, or a failed test saying how to install them."""
    programs = postgres_programs()
    if programs is None:
        pytest.fail(
            "PostgreSQL's programs (initdb, pg_ctl) are not installed; `make system-deps` "
            "installs them (Debian's postgresql package)",
            pytrace=False,
        )
    return programs


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A server for as long as the block runs, stopped and its folder removed after."""
    programs = postgres_programs_or_fail()
    # Under /tmp as root: the postgres user must reach the folder, which a root-only TMPDIR or
    # pytest's own temporary folder (mode 0700) would not let it; a short path also keeps the
    # socket's path within the 107 characters a Unix socket allows.
    root = Path(tempfile.mkdtemp(prefix="codeset-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    try:
        server = start_server(root, programs)
    except BaseException:
        stop_server(root, programs)
        raise
    try:
        yield server
    finally:
        if server._con is not None:
            server._con.disconnect()
        stop_server(root, programs)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session, on a Unix socket only."""
    with running_server() as server:
        yield server
