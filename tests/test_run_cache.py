"""The run cache keys on content: a notebook run is reused only while everything it reads is
unchanged. One test per kind of input: change it and the notebook runs again (and its page shows the
new value), leave it and the run is reused."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.record.pipeline import GENERATED, run_notebooks
from codesetlib.record.provenance import PACKAGE, source_hash
from codesetlib.record.run_cache import study_inputs
from codesetlib.record.study import Study

ROOT = Path(__file__).resolve().parents[1]


def notebook(path: Path, parameters: dict, body: str) -> Path:
    """A notebook whose parameters cell sets `parameters` and whose one cell runs `body`."""
    nb = nbformat.v4.new_notebook()
    cell = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    nb.cells = [
        nbformat.v4.new_code_cell(cell, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def study(*runs: dict, **settings) -> Study:
    return Study.model_validate(
        {
            "title": "t",
            "index_date": "2025-03-31",
            "dataset": {"name": "d"},
            "codesets": ["diabetes"],
            "notebooks": list(runs),
            **settings,
        }
    )


def executed(study: Study, root: Path, inputs: dict | None = None) -> list[bool]:
    record = run_notebooks(study, root, root / "book" / GENERATED, inputs or {})
    return [run["executed"] for run in record.values()]


def page(root: Path, name: str) -> str:
    """What the executed notebook shows: the text of its outputs."""
    nb = nbformat.read(root / "book" / GENERATED / f"{name}.ipynb", as_version=4)
    shown = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            shown.append(output.get("text", ""))
            shown.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(shown)


def edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


READ_FILE = "from pathlib import Path\nprint(Path({name}).read_text())"


def test_an_edited_notebook_runs_again(tmp_path: Path):
    source = notebook(tmp_path / "a.ipynb", {"scale": 1}, "print('first', scale)")
    once = study({"path": "a.ipynb"})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    notebook(source, {"scale": 1}, "print('second', scale)")
    assert executed(once, tmp_path) == [True]
    assert "second 1" in page(tmp_path, "a")


def test_a_changed_parameter_runs_again(tmp_path: Path):
    notebook(tmp_path / "a.ipynb", {"scale": 1}, "print('scale is', scale)")
    assert executed(study({"path": "a.ipynb", "parameters": {"scale": 2}}), tmp_path) == [True]
    assert executed(study({"path": "a.ipynb", "parameters": {"scale": 2}}), tmp_path) == [False]
    assert executed(study({"path": "a.ipynb", "parameters": {"scale": 3}}), tmp_path) == [True]
    assert "scale is 3" in page(tmp_path, "a")


@pytest.fixture(scope="module")
def cohort_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort notebook of the record with its cohorts, codesets and a small dataset."""
    root = tmp_path_factory.mktemp("cohort") / "project"
    shutil.copytree(ROOT / "cohorts", root / "cohorts")
    for name in ("diabetes", "hba1c", "metformin", "ethnicity"):
        shutil.copytree(ROOT / "codesets" / name, root / "codesets" / name)
    shutil.copy(ROOT / "notebooks" / "02_cohort.ipynb", root / "02_cohort.ipynb")
    generate_dataset(SynthParams(patients=400, practices=2), root / "data/synthetic/d", workers=1)
    return root


def test_an_edited_cohort_file_runs_again_and_the_page_shows_the_new_age(cohort_project: Path):
    root = cohort_project
    cohort = {
        "path": "02_cohort.ipynb",
        "parameters": {"cohort_file": "cohorts/diabetes_control.yaml"},
    }
    control = study(cohort, codesets=["diabetes", "hba1c", "metformin", "ethnicity"])
    assert executed(control, root) == [True]
    assert "aged 18 or over" in page(root, "02_cohort")
    assert executed(control, root) == [False]
    edit_yaml(root / "cohorts/diabetes_control.yaml", lambda d: d["population"].update(age_min=40))
    assert executed(control, root) == [True]
    assert "aged 40 or over" in page(root, "02_cohort")
    assert "aged 18 or over" not in page(root, "02_cohort")


@pytest.fixture
def codesets(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "codesets" / "diabetes", tmp_path / "codesets" / "diabetes")
    return tmp_path / "codesets" / "diabetes"


