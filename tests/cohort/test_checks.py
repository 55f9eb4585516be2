"""Bad definitions are refused before running, naming the file, line, rule and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from codesetlib.cohorts import CodesetCodes, DuckDBEngine, load_definition
from codesetlib.core.errors import CohortError
from tests.spec import dataset
from tests.spec.rules.test_include_and_exclude import DIABETES_ADULTS, DIABETES_ADULTS_EXPECTED


def write_definition(folder: Path, data: dict) -> Path:
    path = folder / "cohort.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    return DuckDBEngine(dataset.write_tables(tmp_path / "data"))


def definition_with(tmp_path: Path, change) -> object:
    data = copy.deepcopy(DIABETES_ADULTS)
    change(data)
    return load_definition(write_definition(tmp_path, data))


def line_containing(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_yaml_definition_runs_like_the_python_one(tmp_path, engine):
    definition = load_definition(write_definition(tmp_path, DIABETES_ADULTS))
    assert dataset.records(engine.cohort(definition, dataset.CODESETS)) == DIABETES_ADULTS_EXPECTED


def test_an_unknown_codeset_is_named_with_its_line(tmp_path, engine):
    definition = definition_with(tmp_path, lambda d: d["criteria"][1].update(codeset="hba1c_typo"))
    with pytest.raises(CohortError, match="unknown codeset 'hba1c_typo'") as raised:
        engine.cohort(definition, dataset.CODESETS)
    error = raised.value
    assert error.path == str(tmp_path / "cohort.yaml")
    assert error.field == "criteria[1].codeset"
    assert error.line == line_containing(tmp_path / "cohort.yaml", "codeset: hba1c_typo")


def test_a_dmd_codeset_on_clinical_events_is_refused(tmp_path, engine):
    definition = definition_with(tmp_path, lambda d: d["criteria"][3].pop("table"))
    with pytest.raises(
        CohortError, match="'metformin' is dmd but clinical_events is coded in snomedct"
    ):
        engine.cohort(definition, dataset.CODESETS)


def test_a_bad_date_names_its_field_and_line(tmp_path):
    data = copy.deepcopy(DIABETES_ADULTS)
    data["index_date"] = "2024-02-30"
    path = write_definition(tmp_path, data)
    with pytest.raises(CohortError) as raised:
        load_definition(path)
    assert raised.value.field.startswith("index_date")
    assert raised.value.line == line_containing(path, "index_date")


def test_a_window_that_ends_before_it_starts_is_refused(tmp_path):
    data = copy.deepcopy(DIABETES_ADULTS)
    data["criteria"][0]["window"] = {"start": "1 month", "end": "-1 month"}
    with pytest.raises(CohortError, match="starts") as raised:
        load_definition(write_definition(tmp_path, data))
    assert raised.value.field.startswith("criteria[0].window")


def test_an_empty_population_is_refused(tmp_path, engine):
    definition = definition_with(tmp_path, lambda d: d["population"].update(age_max=10))
    with pytest.raises(CohortError, match="empty population") as raised:
        engine.cohort(definition, dataset.CODESETS)
    assert raised.value.field == "population.age_max"


def test_a_column_missing_from_the_data_is_refused_before_running(tmp_path):
    tables = dict(dataset.STANDARD, clinical_events=dataset.EVENTS.drop(columns="value"))
    engine = DuckDBEngine(dataset.write_tables(tmp_path / "data", tables))
    definition = definition_with(tmp_path, lambda d: None)
    with pytest.raises(CohortError, match="clinical_events lacks column\\(s\\) value") as raised:
        engine.cohort(definition, dataset.CODESETS)
    assert raised.value.field == "criteria[1].table"


def test_a_missing_table_is_refused_before_running(tmp_path):
    tables = {k: v for k, v in dataset.STANDARD.items() if k != "medications"}
    engine = DuckDBEngine(dataset.write_tables(tmp_path / "data", tables))
    definition = definition_with(tmp_path, lambda d: None)
    with pytest.raises(CohortError, match="no table medications"):
        engine.cohort(definition, dataset.CODESETS)


def test_a_rule_on_a_value_criterion_is_refused(tmp_path, engine):
    definition = definition_with(
        tmp_path, lambda d: d["rules"].append({"action": "include", "criterion": "hba1c_value"})
    )
    with pytest.raises(CohortError, match="returns last_value, not yes/no") as raised:
        engine.cohort(definition, dataset.CODESETS)
    assert raised.value.field == "rules[1].criterion"


def test_codes_reach_the_engine_as_data_and_the_sql_is_kept(tmp_path, engine):
    codesets = dict(
        dataset.CODESETS, diabetes=CodesetCodes(coding_system="snomedct", codes=["73211009"])
    )
    definition = load_definition(write_definition(tmp_path, DIABETES_ADULTS))
    sql = engine.cohort_sql(definition, codesets)
    assert "73211009" not in sql
    assert "SELECT" in sql
    assert isinstance(engine.execute(engine.plan(definition, codesets).patients()), pd.DataFrame)
