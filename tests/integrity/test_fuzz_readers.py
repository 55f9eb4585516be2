"""Fuzz the readers of everything a user hands the kit: whatever the bytes, only the kit's own errors
(`CodesetError` and its children) may escape, never a Python exception that would print a traceback.

Readers: codeset.yaml (`load_codeset`), codes.csv (`read_codes`), the files `codeset import` reads
(OpenCodelists and ehrQL CSV, ATLAS JSON) and the RF2 concept, description and relationship files.
Each gets raw bytes, and text built from the characters and tokens its format is made of, so that
examples reach past the first syntax error. And what the kit writes, it reads back unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesetlib.codesets.files import (
    CODES_FILE,
    CODESET_FILE,
    load_codeset,
    read_codes,
    write_codes,
)
from codesetlib.codesets.interchange import rules_from_file
from codesetlib.codesets.model import CodeRow
from codesetlib.core.csvfiles import escape_cell, unescape_cell
from codesetlib.core.errors import CodesetError
from codesetlib.terminology.snomedct import _read_concepts, _read_descriptions, _read_is_a
from tests.conftest import CODESET_YAML
from tests.fixtures.rf2 import CONCEPTS, HEADERS

# The same examples on every run (derandomize), so that `make test` fails only on a real change.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def tokens(*parts: str) -> st.SearchStrategy[str]:
    """Text made of a format's own pieces, with a few arbitrary characters between them."""
    piece = st.one_of(st.sampled_from(parts), st.text(max_size=3))
    return st.lists(piece, max_size=60).map("".join)


