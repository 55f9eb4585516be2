"""A small generated dataset and its OMOP and ehrQL forms, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesetlib.data.formats import FormatWritten, write_ehrql, write_omop
from codesetlib.data.synthetic import SynthParams, generate_dataset

# Several chunks, so that the kit's tables hold several row groups.
PARAMS = SynthParams(patients=400, practices=6, seed=31, chunk_patients=150)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "kit"
    generate_dataset(PARAMS, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def omop(dataset: Path) -> FormatWritten:
    return write_omop(dataset, dataset.parent / "omop")


@pytest.fixture(scope="session")
def ehrql(dataset: Path) -> FormatWritten:
    return write_ehrql(dataset, dataset.parent / "ehrql")


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
