"""The OMOP CDM written from a generated dataset: the same people, spells and records, every event in
one table, a vocabulary with the teaching hierarchy, the same bytes each time, and nothing replaced
that the kit did not write."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesetlib.core.errors import DatasetError
from codesetlib.data.formats import FormatWritten, write_omop
from codesetlib.data.formats.omop import SCHEMAS, is_kit_omop_database
from codesetlib.data.formats.omop_vocabulary import CONCEPT_ID_BASE
from codesetlib.data.synthetic import read_manifest
from codesetlib.data.synthetic.writer import sha256_of
from codesetlib.terminology import open_release
from tests.formats.conftest import files_of

EVENT_TABLES = {
    "condition_occurrence": ("condition", "condition_start_date"),
    "procedure_occurrence": ("procedure", "procedure_date"),
    "measurement": ("measurement", "measurement_date"),
    "observation": ("observation", "observation_date"),
}
BCC = "254701007"  # Basal cell carcinoma of skin
CANCER = "363346000"  # Malignant neoplastic disease


def kit(dataset: Path, name: str) -> pd.DataFrame:
    return pq.read_table(dataset / f"{name}.parquet").to_pandas()


def cdm(omop: FormatWritten, name: str) -> pd.DataFrame:
    return pq.read_table(omop.out / f"{name}.parquet").to_pandas()


def test_tables_have_the_standard_columns_in_order(omop: FormatWritten):
    for name, schema in SCHEMAS.items():
        assert pq.read_schema(omop.out / f"{name}.parquet").names == schema.names
    assert cdm(omop, "person").columns[:4].tolist() == [
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
    ]


def test_every_patient_spell_and_death_is_there(dataset: Path, omop: FormatWritten):
    patients = kit(dataset, "patients")
    person = cdm(omop, "person")
    assert omop.rows["person"] == len(person) == len(patients)
    assert person["person_id"].tolist() == patients["patient_id"].tolist()
    sex = person["gender_concept_id"].map({8507: "male", 8532: "female"})
    assert sex.tolist() == patients["sex"].tolist()
    born = pd.to_datetime(patients["date_of_birth"])
    assert person["year_of_birth"].tolist() == born.dt.year.tolist()
    assert person["day_of_birth"].tolist() == born.dt.day.tolist()
    assert (person["birth_datetime"] == born).all()
    death = cdm(omop, "death")
    dead = patients.dropna(subset=["date_of_death"])
    assert death["person_id"].tolist() == dead["patient_id"].tolist()
    assert death["death_date"].tolist() == dead["date_of_death"].tolist()
    assert (death["death_type_concept_id"] == 32817).all()


def test_care_site_is_the_practice_of_the_latest_registration(dataset: Path, omop: FormatWritten):
    registrations = kit(dataset, "registrations").sort_values(["patient_id", "start_date"])
    latest = registrations.groupby("patient_id")["practice_id"].last()
    person = cdm(omop, "person").set_index("person_id")
    assert person["care_site_id"].to_dict() == latest.astype("int64").to_dict()
    care_site = cdm(omop, "care_site")
    assert care_site["care_site_name"].tolist() == [f"Practice {i}" for i in range(1, 7)]
    location = cdm(omop, "location")
    assert location["county"].tolist() == kit(dataset, "practices")["borough"].tolist()


def test_a_spell_per_registration_and_open_ones_end_on_the_last_day(
    dataset: Path, omop: FormatWritten
):
    registrations = kit(dataset, "registrations")
    periods = cdm(omop, "observation_period")
    assert len(periods) == len(registrations)
    assert periods["observation_period_id"].tolist() == list(range(1, len(periods) + 1))
    end = dt.date.fromisoformat(read_manifest(dataset)["parameters"]["end"])
    expected = registrations["end_date"].where(registrations["end_date"].notna(), end)
    written = zip(periods["person_id"], periods["observation_period_end_date"], strict=True)
    assert sorted(written) == sorted(zip(registrations["patient_id"], expected, strict=True))
    assert registrations["end_date"].isna().any()  # the test has open registrations to check
    assert (periods["period_type_concept_id"] == 32817).all()


def events_back(omop: FormatWritten, column: str) -> pd.DataFrame:
    """The kit's events read back from the four event tables by the code in `column`: the source
    value, or the concept code of the standard route's concept id."""
    concept = cdm(omop, "concept").set_index("concept_id")["concept_code"]
    frames = []
    for table, (prefix, date) in EVENT_TABLES.items():
        rows = cdm(omop, table)
        code = (
            rows[f"{prefix}_source_value"]
            if column == "source"
            else rows[f"{prefix}_concept_id"].map(concept)
        )
        value = rows["value_as_number"] if "value_as_number" in rows else float("nan")
        frames.append(
            pd.DataFrame(
                {"patient_id": rows["person_id"], "date": rows[date], "code": code, "value": value}
            )
        )
    return (
        pd.concat(frames)
        .sort_values(["patient_id", "date", "code"], kind="stable")
        .reset_index(drop=True)
    )


