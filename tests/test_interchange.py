"""Import and export round trips with OpenCodelists, ehrQL and OHDSI ATLAS formats."""

import json
from pathlib import Path

import pytest

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.files import load_codeset
from codesetlib.codesets.interchange import (
    export_codeset,
    new_codeset,
    rules_from_file,
    write_codeset,
)
from codesetlib.codesets.model import CodeRow
from codesetlib.core.errors import CodesetFormatError
from tests.conftest import write_codeset as write_yaml


@pytest.fixture
def cancer(tmp_path: Path, test_release):
    return load_codeset(write_yaml(tmp_path / "codesets"))


@pytest.mark.parametrize("fmt", ["opencodelists", "ehrql", "atlas"])
def test_export_then_import_gives_the_same_codes(tmp_path, cancer, terminology, fmt):
    exported = tmp_path / f"export.{'json' if fmt == 'atlas' else 'csv'}"
    exported.write_text(export_codeset(cancer, expand_rules(cancer, terminology), fmt))
    rules = rules_from_file(exported, fmt, terminology)
    imported = new_codeset(
        "imported",
        title="Imported",
        coding_system="snomedct",
        release=cancer.terminology_release,
        rules=rules,
        author="Tester",
        purpose="Round trip.",
        source=exported.name,
    )
    assert (
        expand_rules(imported, terminology).code_set == expand_rules(cancer, terminology).code_set
    )
    folder = tmp_path / "codesets" / "imported"
    write_codeset(folder, imported)
    assert load_codeset(folder) == imported


def test_atlas_keeps_the_rules_themselves(cancer, terminology, tmp_path):
    exported = json.loads(export_codeset(cancer, expand_rules(cancer, terminology), "atlas"))
    assert exported["items"][1] == {
        "concept": {
            "CONCEPT_CODE": "128462008",
            "CONCEPT_NAME": "Secondary malignant neoplastic disease",
            "VOCABULARY_ID": "SNOMED",
        },
        "isExcluded": True,
        "includeDescendants": True,
        "includeMapped": False,
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(exported))
    rules = rules_from_file(path, "atlas", terminology)
    assert [(r.action, r.concept, r.descendants) for r in rules] == [
        ("include", "363346000", True),
        ("exclude", "128462008", True),
    ]


def test_opencodelists_csv_exports_code_and_term(cancer, terminology):
    text = export_codeset(cancer, expand_rules(cancer, terminology), "opencodelists")
    assert text.splitlines()[:2] == ["code,term", "254837009,Malignant neoplasm of breast"]


def test_an_ehrql_csv_names_its_code_column(tmp_path, terminology):
    path = tmp_path / "list.csv"
    path.write_text("snomed_code,category\n254837009,breast\n363406005,colon\n")
    rules = rules_from_file(path, "ehrql", terminology, column="snomed_code")
    assert [r.code for r in rules] == ["254837009", "363406005"]
    with pytest.raises(CodesetFormatError, match="no column 'code'"):
        rules_from_file(path, "ehrql", terminology)


def test_an_unknown_code_is_refused_with_its_line(tmp_path, terminology):
    path = tmp_path / "list.csv"
    path.write_text("code,term\n254837009,Breast\n22298006,Heart attack\n")
    with pytest.raises(CodesetFormatError, match="22298006 is not in") as raised:
        rules_from_file(path, "opencodelists", terminology)
    assert raised.value.line == 3


def test_atlas_refuses_mapped_concepts_and_search_rules(tmp_path, terminology, cancer):
    path = tmp_path / "set.json"
    path.write_text(
        json.dumps({"items": [{"concept": {"CONCEPT_CODE": "254837009"}, "includeMapped": True}]})
    )
    with pytest.raises(CodesetFormatError, match="includeMapped"):
        rules_from_file(path, "atlas", terminology)
    path.write_text("not json")
    with pytest.raises(CodesetFormatError, match="not an ATLAS concept set"):
        rules_from_file(path, "atlas", terminology)
    searching = cancer.model_copy(
        update={"rules": [cancer.rules[0].model_copy(update={"concept": None, "search": "breast"})]}
    )
    with pytest.raises(CodesetFormatError, match="search"):
        export_codeset(searching, expand_rules(cancer, terminology), "atlas")


@pytest.mark.parametrize("fmt", ["opencodelists", "ehrql"])
def test_a_term_a_spreadsheet_would_run_is_escaped_and_still_imports(
    tmp_path, cancer, terminology, fmt
):
    expansion = Expansion(
        [CodeRow(code="254837009", term="=HYPERLINK(A1)", rule="R1")], [], "snomedct-test-20240401"
    )
    text = export_codeset(cancer, expansion, fmt)
    assert text.splitlines()[1] == "254837009,'=HYPERLINK(A1)"
    path = tmp_path / "list.csv"
    path.write_text(text)
    assert [r.code for r in rules_from_file(path, fmt, terminology)] == ["254837009"]


def test_atlas_refuses_another_vocabulary_and_booleans_that_are_not(tmp_path, terminology):
    path = tmp_path / "set.json"
    concept = {"CONCEPT_CODE": "254837009", "VOCABULARY_ID": "ICD10CM"}
    path.write_text(json.dumps({"items": [{"concept": concept}]}))
    with pytest.raises(CodesetFormatError, match="ICD10CM") as raised:
        rules_from_file(path, "atlas", terminology)
    assert raised.value.field == "items[0].concept.VOCABULARY_ID"
    concept["VOCABULARY_ID"] = "SNOMED"
    path.write_text(json.dumps({"items": [{"concept": concept, "includeDescendants": "no"}]}))
    with pytest.raises(CodesetFormatError, match='expected true or false, found a string "no"'):
        rules_from_file(path, "atlas", terminology)
    path.write_text(json.dumps({"items": [{"concept": concept, "includeDescendants": False}]}))
    assert [(r.code, r.concept) for r in rules_from_file(path, "atlas", terminology)] == [
        ("254837009", None)
    ]
