"""The corpus harness itself: it sees a traceback, a wrong exit code and a changed tree."""

from pathlib import Path

import pytest

from tests.integrity.harness import Case, check_outcome, make_project, run_case


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def test_a_clean_refusal_passes(project: Path):
    case = Case("unknown codeset", ["show", "nope"], 2, ("nope",))
    check_outcome(case, run_case(case, project))


def test_a_changed_tree_fails(project: Path):
    case = Case("unknown codeset", ["show", "nope"], 2, setup=None)
    outcome = run_case(case, project)
    outcome.after = {**outcome.after, "notes.txt": "changed"}
    with pytest.raises(AssertionError):
        check_outcome(case, outcome)


def test_a_wrong_exit_code_fails(project: Path):
    case = Case("unknown codeset", ["show", "nope"], 0)
    with pytest.raises(AssertionError):
        check_outcome(case, run_case(case, project))