@pytest.mark.parametrize("route", ["source", "standard"])
def test_every_event_lands_in_one_table_and_gives_back_its_code(
    dataset: Path, omop: FormatWritten, route: str
):
    events = kit(dataset, "clinical_events")
    assert sum(omop.rows[t] for t in EVENT_TABLES) == len(events)
    back = events_back(omop, route)
    expected = events.sort_values(["patient_id", "date", "code"], kind="stable").reset_index(
        drop=True
    )
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_the_table_follows_the_concept_domain(dataset: Path, omop: FormatWritten):
    concept = cdm(omop, "concept").set_index("concept_id")["domain_id"]
    domains = {
        table: set(cdm(omop, table)[f"{prefix}_concept_id"].map(concept))
        for table, (prefix, _) in EVENT_TABLES.items()
    }
    assert domains["condition_occurrence"] == {"Condition"}
    assert domains["procedure_occurrence"] == {"Procedure"}
    assert domains["measurement"] == {"Measurement"}
    assert domains["observation"] == {"Observation"}
    measurement = cdm(omop, "measurement")
    valued = measurement.dropna(subset=["value_as_number"])
    assert len(valued) == kit(dataset, "clinical_events")["value"].notna().sum() > 0
    assert set(valued["measurement_source_value"]) == {"999791000000106"}
    assert set(valued["unit_source_value"]) == {"mmol/mol"}
    assert measurement.loc[measurement["value_as_number"].isna(), "unit_source_value"].isna().all()
    for table, (prefix, _) in EVENT_TABLES.items():
        rows = cdm(omop, table)
        assert (rows[f"{prefix}_type_concept_id"] == 32817).all()
        assert rows.iloc[:, 0].tolist() == list(range(1, len(rows) + 1))


def test_every_medication_is_a_drug_exposure(dataset: Path, omop: FormatWritten):
    medications = kit(dataset, "medications")
    drugs = cdm(omop, "drug_exposure")
    assert len(drugs) == len(medications) == omop.rows["drug_exposure"]
    assert drugs["drug_source_value"].tolist() == medications["code"].tolist()
    assert drugs["person_id"].tolist() == medications["patient_id"].tolist()
    assert (drugs["drug_exposure_end_date"] == drugs["drug_exposure_start_date"]).all()
    concept = cdm(omop, "concept").set_index("concept_id")
    assert set(concept.loc[drugs["drug_concept_id"], "vocabulary_id"]) == {"dm+d"}
    assert (drugs["drug_concept_id"] == drugs["drug_source_concept_id"]).all()


def test_concept_ids_are_numbered_apart_from_codes(omop: FormatWritten):
    concept = cdm(omop, "concept")
    assert concept["concept_id"].is_unique
    assert concept["concept_id"].min() == CONCEPT_ID_BASE
    assert (concept["concept_id"] != pd.to_numeric(concept["concept_code"])).all()
    assert concept.groupby("vocabulary_id").size().to_dict() == {
        "SNOMED": len(open_release("snomedct-teaching-20250401").codes()),
        "dm+d": len(open_release("dmd-teaching-20250401").codes()),
    }
    snomed = concept[concept["vocabulary_id"] == "SNOMED"]
    assert (snomed["standard_concept"].isna() == snomed["invalid_reason"].notna()).all()