def test_an_edited_codeset_runs_again(tmp_path: Path, codesets: Path):
    notebook(
        tmp_path / "a.ipynb",
        {"codesets_dir": "codesets"},
        READ_FILE.format(name="f'{codesets_dir}/diabetes/codeset.yaml'"),
    )
    once = study({"path": "a.ipynb"})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    edit_yaml(codesets / "codeset.yaml", lambda d: d.update(title="Diabetes, edited"))
    assert executed(once, tmp_path) == [True]
    assert "Diabetes, edited" in page(tmp_path, "a")


def test_an_edited_earlier_version_runs_again(tmp_path: Path, codesets: Path):
    """The version a validation compares with (`compare_version`) lies in the codeset's history."""
    body = READ_FILE.format(
        name="f'{codesets_dir}/diabetes/history/{compare_version}/codeset.yaml'"
    )
    notebook(tmp_path / "a.ipynb", {"codesets_dir": "codesets", "compare_version": ""}, body)
    once = study({"path": "a.ipynb", "parameters": {"compare_version": "1.0.0"}})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    edit_yaml(codesets / "history/1.0.0/codeset.yaml", lambda d: d.update(title="Old, edited"))
    assert executed(once, tmp_path) == [True]
    assert "Old, edited" in page(tmp_path, "a")


def test_an_edited_reference_file_runs_again(tmp_path: Path):
    rates = tmp_path / "data/reference/cancer_incidence.csv"
    rates.parent.mkdir(parents=True)
    rates.write_text("site,rate\nlung,60\n")
    notebook(
        tmp_path / "a.ipynb",
        {"rates_file": "data/reference/cancer_incidence.csv"},
        READ_FILE.format(name="rates_file"),
    )
    once = study({"path": "a.ipynb"})  # the notebook's own default names the file
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    rates.write_text("site,rate\nlung,61\n")
    assert executed(once, tmp_path) == [True]
    assert "lung,61" in page(tmp_path, "a")


def test_an_edited_calibration_file_runs_again(tmp_path: Path):
    calibration = tmp_path / "mine.yaml"
    calibration.write_text("recording: {ethnicity: 0.5}\n")
    notebook(
        tmp_path / "a.ipynb",
        {"alternative_calibration": ""},
        READ_FILE.format(name="alternative_calibration"),
    )
    once = study({"path": "a.ipynb", "parameters": {"alternative_calibration": "mine.yaml"}})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    calibration.write_text("recording: {ethnicity: 0.6}\n")
    assert executed(once, tmp_path) == [True]
    assert "0.6" in page(tmp_path, "a")


def test_an_edited_dataset_manifest_runs_again(tmp_path: Path):
    dataset = tmp_path / "data/synthetic/d"
    dataset.mkdir(parents=True)
    (dataset / "manifest.json").write_text('{"seed": 1}\n')
    notebook(
        tmp_path / "a.ipynb",
        {"dataset_dir": "data/synthetic/default"},
        READ_FILE.format(name="dataset_dir + '/manifest.json'"),
    )
    once = study({"path": "a.ipynb"})  # the study gives its dataset folder
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    (dataset / "manifest.json").write_text('{"seed": 2}\n')
    assert executed(once, tmp_path) == [True]
    assert '"seed": 2' in page(tmp_path, "a")


def test_what_a_notebook_writes_into_a_folder_it_is_given_does_not_make_it_run_again(
    tmp_path: Path,
):
    """The codeset builder saves drafts into its folder, the reproduction generates a dataset: the
    next run finds the folder as the run left it and reuses the run; an edit there runs it again."""
    body = (
        "from pathlib import Path\n"
        "folder = Path(drafts_dir) / 'draft'\n"
        "folder.mkdir(parents=True, exist_ok=True)\n"
        "(folder / 'codeset.yaml').write_text('title: a draft\\n')\n"
        "print(sorted(p.name for p in Path(drafts_dir).rglob('*')))"
    )
    notebook(tmp_path / "a.ipynb", {"drafts_dir": "drafts"}, body)
    once = study({"path": "a.ipynb"})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [False]
    (tmp_path / "drafts" / "mine.txt").write_text("a note\n")
    assert executed(once, tmp_path) == [True]
    assert "mine.txt" in page(tmp_path, "a")
    assert executed(once, tmp_path) == [False]


