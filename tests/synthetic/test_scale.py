"""A national population is a size the generator takes; what it writes stays in bounded pieces."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic.generate import generate_dataset
from codesetlib.data.synthetic.params import make_params
from codesetlib.data.synthetic.writer import ROW_GROUP_SIZE, SCHEMAS


def test_a_national_population_of_sixty_million_is_accepted():
    assert make_params(patients=60_000_000).patients == 60_000_000
    with pytest.raises(DatasetError, match="100000000") as error:
        make_params(patients=100_000_001)
    assert error.value.field == "patients"


def test_each_chunk_of_patients_is_written_as_it_comes(tmp_path: Path):
    # Five chunks of 200 patients: every table holds row groups of one chunk's rows at most, so a
    # reader (and the writer) never needs more than a chunk in memory, and DuckDB reads the row
    # groups in parallel.
    params = make_params(patients=1000, chunk_patients=200)
    manifest = generate_dataset(params, tmp_path / "data", workers=1, progress=False)
    patients = pq.ParquetFile(tmp_path / "data" / "patients.parquet").metadata
    assert patients.num_row_groups == 5
    assert {patients.row_group(i).num_rows for i in range(5)} == {200}
    for name in SCHEMAS:
        meta = pq.ParquetFile(tmp_path / "data" / f"{name}.parquet").metadata
        assert meta.num_rows == manifest["tables"][name]["rows"]
        assert all(meta.row_group(i).num_rows <= ROW_GROUP_SIZE for i in range(meta.num_row_groups))