def test_the_ancestors_are_the_teaching_hierarchy(omop: FormatWritten):
    concept = cdm(omop, "concept")
    id_of = dict(zip(concept["concept_code"], concept["concept_id"], strict=True))
    code_of = {v: k for k, v in id_of.items()}
    ancestor = cdm(omop, "concept_ancestor")
    below = ancestor[ancestor["ancestor_concept_id"] == id_of[CANCER]]
    release = open_release("snomedct-teaching-20250401")
    assert set(below["descendant_concept_id"].map(code_of)) == release.descendants_of(CANCER) | {
        CANCER
    }
    bcc = ancestor[
        (ancestor["ancestor_concept_id"] == id_of[CANCER])
        & (ancestor["descendant_concept_id"] == id_of[BCC])
    ]
    # BCC is under 'Malignant neoplasm of skin', which is under 'Malignant neoplastic disease'
    assert bcc[["min_levels_of_separation", "max_levels_of_separation"]].values.tolist() == [[2, 2]]
    assert (ancestor["min_levels_of_separation"] <= ancestor["max_levels_of_separation"]).all()
    selves = ancestor[ancestor["ancestor_concept_id"] == ancestor["descendant_concept_id"]]
    assert (selves["max_levels_of_separation"] == 0).all()
    relationship = cdm(omop, "concept_relationship")
    is_a = relationship[relationship["relationship_id"] == "Is a"]
    parents = set(is_a[is_a["concept_id_1"] == id_of[BCC]]["concept_id_2"].map(code_of))
    assert parents == release.parents(BCC)
    subsumes = relationship[relationship["relationship_id"] == "Subsumes"]
    assert len(subsumes) == len(is_a)


def test_an_inactivated_concept_maps_to_its_one_replacement(omop: FormatWritten):
    concept = cdm(omop, "concept").set_index("concept_code")
    relationship = cdm(omop, "concept_relationship")

    def targets(code: str, name: str) -> set[str]:
        rows = relationship[
            (relationship["concept_id_1"] == concept.loc[code, "concept_id"])
            & (relationship["relationship_id"] == name)
        ]
        by_id = concept.reset_index().set_index("concept_id")["concept_code"]
        return set(rows["concept_id_2"].map(by_id))

    carcinoma_of_breast = "254838004"  # SAME AS 254837009 in 20250401
    assert pd.isna(concept.loc[carcinoma_of_breast, "standard_concept"])
    assert concept.loc[carcinoma_of_breast, "invalid_reason"] == "U"
    assert concept.loc[carcinoma_of_breast, "valid_end_date"] == dt.date(2025, 3, 31)
    assert targets(carcinoma_of_breast, "Maps to") == {"254837009"}
    assert targets(carcinoma_of_breast, "Concept same_as to") == {"254837009"}
    assert targets("254837009", "Maps to") == {"254837009"}
    # two possible replacements: no 'Maps to', both kept as possible equivalents
    maturity_onset = "190372001"
    assert targets(maturity_onset, "Maps to") == set()
    assert targets(maturity_onset, "Concept poss_eq to") == {"46635009", "44054006"}
    # added in the second release
    assert concept.loc["499999999108", "valid_start_date"] == dt.date(2025, 4, 1)


def test_the_source_names_the_release_and_version(omop: FormatWritten):
    source = cdm(omop, "cdm_source").iloc[0]
    assert source["cdm_version"] == "5.4"
    assert source["vocabulary_version"] == "teaching 20250401"
    vocabulary = cdm(omop, "vocabulary").set_index("vocabulary_id")["vocabulary_version"]
    assert vocabulary.to_dict() == {
        "SNOMED": "snomedct-teaching-20250401",
        "dm+d": "dmd-teaching-20250401",
    }


def test_notes_count_what_was_not_plain(omop: FormatWritten, dataset: Path):
    events = kit(dataset, "clinical_events")
    release = open_release("snomedct-teaching-20250401")
    inactive = sum(not release.concept(code).active for code in events["code"])
    notes = {n.table: n.rows for n in omop.notes if "inactivates" in n.what}
    assert inactive > 0 and notes == {"clinical_events": inactive}


def test_the_same_dataset_gives_the_same_bytes(dataset: Path, omop: FormatWritten, tmp_path: Path):
    again = write_omop(dataset, tmp_path / "again")
    assert files_of(again.out) == files_of(omop.out)
    for name in SCHEMAS:
        assert not (pq.read_schema(again.out / f"{name}.parquet").metadata or {}).get(b"created_at")


