"""The test session's PostgreSQL server: reached only through its socket, loads tables as given, is
removed when stopped, and fails (never skips) when PostgreSQL is missing."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pytest

from tests import postgres
from tests.postgres import PostgresServer, running_server


def test_the_server_listens_on_its_socket_only(postgres_server: PostgresServer):
    con = postgres_server.connect()
    try:
        assert con.raw_sql("SHOW listen_addresses").fetchone() == ("",)
        assert con.raw_sql("SHOW unix_socket_directories").fetchone() == (postgres_server.host,)
        assert con.raw_sql("SELECT current_user").fetchone() == (postgres_server.user,)
    finally:
        con.disconnect()
    assert (Path(postgres_server.host) / f".s.PGSQL.{postgres_server.port}").is_socket()
    assert postgres_server.url("cdm") == (
        f"omop:postgresql://{postgres_server.user}@/postgres?host={postgres_server.host}&schema=cdm"
    )


def test_loaded_tables_keep_their_types_nulls_and_empty_texts(postgres_server: PostgresServer):
    events = pa.table(
        {
            "patient_id": pa.array([1, 2, 3], pa.int64()),
            "date": pa.array([dt.date(2024, 2, 29), None, dt.date(1900, 1, 1)], pa.date32()),
            "code": pa.array(["A1", "", None], pa.string()),
            "value": pa.array([None, 1.5, float("nan")], pa.float64()),
        }
    )
    postgres_server.load_tables({"clinical_events": events}, "loading")
    con = postgres_server.connect()
    try:
        table = con.table("clinical_events", database="loading")
        assert [str(t) for t in table.schema().types] == ["int64", "date", "string", "float64"]
        rows = table.order_by("patient_id").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    assert [row["date"] for row in rows] == [dt.date(2024, 2, 29), None, dt.date(1900, 1, 1)]
    assert [row["code"] for row in rows] == ["A1", "", None]
    assert rows[0]["value"] is None and rows[1]["value"] == 1.5 and math.isnan(rows[2]["value"])


def test_a_table_of_untyped_nulls_is_refused(postgres_server: PostgresServer):
    with pytest.raises(ValueError, match="date_of_death"):
        postgres_server.load_tables(
            {"patients": pa.table({"patient_id": [1], "date_of_death": [None]})}, "untyped"
        )


def test_a_stopped_server_leaves_nothing_behind():
    with running_server() as server:
        folder = Path(server.host).parent
        assert (folder / "data" / "PG_VERSION").is_file()
    assert not folder.exists()


def test_missing_programs_fail_the_test_naming_make_system_deps(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres, "DEBIAN_PROGRAMS", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="`make system-deps` installs them"):
        postgres.postgres_programs_or_fail()
