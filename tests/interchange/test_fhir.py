"""FHIR R4 ValueSets: every shipped codeset goes out and comes back the same, and a ValueSet the kit
cannot read is refused naming the file and the FHIR path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesetlib.cli.main import main
from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.fhir import (
    DEFAULT_BASE_URL,
    _validated,
    export_fhir,
    fhir_name,
    fhir_path,
    valueset,
)
from codesetlib.codesets.files import available_codesets, load_codeset
from codesetlib.codesets.interchange import import_codelist, new_codeset
from codesetlib.core.errors import CodesetError, CodesetFormatError
from codesetlib.terminology import open_release

SHIPPED = Path(__file__).parents[2] / "codesets"
SNOMED_TEACHING = "http://snomed.info/sct/19999999103/version/20240401"
# What a ValueSet carries back into a codeset.
CARRIED = ("title", "purpose", "clinical_intent", "context_of_use", "coding_system")


def exported(codeset_id: str, tmp_path: Path, **options) -> Path:
    codeset = load_codeset(SHIPPED / codeset_id)
    path = tmp_path / f"{codeset_id}.json"
    path.write_text(export_fhir(codeset, expand_rules(codeset), **options))
    return path


def imported(path: Path, release: str | None = None):
    got = import_codelist(path, "fhir", release)
    codeset = new_codeset(
        "back",
        title=got.metadata.get("title", "Back"),
        coding_system=got.terminology.system,
        release=got.terminology.release.id,
        rules=got.rules,
        author="Importer",
        purpose=got.metadata.get("purpose", "Back."),
        source=path.name,
        metadata=got.metadata,
    )
    return codeset, got


@pytest.mark.parametrize("codeset_id", available_codesets(SHIPPED))
def test_every_codeset_goes_to_fhir_and_back_with_its_codes_and_metadata(tmp_path, codeset_id):
    original = load_codeset(SHIPPED / codeset_id)
    path = exported(codeset_id, tmp_path)
    back, got = imported(path)  # the release is the one the ValueSet's version names
    assert back.terminology_release == original.terminology_release
    assert expand_rules(back).code_set == expand_rules(original).code_set
    for name in CARRIED:
        assert getattr(back, name) == getattr(original, name), name
    assert [p.name for p in back.authors] == [p.name for p in original.authors] + ["Importer"]
    assert back.status == "draft" and back.version == "0.1.0"
    # With the ECL module the rules travel as ECL and come back as its rules; without, as concepts
    # and come back fitted.
    uses_ecl = "filter" in json.loads(path.read_text())["compose"]["include"][0]
    assert (got.fit is None) == uses_ecl
    assert got.fit is None or got.fit.exact
    assert len(back.rules) <= len(original.rules), "no more rules come back than went out"


def test_a_snomed_valueset_names_the_edition_and_date_and_lists_the_expansion(tmp_path):
    document = json.loads(exported("cancer_diagnosis", tmp_path).read_text())
    include = document["compose"]["include"]
    assert include[0]["system"] == "http://snomed.info/sct"
    assert include[0]["version"] == SNOMED_TEACHING
    assert document["url"] == f"{DEFAULT_BASE_URL}/cancer-diagnosis"
    assert document["identifier"] == [{"system": DEFAULT_BASE_URL, "value": "cancer_diagnosis"}]
    assert (document["name"], document["status"], document["version"]) == (
        "CancerDiagnosis",
        "active",
        "1.0.0",
    )
    expansion = document["expansion"]
    assert expansion["timestamp"] == "2026-11-24T00:00:00Z"  # the version's publication date
    assert expansion["total"] == len(expansion["contains"]) == 118
    assert expansion["parameter"] == [
        {"name": "version", "valueUri": f"http://snomed.info/sct|{SNOMED_TEACHING}"}
    ]
    assert {"system": "http://snomed.info/sct", "code": "93655004"} | {
        "display": "Malignant melanoma of skin"
    } in expansion["contains"]
    codes = {row["code"] for row in expansion["contains"]}
    assert "372130007" not in codes  # excluded by R6


def test_the_same_version_always_gives_the_same_file(tmp_path):
    first = exported("diabetes", tmp_path).read_bytes()
    assert exported("diabetes", tmp_path).read_bytes() == first


def test_dmd_is_an_explicit_concept_list(tmp_path):
    document = json.loads(exported("metformin", tmp_path).read_text())
    (include,) = document["compose"]["include"]
    assert include["system"] == "https://dmd.nhs.uk" and include["version"] == "20240401"
    assert len(include["concept"]) == document["expansion"]["total"] == 19
    assert "filter" not in include


def test_an_icd10_codeset_goes_to_fhir_and_back(tmp_path):
    folder = tmp_path / "codesets" / "breast_icd10"
    folder.mkdir(parents=True)
    (folder / "codeset.yaml").write_text(
        "id: breast_icd10\ntitle: Breast cancer (ICD-10)\nversion: 1.0.0\nstatus: draft\n"
        "coding_system: icd10\nterminology_release: icd10-who-2019\npurpose: Breast cancer.\n"
        "rules:\n  - {id: R1, action: include, concept: C50, term: Malignant neoplasm of breast}\n"
        "  - {id: R2, action: exclude, code: C50.9, term: 'Breast, unspecified'}\n"
        "authors:\n  - name: A. Researcher\n"
    )
    codeset = load_codeset(folder)
    document = valueset(codeset, expand_rules(codeset))
    (include,) = document["compose"]["include"]
    assert include["system"] == "http://hl7.org/fhir/sid/icd-10" and include["version"] == "2019"
    assert [c["code"] for c in include["concept"]][:2] == ["C50", "C50.0"]
    assert document["expansion"]["timestamp"] == "2019-01-01T00:00:00Z"  # no date but the release's
    path = tmp_path / "icd.json"
    path.write_text(json.dumps(document))
    back, _ = imported(path)
    assert back.terminology_release == "icd10-who-2019"
    assert expand_rules(back).code_set == expand_rules(codeset).code_set
    assert [(r.action, r.target) for r in back.rules] == [
        ("include", "C50 |Malignant neoplasm of breast| and descendants"),
        ("exclude", "C50.9 |Malignant neoplasm: Breast, unspecified| and descendants"),
    ]


def test_a_release_of_an_edition_the_kit_does_not_know_needs_its_module(tmp_path, test_release):
    from tests.conftest import write_codeset

    codeset = load_codeset(write_codeset(tmp_path / "codesets"))
    expansion = expand_rules(codeset)
    with pytest.raises(CodesetFormatError, match="--snomed-module"):
        valueset(codeset, expansion)
    document = valueset(codeset, expansion, snomed_module="83821000000107")
    assert document["compose"]["include"][0]["version"] == (
        "http://snomed.info/sct/83821000000107/version/20240401"
    )
    with pytest.raises(CodesetFormatError, match="base URL"):
        valueset(codeset, expansion, snomed_module="1", base_url="not a url")


def test_a_valueset_the_kit_makes_wrong_is_its_own_error():
    with pytest.raises(
        CodesetFormatError,
        match=r"the ValueSet made for the codeset is not a valid.*compose\.include",
    ):
        _validated({"resourceType": "ValueSet", "status": "draft", "compose": {"include": 1}}, None)


def test_names_and_paths():
    assert fhir_name("cancer_diagnosis") == "CancerDiagnosis"
    assert fhir_name("2024_list") == "Codeset2024List"
    assert fhir_path(("compose", "include", 0, "filter", 1, "value")) == (
        "compose.include[0].filter[1].value"
    )


def write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "vs.json"
    path.write_text(json.dumps(document))
    return path


def composed(*includes: dict, exclude: list | None = None, **extra) -> dict:
    compose: dict = {"include": list(includes)} | ({"exclude": exclude} if exclude else {})
    return {"resourceType": "ValueSet", "status": "draft", "compose": compose, **extra}


SCT = {"system": "http://snomed.info/sct", "version": SNOMED_TEACHING}


def test_hierarchy_filters_import_as_fitted_rules(tmp_path):
    is_a = {"property": "concept", "op": "is-a", "value": "73211009"}
    path = write(
        tmp_path,
        composed(
            SCT | {"filter": [is_a]},
            exclude=[SCT | {"filter": [is_a | {"value": "46635009"}]}],
        ),
    )
    back, _ = imported(path)
    assert [(r.action, r.target) for r in back.rules] == [
        ("include", "73211009 |Diabetes mellitus| and descendants"),
        ("exclude", "46635009 |Diabetes mellitus type 1| and descendants"),
    ]
    assert back.terminology_release == "snomedct-teaching-20240401"


def test_an_expansion_alone_imports_and_a_disagreeing_one_is_noted(tmp_path):
    contains = [
        {"system": "http://snomed.info/sct", "code": code} for code in ("46635009", "190372001")
    ]
    only = {"resourceType": "ValueSet", "status": "active", "expansion": {"contains": contains}}
    only["expansion"]["timestamp"] = "2024-04-01T00:00:00Z"
    back, _ = imported(write(tmp_path, only), "snomedct-teaching-20240401")
    assert [(r.action, r.target) for r in back.rules] == [
        ("include", "190372001 |Type I diabetes mellitus maturity onset| and descendants"),
        ("include", "46635009 |Diabetes mellitus type 1| only"),
    ]
    both = composed(SCT | {"concept": [{"code": "46635009"}]}, expansion=only["expansion"])
    _, got = imported(write(tmp_path, both))
    assert got.notes == [
        "1 code(s) of the ValueSet's expansion are not selected by its compose in "
        "snomedct-teaching-20240401, and are not imported: 190372001"
    ]


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        (
            composed(SCT | {"filter": [{"property": "concept", "op": "is-a", "value": 5}]}),
            "compose.include[0].filter[0].value",
            "Input should be a valid string",
        ),
        (
            composed(SCT | {"concept": [{"code": "73211009"}, {"code": "22298006"}]}),
            "compose.include[0].concept[1].code",
            "not in snomedct-teaching-20240401",
        ),
        (
            composed(SCT | {"filter": [{"property": "concept", "op": "regex", "value": "7.*"}]}),
            "compose.include[0].filter[0]",
            "not one the kit reads",
        ),
        (
            composed({"system": "http://loinc.org", "concept": [{"code": "4548-4"}]}),
            "compose.include[0].system",
            "not one the kit reads",
        ),
        (composed(SCT), "compose.include[0]", "every code of the code system"),
        (
            composed(SCT | {"valueSet": ["http://example.org/ValueSet/x"]}),
            "compose.include[0].valueSet",
            "by reference",
        ),
        ({"resourceType": "CodeSystem"}, "resourceType", "found CodeSystem"),
        (composed(SCT | {"concept": [{"code": "73211009"}]}, status="bogus"), "status", "bogus"),
        (
            composed({**SCT, "version": "http://snomed.info/sct/1/version/20990101"}, concept=[]),
            "compose.include[0].version",
            "--release",
        ),
    ],
)
def test_a_valueset_the_kit_cannot_read_is_refused_by_file_and_fhir_path(
    tmp_path, document, field, words
):
    if "concept" in document and not document.get("concept"):
        document.pop("concept")
        document["compose"]["include"][0]["concept"] = [{"code": "73211009"}]
    path = write(tmp_path, document)
    with pytest.raises(CodesetError) as raised:
        import_codelist(path, "fhir")
    assert raised.value.field == field
    assert words in raised.value.message
    assert str(path) in raised.value.location_message()


def test_not_json_names_the_line(tmp_path):
    path = tmp_path / "vs.json"
    path.write_text('{\n  "resourceType": "ValueSet",\n  oops\n}')
    with pytest.raises(CodesetFormatError, match="not JSON") as raised:
        import_codelist(path, "fhir")
    assert raised.value.line == 3


def test_the_command_exports_and_imports_a_valueset(tmp_path, capsys):
    out = tmp_path / "diabetes.json"
    assert main(["--codesets-dir", str(SHIPPED), "export", "diabetes", "--format", "fhir",
                 "--out", str(out), "--base-url", "https://fhir.example.nhs.uk/ValueSet"]) == 0  # fmt: skip
    assert json.loads(out.read_text())["url"] == "https://fhir.example.nhs.uk/ValueSet/diabetes"
    root = tmp_path / "codesets"
    code = main(["--codesets-dir", str(root), "import", str(out), "--format", "fhir",
                 "--id", "diabetes", "--author", "Importer"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    # As ECL when the kit writes it, else as concepts fitted with rules; either way, the same codes.
    assert ("read the ValueSet's ECL constraint as" in printed) or (
        "fitted 13 code(s) in snomedct-teaching-20240401 with 2 rule(s) (1 include with "
        "descendants, 1 exclude); expanding them gives exactly the list" in printed
    )
    back = load_codeset(root / "diabetes")
    assert back.title == "Diabetes mellitus diagnosis"
    assert expand_rules(back).code_set == expand_rules(load_codeset(SHIPPED / "diabetes")).code_set
    out.write_text(out.read_text().replace('"status": "active"', '"status": 3'))
    code = main(["--codesets-dir", str(root), "import", str(out), "--format", "fhir",
                 "--id", "other", "--author", "Importer"])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2
    assert f"{out}" in error and "status" in error


def test_a_flat_csv_imports_as_fitted_rules(tmp_path, capsys):
    teaching = open_release("snomedct-teaching-20240401")
    codes = sorted({"73211009", *teaching.descendants_of("73211009")} - {"4855003"})
    path = tmp_path / "list.csv"
    path.write_text("code,term\n" + "".join(f"{c},x\n" for c in codes))
    root = tmp_path / "codesets"
    assert main(["--codesets-dir", str(root), "import", str(path), "--format", "opencodelists",
                 "--id", "dm", "--author", "A"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "fitted 13 code(s)" in printed and "imported 2 rule(s)" in printed
    rules = load_codeset(root / "dm").rules
    assert [(r.action, r.target) for r in rules] == [
        ("include", "73211009 |Diabetes mellitus| and descendants"),
        ("exclude", "4855003 |Diabetic retinopathy| only"),
    ]


def test_snomed_rules_travel_as_one_ecl_constraint_and_come_back_as_the_same_rules(tmp_path):
    from codesetlib.codesets.ecl import codeset_ecl

    original = load_codeset(SHIPPED / "cancer_diagnosis")
    document = json.loads(exported("cancer_diagnosis", tmp_path).read_text())
    (include,) = document["compose"]["include"]
    assert include["filter"] == [
        {"property": "constraint", "op": "=", "value": codeset_ecl(original)}
    ]
    assert "concept" not in include
    back, got = imported(exported("cancer_diagnosis", tmp_path))
    assert got.fit is None and got.notes == ["read the ValueSet's ECL constraint as 7 rule(s)"]
    assert [(r.action, r.target) for r in back.rules] == [
        (r.action, r.target) for r in original.rules
    ]


def test_an_inactive_code_the_rules_name_is_listed_beside_the_ecl(tmp_path):
    folder = tmp_path / "codesets" / "bowel"
    folder.mkdir(parents=True)
    (folder / "codeset.yaml").write_text(
        "id: bowel\ntitle: Bowel cancer\nversion: 1.0.0\nstatus: draft\ncoding_system: snomedct\n"
        "terminology_release: snomedct-teaching-20240401\npurpose: Bowel cancer.\nrules:\n"
        "  - {id: R1, action: include, concept: '73211009', term: Diabetes mellitus}\n"
        "  - {id: R2, action: include, code: '29999999105', term: Malignant neoplasm of large bowel NOS}\n"
        "authors:\n  - name: A. Researcher\n"
    )
    codeset = load_codeset(folder)
    document = valueset(codeset, expand_rules(codeset))
    first, second = document["compose"]["include"]
    assert first["filter"][0]["property"] == "constraint"
    assert second["concept"] == [
        {"code": "29999999105", "display": "Malignant neoplasm of large bowel NOS"}
    ]
    inactive = [c for c in document["expansion"]["contains"] if c.get("inactive")]
    assert [c["code"] for c in inactive] == ["29999999105"]
    back, _ = imported(write(tmp_path, document))
    assert expand_rules(back).code_set == expand_rules(codeset).code_set


def test_ecl_the_kit_cannot_read_is_refused_at_its_fhir_path(tmp_path):
    constraint = {"property": "constraint", "op": "=", "value": "<< 73211009 OR AND"}
    with pytest.raises(CodesetError) as raised:
        import_codelist(write(tmp_path, composed(SCT | {"filter": [constraint]})), "fhir")
    assert raised.value.field == "compose.include[0].filter[0].value"
    assert str(tmp_path / "vs.json") in raised.value.location_message()


def test_the_command_exports_and_imports_ecl(tmp_path, capsys):
    out = tmp_path / "diabetes.ecl"
    assert main(["--codesets-dir", str(SHIPPED), "export", "diabetes", "--format", "ecl",
                 "--out", str(out)]) == 0  # fmt: skip
    root = tmp_path / "codesets"
    assert main(["--codesets-dir", str(root), "import", str(out), "--format", "ecl",
                 "--id", "diabetes", "--author", "A"]) == 0  # fmt: skip
    original = load_codeset(SHIPPED / "diabetes")
    back = load_codeset(root / "diabetes")
    assert expand_rules(back).code_set == expand_rules(original).code_set
    capsys.readouterr()
