"""`codeset ecl "EXPR" --release ID`: the concepts an expression selects, one per line, in code
order, or as JSON; the count and anything left out on standard error."""

from __future__ import annotations

import argparse
import json

import pytest

from codesetlib.cli import ecl
from codesetlib.codesets.ecl import EclError
from codesetlib.core.errors import CodesetError


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="codeset ecl")
    ecl.add_arguments(parser)
    return ecl.run(parser.parse_args(list(argv)))


def test_prints_each_concept_with_its_term_in_code_order(capsys, teaching) -> None:
    code = _run("<< 46635009 OR 190372001", "--release", "snomedct-teaching-20250401")
    out, err = capsys.readouterr()
    assert code == 0
    assert out == (
        "46635009\tDiabetes mellitus type 1\n"
        "313435000\tType I diabetes mellitus without complication\n"
    )
    assert err == (
        "2 concept(s) in snomedct-teaching-20250401; 1 inactive concept(s) left out (190372001)\n"
    )


def test_json(capsys, teaching) -> None:
    _run("< 44054006 AND << 4855003", "--release", "snomedct-teaching-20250401", "--json")
    out, _ = capsys.readouterr()
    assert json.loads(out) == [
        {"code": "422034002", "term": "Retinopathy due to type 2 diabetes mellitus"}
    ]


def test_an_expression_it_cannot_read_is_a_user_error(teaching) -> None:
    with pytest.raises(EclError) as refused:
        _run('<< 73211009 {{ term = "type" }}', "--release", "snomedct-teaching-20250401")
    assert isinstance(refused.value, CodesetError)  # one line and exit 2 from the command
    assert refused.value.location_message().startswith(
        "expression: line 1, column 13: filters ({{ ... }}) are not supported"
    )


def test_the_codeset_command_runs_it_and_refuses_bad_syntax_in_one_line(teaching) -> None:
    import subprocess
    import sys

    def codeset(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "codesetlib.cli", "ecl", *args],
            capture_output=True,
            text=True,
            check=False,
        )

    found = codeset("<< 46635009", "--release", "snomedct-teaching-20250401")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0] == "46635009\tDiabetes mellitus type 1"
    bad = codeset("<< 46635009 AND << 1 OR", "--release", "snomedct-teaching-20250401")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "codeset: error: expression: line 1, column 20: expected one of a concept id, *, ^, (, "
        "found '1'"
    ]