def test_a_file_edited_while_its_notebook_runs_runs_it_again(tmp_path: Path):
    """A file is keyed as it was before the run: the run may have read the old content."""
    (tmp_path / "input.txt").write_text("before\n")
    body = (
        "from pathlib import Path\nprint(Path(name).read_text())\nPath(name).write_text('after\\n')"
    )
    notebook(tmp_path / "a.ipynb", {"name": "input.txt"}, body)
    once = study({"path": "a.ipynb"})
    assert executed(once, tmp_path) == [True]
    assert executed(once, tmp_path) == [True]
    assert "after" in page(tmp_path, "a")


# What every notebook of a study shares: one test per kind, on the study's inputs themselves.


def shared(settings: dict | None = None) -> dict:
    return study_inputs(study({"path": "a.ipynb"}, **(settings or {})), {"diabetes": "h"}, "m")


def test_changed_study_settings_run_every_notebook_again(tmp_path: Path):
    notebook(tmp_path / "a.ipynb", {"seed": 0}, "print(seed)")
    once = study({"path": "a.ipynb"})
    assert executed(once, tmp_path, shared()) == [True]
    assert executed(once, tmp_path, shared()) == [False]
    for change in (
        {"seed": 7},
        {"index_date": "2024-03-31"},
        {"disclosure": {"threshold": 10}},
        {"dataset": {"name": "d", "synth": {"patients": 10}}},
        {"codesets": ["diabetes", {"id": "hba1c", "version": "1.0.0"}]},
    ):
        assert shared(change) != shared(), change
    # No notebook is given the study's title.
    assert shared({"title": "another title"}) == shared()
    assert executed(study({"path": "a.ipynb"}, seed=7), tmp_path, shared({"seed": 7})) == [True]
    assert page(tmp_path, "a").strip() == "7"


def test_another_dataset_or_codeset_content_runs_every_notebook_again():
    base = study({"path": "a.ipynb"})
    assert study_inputs(base, {"diabetes": "h"}, "m") != study_inputs(base, {"diabetes": "h"}, "n")
    assert study_inputs(base, {"diabetes": "h"}, "m") != study_inputs(base, {"diabetes": "g"}, "m")


def test_another_package_version_runs_every_notebook_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A package installed in another version is seen by its metadata, as the kernel would see it."""
    before = shared()
    info = tmp_path / "site" / "duckdb-99.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: duckdb\nVersion: 99.0.0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    after = shared()
    assert after["packages"]["duckdb"] == "99.0.0"
    assert after != before
    assert after["python"] == f"{sys.version_info.major}.{sys.version_info.minor}." + str(
        sys.version_info.micro
    )


def test_a_change_to_any_file_the_kit_ships_runs_every_notebook_again(tmp_path: Path):
    """The source, and the teaching releases and calibrations shipped beside it."""
    copy = Path(shutil.copytree(PACKAGE, tmp_path / "codesetlib"))
    assert source_hash(copy) == source_hash()
    release = next(
        (copy / "terminology" / "teaching_edition" / "releases").rglob("*Concept_Snapshot*.txt")
    )
    with release.open("a") as handle:
        handle.write("\n")
    changed = source_hash(copy)
    assert changed != source_hash()
    (copy / "data" / "synthetic" / "config" / "extra.yaml").write_text("x: 1\n")
    assert source_hash(copy) != changed
    assert shared()["source"] == source_hash()


def test_a_change_to_a_release_on_the_terminology_path_runs_every_notebook_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    releases = tmp_path / "releases"
    (releases / "icd10-who-2019.csv").parent.mkdir(parents=True)
    (releases / "icd10-who-2019.csv").write_text("code,term,parent\nA00,Cholera,\n")
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(releases))
    before = shared()
    (releases / "icd10-who-2019.csv").write_text("code,term,parent\nA00,Cholera,\nA01,Typhoid,\n")
    assert shared() != before
    os.utime(releases / "icd10-who-2019.csv", ns=(0, 0))
    assert shared()["terminology"] != before["terminology"]
    assert json.dumps(shared())  # JSON-able: it is hashed as JSON