def either(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Raw bytes, or the format's own text encoded (sometimes with a stray byte that is not UTF-8)."""
    encoded = text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    spoiled = st.tuples(encoded, st.sampled_from([b"", b"\xff", b"\xe9", b"\xc3"])).map(
        lambda pair: pair[0] + pair[1]
    )
    return st.one_of(st.binary(max_size=400), encoded, spoiled)


YAML_TEXT = tokens(
    "id: cancer\n", "title: x\n", "version: 1.0.0\n", "status: draft\n", "rules:\n", "  - ",
    "id: R1\n", "action: include\n", "concept: '363346000'\n", "term: x\n", "&a ", "*a", "&b ",
    "*b", "[", "]", "{", "}", ", ", ": ", "? ", "- ", "\n", "  ", "\t", "!!binary ", "!!int ",
    "!!python/object ", "2024-13-45", "9" * 30, "'", '"', "#", "---\n", "...\n", "|\n", ">\n",
    "<<: *a\n", "\ufeff", "\0",
)  # fmt: skip
CSV_TEXT = tokens(
    "code,term,rule,active\n", "code", "term", "rule", "active", ",", "\n", "\r\n", "\r", '"',
    '""', "'", "'=", "=1+1", "-", "@", "254837009", "363346000", "true", "false", "R1", "\ufeff",
    "\0", " ",
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
        st.sampled_from(["254837009", "363346000", "22298006", "SNOMED", "ICD10CM", "no", ""]),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["items", "concept", "CONCEPT_CODE", "VOCABULARY_ID", "isExcluded",
                 "includeDescendants", "includeMapped", "other"]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)  # fmt: skip
RF2_CODES = [*CONCEPTS, "22298006", "363346001", "0", "", "12345678901234567890", "٣٦٣٣٤٦٠٠٠"]
RF2_TEXT = tokens(*RF2_CODES, "\t", "\n", "\r\n", "\r", "1", "0", "116680003", '"', "\ufeff", "\0")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def only_kit_errors(read, *args) -> None:
    """Run a reader; a `CodesetError` is a clean refusal, anything else escapes and fails the test."""
    try:
        read(*args)
    except CodesetError as exc:
        assert "\n" not in exc.location_message(), "the CLI prints one line"


@FUZZ
@given(data=st.one_of(either(YAML_TEXT), st.binary(max_size=200)))
def test_the_codeset_reader_raises_only_kit_errors(scratch: Path, data: bytes):
    folder = scratch / "cancer"
    folder.mkdir(exist_ok=True)
    (folder / CODESET_FILE).write_bytes(data)
    only_kit_errors(load_codeset, folder)


GOOD_CODESET = CODESET_YAML.format(id="cancer")
EDITS = st.tuples(
    st.integers(0, len(GOOD_CODESET)),
    st.integers(0, 8),
    st.sampled_from(
        ["", "&a ", "*a", "[", "{", ": ", "- ", "\n", "  ", "? ", "!!int ", "!!float ", "!!set ",
         "!!omap ", "!!timestamp ", "!!binary ", "<<: ", "'", '"', "x", "-1"]
    ),
)  # fmt: skip


@FUZZ
@given(edits=st.lists(EDITS, max_size=6))
def test_a_spoilt_codeset_raises_only_kit_errors(scratch: Path, edits: list[tuple[int, int, str]]):
    """A valid codeset.yaml with a few cuts and insertions, to reach validation as well as parsing."""
    text = GOOD_CODESET
    for at, cut, inserted in edits:
        text = text[:at] + inserted + text[at + cut :]
    folder = scratch / "cancer"
    folder.mkdir(exist_ok=True)
    (folder / CODESET_FILE).write_text(text, encoding="utf-8")
    only_kit_errors(load_codeset, folder)


@FUZZ
@given(data=either(CSV_TEXT))
def test_the_codes_reader_raises_only_kit_errors(scratch: Path, data: bytes):
    (scratch / CODES_FILE).write_bytes(data)
    only_kit_errors(read_codes, scratch)


@FUZZ
@given(data=either(CSV_TEXT), fmt=st.sampled_from(["opencodelists", "ehrql"]))
def test_the_csv_import_raises_only_kit_errors(scratch: Path, terminology, data: bytes, fmt: str):
    path = scratch / "list.csv"
    path.write_bytes(data)
    only_kit_errors(rules_from_file, path, fmt, terminology, "term")


@FUZZ
@given(
    data=st.one_of(
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.lists(JSON_VALUES, max_size=4).map(lambda items: json.dumps({"items": items}).encode()),
        either(tokens("{", "}", "[", "]", '"items"', ":", ",", '"concept"', "true", "1e999999")),
    )
)
def test_the_atlas_import_raises_only_kit_errors(scratch: Path, terminology, data: bytes):
    path = scratch / "set.json"
    path.write_bytes(data)
    only_kit_errors(rules_from_file, path, "atlas", terminology)


KNOWN = pa.array(list(CONCEPTS), pa.string())
RF2_READERS = {
    "concept": lambda path: _read_concepts(path),
    "description": lambda path: _read_descriptions(path, KNOWN),
    "relationship": lambda path: _read_is_a(path, KNOWN),
}


@FUZZ
@given(
    kind=st.sampled_from(sorted(RF2_READERS)),
    header=st.booleans(),
    data=either(RF2_TEXT),
)
def test_the_rf2_readers_raise_only_kit_errors(scratch: Path, kind: str, header: bool, data: bytes):
    path = scratch / f"sct2_{kind}.txt"
    path.write_bytes((HEADERS[kind].encode() + b"\n" if header else b"") + data)
    only_kit_errors(RF2_READERS[kind], path)


@FUZZ
@given(cell=st.text())
def test_escaping_a_cell_can_always_be_undone(cell: str):
    escaped = escape_cell(cell)
    assert unescape_cell(escaped) == cell
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))


@FUZZ
@given(
    terms=st.lists(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=20), min_size=1, max_size=8
    ),
    rule=st.sampled_from(["R1", "-R2", "R_3"]),
)
def test_codes_written_are_read_back_unchanged(scratch: Path, terms: list[str], rule: str):
    rows = [CodeRow(code=str(100000 + n), term=t, rule=rule) for n, t in enumerate(terms)]
    write_codes(scratch, rows)
    assert read_codes(scratch) == rows
