import ast
from pathlib import Path

import pytest

from codesetlib.codesets import model
from codesetlib.codesets.files import (
    available_codesets,
    codeset_dir,
    load_codeset,
    read_codes,
    write_codes,
)
from codesetlib.codesets.model import CodeRow
from codesetlib.core.errors import CodesetFormatError, CodesetNotFound
from tests.conftest import CODESET_YAML, write_codeset


def test_a_valid_codeset_loads(tmp_path: Path):
    codeset = load_codeset(write_codeset(tmp_path))
    assert codeset.id == "cancer"
    assert [r.id for r in codeset.rules] == ["R1", "R2"]
    assert codeset.rules[0].descendants is True
    assert codeset.decisions[0].about == "R2"


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        (("purpose:", "purpse:"), 7, "purpse", "unknown field (did you mean 'purpose'?)"),
        (("version: 1.0.0\n", ""), 1, "version", "required field is missing"),
        (("version: 1.0.0", "version: one"), 3, "version", "expected a semantic version"),
        (("status: draft", "status: final"), 4, "status", "'draft', 'review', 'published'"),
        (("coding_system: snomedct", "coding_system: read2"), 5, "coding_system", "snomedct"),
        (('concept: "363346000"', "concept: breast"), 11, "rules[0].concept", "expected a code"),
        (("action: exclude", "action: drop"), 14, "rules[1].action", "'include' or 'exclude'"),
        (("descendants: true", "descendants: maybe"), 17, "rules[1].descendants", "boolean"),
        (("date: 2024-05-01", "date: May 2024"), 26, "decisions[0].date", "date"),
        (("id: R2", "id: R1"), 9, "rules", "rule id R1 is used twice"),
    ],
)
def test_a_bad_field_is_named_with_its_line(tmp_path: Path, edit, line, field, message):
    text = CODESET_YAML.format(id="cancer").replace(*edit)
    with pytest.raises(CodesetFormatError) as raised:
        load_codeset(write_codeset(tmp_path, text=text))
    error = raised.value
    assert error.path == str(tmp_path / "cancer" / "codeset.yaml")
    assert (error.line, error.field) == (line, field)
    assert message in error.message


def test_bad_yaml_names_its_line(tmp_path: Path):
    text = CODESET_YAML.format(id="cancer").replace("  - id: R2", "  - id: [R2")
    with pytest.raises(CodesetFormatError, match="not valid YAML") as raised:
        load_codeset(write_codeset(tmp_path, text=text))
    assert raised.value.line == 14


def test_the_id_must_match_the_folder(tmp_path: Path):
    folder = write_codeset(tmp_path, "cancer", CODESET_YAML.format(id="other"))
    with pytest.raises(CodesetFormatError, match="does not match the folder name 'cancer'"):
        load_codeset(folder)


def test_an_unknown_codeset_lists_the_known_ones(tmp_path: Path):
    write_codeset(tmp_path, "cancer")
    write_codeset(tmp_path, "diabetes")
    assert available_codesets(tmp_path) == ["cancer", "diabetes"]
    with pytest.raises(CodesetNotFound, match=r"no codeset 'nope'.*available: cancer, diabetes"):
        codeset_dir(tmp_path, "nope")


def test_codes_round_trip_and_bad_rows_are_named(tmp_path: Path):
    rows = [CodeRow(code="254837009", term="Malignant neoplasm of breast", rule="R1")]
    path = write_codes(tmp_path, rows)
    assert read_codes(tmp_path) == rows
    assert not list(tmp_path.glob("*.tmp"))
    path.write_text("code,term,rule,active\n254837009,Breast,R1,true\n,Blank,R1,true\n")
    with pytest.raises(CodesetFormatError, match="blank code") as raised:
        read_codes(tmp_path)
    assert (raised.value.line, raised.value.field) == (3, "code")
    path.write_text("code,term,rule,active\n254837009,Breast,R1,true\n254837009,Breast,R1,true\n")
    with pytest.raises(CodesetFormatError, match="listed twice") as raised:
        read_codes(tmp_path)
    assert raised.value.line == 3
    path.write_text("code,term,rule,active\n254837009,Breast,R1,yes\n")
    with pytest.raises(CodesetFormatError, match="expected true or false") as raised:
        read_codes(tmp_path)
    assert raised.value.field == "active"
    path.write_text("code,term\n1,x\n")
    with pytest.raises(CodesetFormatError, match="missing column"):
        read_codes(tmp_path)


def test_the_codeset_model_reads_and_writes_no_file():
    """The model is data alone: what reads and writes a codeset's folder lives in `files.py`."""
    tree = ast.parse(Path(model.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    file_modules = {"os", "io", "pathlib", "shutil", "tempfile", "csv", "yaml"}
    assert imported & file_modules == set()
    assert not [
        m for m in imported if m.startswith("codesetlib.") and m != "codesetlib.core.models"
    ]
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert names & {"open", "Path"} == set()
