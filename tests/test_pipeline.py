"""The study runner: re-run only what changed, resume after a failure, one line per notebook."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from codesetlib.core.errors import StudyError
from codesetlib.record.pipeline import RUNS_FILE, run_notebooks
from codesetlib.record.study import NotebookRun, Study


def notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'dataset_dir = "data"\nscale = 1', metadata={"tags": ["parameters"]}
    )
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture
def study(tmp_path: Path) -> Study:
    notebook(tmp_path / "a.ipynb", "print(scale * 2)")
    notebook(tmp_path / "b.ipynb", "assert scale < 10, 'scale too large'")
    return Study.model_validate(
        {
            "title": "t",
            "index_date": "2025-03-31",
            "dataset": {"name": "d"},
            "codesets": ["c"],
            "notebooks": [{"path": "a.ipynb"}, {"path": "b.ipynb", "parameters": {"scale": 2}}],
        }
    )


def test_unchanged_notebooks_are_not_executed_again(tmp_path: Path, study: Study):
    out = tmp_path / "generated"
    first = run_notebooks(study, tmp_path, out, {"dataset": "x"})
    assert [r["executed"] for r in first.values()] == [True, True]
    again = run_notebooks(study, tmp_path, out, {"dataset": "x"})
    assert [r["executed"] for r in again.values()] == [False, False]
    changed = run_notebooks(study, tmp_path, out, {"dataset": "y"})
    assert [r["executed"] for r in changed.values()] == [True, True]
    assert first["b"]["parameters"] == {"dataset_dir": "data/synthetic/d", "scale": 2}


def test_a_failure_keeps_what_ran_and_leaves_nothing_half_written(tmp_path: Path, study: Study):
    out = tmp_path / "generated"
    broken = study.model_copy(
        update={
            "notebooks": [
                study.notebooks[0],
                study.notebooks[1].model_copy(update={"parameters": {"scale": 99}}),
            ]
        }
    )
    with pytest.raises(StudyError, match="raised AssertionError: scale too large"):
        run_notebooks(broken, tmp_path, out, {"dataset": "x"})
    assert sorted(p.name for p in out.iterdir()) == [RUNS_FILE, "a.ipynb"]
    assert list(json.loads((out / RUNS_FILE).read_text())) == ["a"]
    resumed = run_notebooks(study, tmp_path, out, {"dataset": "x"})
    assert [r["executed"] for r in resumed.values()] == [False, True]


def test_a_parameter_the_notebook_does_not_declare_is_refused(tmp_path: Path, study: Study):
    wrong = study.model_copy(
        update={"notebooks": [study.notebooks[0].model_copy(update={"parameters": {"scael": 2}})]}
    )
    with pytest.raises(StudyError, match=r"declares no parameter\(s\) scael"):
        run_notebooks(wrong, tmp_path, tmp_path / "generated", {})


def test_one_notebook_can_run_twice_under_two_names(tmp_path: Path, study: Study):
    twice = study.model_copy(
        update={
            "notebooks": [
                study.notebooks[0],
                study.notebooks[0].model_copy(update={"name": "a_again"}),
            ]
        }
    )
    run_notebooks(twice, tmp_path, tmp_path / "generated", {})
    assert (tmp_path / "generated" / "a_again.ipynb").is_file()
    with pytest.raises(ValueError, match=r"both write a\.ipynb"):
        Study.model_validate(
            {
                **study.model_dump(mode="json"),
                "notebooks": [{"path": "a.ipynb"}, {"path": "a.ipynb"}],
            }
        )


def test_a_run_says_one_line_per_notebook_and_nothing_else(
    tmp_path: Path, study: Study, capfd: pytest.CaptureFixture
):
    out = tmp_path / "generated"
    run_notebooks(study, tmp_path, out, {"dataset": "x"})
    # capfd reads the file descriptors, so it also sees what the kernel processes print.
    executed = capfd.readouterr().err.splitlines()
    assert len(executed) == len(study.notebooks), executed
    for number, (line, name) in enumerate(zip(executed, "ab", strict=True), start=1):
        assert re.fullmatch(
            rf"\[codeset run\] \({number}/2\) {name}: executing {name}\.ipynb \.\.\. \d+\.\d s",
            line,
        ), line
    run_notebooks(study, tmp_path, out, {"dataset": "x"})
    reused = capfd.readouterr().err.splitlines()
    assert reused == [
        "[codeset run] (1/2) a: reused, its inputs are unchanged",
        "[codeset run] (2/2) b: reused, its inputs are unchanged",
    ]
    assert not any("WARNING" in line for line in executed + reused)


def test_a_failing_notebook_ends_its_line_and_says_which_cell(
    tmp_path: Path, study: Study, capfd: pytest.CaptureFixture
):
    broken = study.model_copy(
        update={"notebooks": [study.notebooks[1].model_copy(update={"parameters": {"scale": 99}})]}
    )
    with pytest.raises(StudyError, match="raised AssertionError: scale too large"):
        run_notebooks(broken, tmp_path, tmp_path / "generated", {})
    assert capfd.readouterr().err.splitlines() == [
        "[codeset run] (1/1) b: executing b.ipynb ... failed"
    ]


def test_what_a_dying_kernel_printed_is_shown(tmp_path: Path, study: Study):
    # The pause lets the kernel pass on what the cell wrote to its standard error before it exits.
    notebook(
        tmp_path / "dies.ipynb",
        "import os, time\nos.write(2, b'out of memory, say\\n')\ntime.sleep(1)\nos._exit(3)",
    )
    dies = study.model_copy(update={"notebooks": [NotebookRun(path="dies.ipynb")]})
    with pytest.raises(
        StudyError, match=r"(?s)did not run.*the kernel printed:.*out of memory, say"
    ):
        run_notebooks(dies, tmp_path, tmp_path / "generated", {})
    assert not (tmp_path / "generated" / "dies.ipynb").exists()
