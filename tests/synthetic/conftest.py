"""One calibrated dataset, generated once per session, and the codesets the tests recover rates with."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.terminology import open_release

RATE_PATIENTS = 30_000


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ncl"
    generate_dataset(
        SynthParams(patients=RATE_PATIENTS, practices=12, seed=2024), out, progress=False
    )
    return out


@pytest.fixture(scope="session")
def db(dataset: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for file in dataset.glob("*.parquet"):
        connection.execute(f"create view {file.stem} as select * from '{file}'")
    return connection


def descendants(*codes: str, minus: tuple[str, ...] = ()) -> set[str]:
    """Codes and their descendants in either teaching release, less `minus` and its descendants."""
    out: set[str] = set()
    for release in ("snomedct-teaching-20240401", "snomedct-teaching-20250401"):
        terminology = open_release(release)
        for code in codes:
            out |= terminology.descendants_of(code) | {code}
        for code in minus:
            out -= terminology.descendants_of(code) | {code}
    return out
