"""One truth, four routes: the same synthetic population read as the kit's Parquet, as an OMOP CDM in
a DuckDB file, as the same CDM on a PostgreSQL server and as ehrQL core tables gives the same cohort,
attrition and measure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from codesetlib.cohorts import load_definition
from codesetlib.cohorts.codes import codeset_codes
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.cohorts.measures import Intervals, Measure, compute_measure
from codesetlib.data.formats import write_ehrql, write_omop
from codesetlib.data.sources.omop import match_reports
from codesetlib.data.synthetic import SynthParams, generate_dataset

REPO = Path(__file__).resolve().parents[2]
# The cohort's columns an OMOP CDM holds: no deprivation, no borough, and the practice only as the
# person's latest care site (the CDM does not record practice changes), so not the practice either.
COLUMNS = [
    "patient_id",
    "sex",
    "age",
    "age_band",
    "ethnicity",
    "hba1c_value",
    "hba1c_date",
    "hba1c_controlled",
    "metformin",
]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory, postgres_server) -> dict[str, str]:
    root = tmp_path_factory.mktemp("four-routes")
    kit = root / "kit"
    generate_dataset(SynthParams(patients=1500, practices=5, seed=5), kit, progress=False)
    write_omop(kit, root / "cdm.duckdb")
    tables = root / "cdm"
    write_omop(kit, tables)
    write_ehrql(kit, root / "ehrql")
    frames = {path.stem: pq.read_table(path) for path in sorted(tables.glob("*.parquet"))}
    postgres_server.load_tables(frames, "cdm_routes")
    return {
        "kit": str(kit),
        "omop-duckdb": f"omop:{root / 'cdm.duckdb'}",
        "omop-postgresql": postgres_server.url("cdm_routes"),
        "ehrql": f"ehrql:{root / 'ehrql'}",
    }


def results(source: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    definition = load_definition(REPO / "cohorts" / "diabetes_control.yaml")
    definition = definition.model_copy(update={"columns": COLUMNS})
    codes = codeset_codes(REPO / "codesets", definition.codesets_used())
    engine = open_engine(source)
    cohort = engine.cohort(definition, codes).sort_values("patient_id").reset_index(drop=True)
    measure = compute_measure(
        Measure(
            id="controlled",
            definition=definition,
            numerator="hba1c_controlled",
            group_by=["sex"],
            intervals=Intervals(start="2024-04-01", end="2025-03-31"),
        ),
        codes,
        engine,
    )
    return cohort, engine.attrition(definition, codes), measure


def test_every_route_gives_the_same_cohort_attrition_and_measure(routes: dict[str, str]):
    kit_cohort, kit_attrition, kit_measure = results(routes["kit"])
    assert len(kit_cohort) > 20
    assert kit_cohort["hba1c_value"].notna().any() and kit_cohort["metformin"].any()
    for name in ("omop-duckdb", "omop-postgresql", "ehrql"):
        cohort, attrition, measure = results(routes[name])
        pd.testing.assert_frame_equal(cohort, kit_cohort, check_dtype=False, obj=name)
        pd.testing.assert_frame_equal(attrition, kit_attrition, obj=name)
        pd.testing.assert_frame_equal(measure, kit_measure, check_dtype=False, obj=name)


def test_match_reports_agree_on_duckdb_and_postgresql(routes: dict[str, str]):
    # The match report is SQL written around the mapping's compiled tables: PostgreSQL runs it too.
    definition = load_definition(REPO / "cohorts" / "diabetes_control.yaml")
    codesets = {
        name: set(codes.codes)
        for name, codes in codeset_codes(REPO / "codesets", definition.codesets_used()).items()
        if codes.coding_system != "dmd"
    }
    reports = {
        (name, per_code): match_reports(open_engine(routes[name]), codesets, per_code=per_code)
        for name in ("omop-duckdb", "omop-postgresql")
        for per_code in (True, False)
    }
    want = reports["omop-duckdb", True]
    assert want["diabetes"].patients_by_either > 20
    for key, got in reports.items():
        for codeset, report in got.items():
            totals = (report.patients_by_source, report.patients_by_standard)
            assert totals == (want[codeset].patients_by_source, want[codeset].patients_by_standard)
            assert report.patients_by_both == want[codeset].patients_by_both, key
            assert report.patients_by_either == want[codeset].patients_by_either, key
            assert report.codes["status"].tolist() == want[codeset].codes["status"].tolist()
    for codeset, report in reports["omop-postgresql", True].items():
        pd.testing.assert_frame_equal(report.codes, want[codeset].codes, obj=codeset)
