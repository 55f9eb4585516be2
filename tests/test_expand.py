from pathlib import Path

import pytest

from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset
from codesetlib.core.errors import UnknownCode
from tests.conftest import CODESET_YAML, write_codeset


def test_rules_apply_in_order_and_every_code_names_its_rule(tmp_path, terminology):
    expansion = expand_rules(load_codeset(write_codeset(tmp_path)), terminology)
    assert [(r.code, r.rule) for r in expansion.codes] == [
        ("254837009", "R1"),
        ("363346000", "R1"),
        ("363406005", "R1"),
        ("372087000", "R1"),
        ("399068003", "R1"),
    ]
    assert expansion.codes[0].term == "Malignant neoplasm of breast"
    assert [(len(e.matched), len(e.added), len(e.removed)) for e in expansion.effects] == [
        (6, 6, 0),
        (1, 0, 1),
    ]


def test_a_rule_without_descendants_names_one_code(tmp_path, terminology):
    text = CODESET_YAML.format(id="cancer").replace(
        "    term: Malignant neoplastic disease\n",
        "    term: Malignant neoplastic disease\n    descendants: false\n",
    )
    expansion = expand_rules(load_codeset(write_codeset(tmp_path, text=text)), terminology)
    assert [r.code for r in expansion.codes] == ["363346000"]


def test_an_include_after_an_exclude_brings_codes_back(tmp_path: Path, terminology):
    text = CODESET_YAML.format(id="cancer") + ""
    text = text.replace(
        "authors:",
        '  - id: R3\n    action: include\n    concept: "128462008"\n    term: Secondary\nauthors:',
    )
    expansion = expand_rules(load_codeset(write_codeset(tmp_path, text=text)), terminology)
    assert ("128462008", "R3") in [(r.code, r.rule) for r in expansion.codes]


def test_a_concept_missing_from_the_release_is_named(tmp_path, terminology):
    text = CODESET_YAML.format(id="cancer").replace('"128462008"', '"22298006"')
    with pytest.raises(UnknownCode, match="22298006") as raised:
        expand_rules(load_codeset(write_codeset(tmp_path, text=text)), terminology)
    assert raised.value.field == "rules[R2].concept"


def test_expansion_uses_the_release_the_codeset_names(tmp_path, test_release):
    expansion = expand_rules(load_codeset(write_codeset(tmp_path)))
    assert expansion.release == test_release
