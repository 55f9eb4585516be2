"""Counts per code are refused, on every engine, for a window measured from another criterion's date:
they are taken in the window from the index date, and using that window silently would count the wrong
events."""

import pytest

from codesetlib.cohorts import CohortDefinition, DuckDBEngine, PandasReference
from codesetlib.core.errors import CohortError
from tests.spec import dataset


@pytest.mark.parametrize("engine_class", [DuckDBEngine, PandasReference.from_dataset])
def test_counts_per_code_refuse_a_window_from_another_criterion(tmp_path, engine_class):
    dataset.write_tables(tmp_path, dataset.STANDARD)
    definition = CohortDefinition.model_validate(
        {
            "id": "reviews",
            "index_date": dataset.INDEX,
            "criteria": [
                {"name": "first_diabetes", "codeset": "diabetes", "returns": "first_date"},
                {
                    "name": "hba1c_first_year",
                    "codeset": "hba1c",
                    "window": {
                        "start": "0 days",
                        "start_from": "first_diabetes",
                        "end": "12 months",
                        "end_from": "first_diabetes",
                    },
                },
            ],
        }
    )
    engine = engine_class(tmp_path)
    with pytest.raises(CohortError, match="measured from first_diabetes"):
        engine.patients_per_code(definition, dataset.CODESETS, "hba1c_first_year")
