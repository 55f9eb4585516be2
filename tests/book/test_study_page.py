"""The landing page's account of the study, generated from the study's files (and shown in the book)."""

import ast
import html
import re
from pathlib import Path

import papermill
import pytest

from codesetlib.cohorts.load import load_definition
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import StudyError
from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.record.book.study_page import (
    citation_text,
    cohorts_and_measures,
    read_citation,
    shown_count,
    study_summary,
)
from codesetlib.record.pipeline import check_codesets
from codesetlib.record.study import NotebookRun, Study, load_study
from tests.book.conftest import ROOT

STUDY = ROOT / "study.yaml"


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study(STUDY)


@pytest.fixture(scope="module")
def codesets(study: Study) -> dict:
    return {k: v.codeset for k, v in check_codesets(study, ROOT).items()}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The manifest of a small dataset, generated for real."""
    out = tmp_path_factory.mktemp("data") / "small"
    params = SynthParams(patients=300, practices=3, seed=7)
    return generate_dataset(params, out, workers=1, progress=False)


@pytest.fixture(scope="module")
def summary(study: Study, codesets: dict, manifest: dict) -> str:
    return study_summary(STUDY, study, codesets, {"manifest": manifest})


def folded(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_data_are_named_with_their_size_seed_and_calibration(summary: str, manifest: dict):
    calibration = manifest["inputs"]["calibration"]
    assert "300 patients registered at 3 practices" in summary
    assert "with seed 7" in summary
    # The whole hash, copyable, never clipped.
    assert f'`{calibration["path"]}` (sha256 <code class="provenance-value">' in summary
    assert f"{calibration['sha256']}</code>)" in summary
    assert manifest["parameters"]["terminology_release"] in summary


def test_every_codeset_is_linked_to_its_card_with_its_pinned_version(
    summary: str, study: Study, codesets: dict
):
    assert f"pins {len(study.codesets)}:" in summary
    for pin in study.codesets:
        shown = f"<codeset-{pin.id}>` (v{codesets[pin.id].version})"
        assert shown in summary
        if pin.version:
            assert codesets[pin.id].version == pin.version


def test_cohorts_and_measures_are_named_from_the_files_the_notebooks_are_given(
    summary: str, study: Study
):
    files = {
        run.parameters["cohort_file"] for run in study.notebooks if "cohort_file" in run.parameters
    }
    assert files
    for file in files:
        definition = load_definition(ROOT / file)
        assert f"`{definition.title} </generated/" in summary
    given = [run for run in study.notebooks if "measure_title" in run.parameters]
    for run in given:
        assert f"`{run.parameters['measure_title']} </generated/{run.output_name}>`" in summary
    # A measure notebook run without a title is named by the notebook's own default.
    default_run = next(r for r in study.notebooks if r.output_name == "04_qi_diabetes_control")
    declared = papermill.inspect_notebook(str(ROOT / default_run.path))
    default_title = ast.literal_eval(declared["measure_title"]["default"])
    assert f"`{default_title} </generated/04_qi_diabetes_control>`" in summary


def test_the_summary_follows_the_study_not_a_typed_text(
    tmp_path: Path, study: Study, codesets: dict, manifest: dict
):
    cohort = tmp_path / "frail.yaml"
    cohort.write_text(
        "id: frail\ntitle: Frail adults in a test of the page\nindex_date: 2025-03-31\n",
        encoding="utf-8",
    )
    changed = study.model_copy(
        update={
            "notebooks": [
                NotebookRun(
                    path="notebooks/02_cohort.ipynb",
                    name="02_cohort_frail",
                    parameters={"cohort_file": str(cohort)},
                )
            ]
        }
    )
    text = study_summary(STUDY, changed, codesets, {"manifest": manifest})
    assert "{doc}`Frail adults in a test of the page </generated/02_cohort_frail>`" in text
    assert "glycaemic control" not in text
    assert "By practice" not in text


def test_each_cohort_is_listed_once_and_linked_to_its_own_page(study: Study):
    cohorts, measures = cohorts_and_measures(study, ROOT)
    assert len({c.file for c in cohorts}) == len(cohorts) == 2
    assert all(c.page.startswith("generated/02_cohort_") for c in cohorts)
    assert {m.cohort.file for m in measures} == {c.file for c in cohorts}


def test_a_missing_cohort_file_is_named_with_its_field(study: Study, codesets: dict, manifest):
    broken = study.model_copy(
        update={
            "notebooks": [
                NotebookRun(
                    path="notebooks/02_cohort.ipynb",
                    parameters={"cohort_file": "cohorts/nope.yaml"},
                )
            ]
        }
    )
    with pytest.raises(StudyError) as raised:
        study_summary(STUDY, broken, codesets, {"manifest": manifest})
    assert "notebooks[0].parameters.cohort_file" in str(raised.value)
    assert "cohorts/nope.yaml" in str(raised.value)


def test_a_count_of_patients_passes_disclosure_control(study: Study):
    assert shown_count(6, study) == "≤7"
    assert shown_count(50_001, study) == "50,000"
    off = study.model_copy(update={"disclosure": DisclosureSettings(enabled=False)})
    assert shown_count(50_001, off) == "50,001"


def test_the_citation_comes_from_citation_cff(summary: str, tmp_path: Path):
    citation = read_citation(ROOT)
    assert citation is not None
    assert "## How to cite" in summary
    assert citation["message"] in summary
    assert f"*{citation['title']}*, version {citation['version']} [software]" in summary
    assert read_citation(tmp_path) is None
    (tmp_path / "CITATION.cff").write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(StudyError, match=r"CITATION\.cff:\d+: not valid YAML"):
        read_citation(tmp_path)


def test_a_citation_names_people_and_its_identifier():
    text = citation_text(
        {
            "title": "A kit",
            "version": "2.0.0",
            "authors": [{"given-names": "Ada", "family-names": "Lovelace"}, {"name": "A team"}],
            "doi": "10.5281/zenodo.1",
            "license": "MIT",
        }
    )
    assert text == (
        "Ada Lovelace; A team. *A kit*, version 2.0.0 [software]. "
        "doi 10.5281/zenodo.1. Licence: MIT."
    )


@pytest.mark.book
def test_the_landing_page_shows_the_study_with_working_links(built: Path, study: Study):
    page = (built.parent / "intro.html").read_text(encoding="utf-8")
    text = folded(html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "The study" in text and "How to cite" in text
    assert f"{study.dataset.synth.patients:,} patients registered at" in text
    for file in {
        r.parameters["cohort_file"] for r in study.notebooks if "cohort_file" in r.parameters
    }:
        assert load_definition(ROOT / file).title in text
    links = re.findall(r'href="((?:generated/)[^"#]+)', page)
    assert any(link.startswith("generated/codesets/") for link in links)
    assert any(link.startswith("generated/02_cohort_") for link in links)
    for link in links:
        assert (built.parent / link).is_file(), link