def test_a_duckdb_file_holds_the_same_tables(dataset: Path, omop: FormatWritten, tmp_path: Path):
    out = tmp_path / "cdm.duckdb"
    written = write_omop(dataset, out)
    assert written.rows == omop.rows
    assert [p.name for p in tmp_path.iterdir()] == ["cdm.duckdb"]
    assert is_kit_omop_database(out)
    con = duckdb.connect(str(out), read_only=True)
    try:
        for name in SCHEMAS:
            table = con.sql(f"SELECT * FROM main.{name}").to_arrow_table()
            assert table.equals(pq.read_table(omop.out / f"{name}.parquet")), name
    finally:
        con.close()
    write_omop(dataset, out)  # the kit's own database is replaced without --force


def test_a_folder_the_kit_did_not_write_is_refused(dataset: Path, tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="refusing to replace it"):
        write_omop(dataset, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]
    write_omop(dataset, out, force=True)
    assert not (out / "notes.txt").exists() and (out / "person.parquet").is_file()
    write_omop(dataset, out)  # now the kit's: replaced without force


def test_a_file_the_kit_did_not_write_is_refused(dataset: Path, tmp_path: Path):
    out = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(out))
    con.execute("CREATE TABLE cdm_source AS SELECT 'someone else' AS cdm_etl_reference")
    con.close()
    before = out.read_bytes()
    with pytest.raises(DatasetError, match="not write"):
        write_omop(dataset, out)
    assert out.read_bytes() == before


def test_a_folder_holding_more_than_the_kit_wrote_is_refused(
    dataset: Path, omop: FormatWritten, tmp_path: Path
):
    out = tmp_path / "cdm"
    shutil.copytree(omop.out, out)
    (out / "extra.sql").write_text("select 1")
    with pytest.raises(DatasetError, match=r"holds extra\.sql"):
        write_omop(dataset, out)


def test_the_output_may_not_replace_its_own_dataset(dataset: Path):
    with pytest.raises(DatasetError, match="dataset it is made from"):
        write_omop(dataset, dataset)
    with pytest.raises(DatasetError, match="dataset it is made from"):
        write_omop(dataset, dataset / "cdm")


def test_a_damaged_dataset_is_refused_naming_the_table(dataset: Path, tmp_path: Path):
    copy = tmp_path / "kit"
    shutil.copytree(dataset, copy)
    with (copy / "clinical_events.parquet").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(DatasetError, match=r"clinical_events\.parquet"):
        write_omop(copy, tmp_path / "cdm")
    assert not (tmp_path / "cdm").exists()


def test_the_format_record_lists_every_table(omop: FormatWritten, dataset: Path):
    record = json.loads((omop.out / "codeset_format.json").read_text())
    assert record["format"] == "omop-cdm-5.4"
    assert {e["file"] for e in record["tables"].values()} == {f"{n}.parquet" for n in SCHEMAS}
    assert (
        record["source"]["tables"]["clinical_events"]
        == (read_manifest(dataset)["tables"]["clinical_events"]["sha256"])
    )


def test_a_code_outside_the_release_keeps_its_row_with_concept_0(dataset: Path, tmp_path: Path):
    copy = tmp_path / "kit"
    shutil.copytree(dataset, copy)
    path = copy / "clinical_events.parquet"
    events = pq.read_table(path)
    codes = events["code"].to_pylist()
    codes[0] = "1234567890"  # not a concept of the teaching release
    events = events.set_column(2, "code", pa.array(codes, pa.string()))
    pq.write_table(events, path)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tables"]["clinical_events"].update(bytes=path.stat().st_size, sha256=sha256_of(path))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    written = write_omop(copy, tmp_path / "cdm")
    assert sum(written.rows[t] for t in EVENT_TABLES) == events.num_rows
    observation = pq.read_table(tmp_path / "cdm" / "observation.parquet").to_pandas()
    row = observation[observation["observation_source_value"] == "1234567890"]
    assert row[["observation_concept_id", "observation_source_concept_id"]].values.tolist() == [
        [0, 0]
    ]
    assert [n.rows for n in written.notes if "not in snomedct-teaching-20250401" in n.what] == [1]
