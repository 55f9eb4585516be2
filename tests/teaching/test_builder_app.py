"""The codeset builder served by Voilà (as `make builder` serves it), used in Chromium as a learner would.

Voilà runs once for the session on a free port, on the synthetic dataset `make data` writes, saving
drafts to a folder of the test's own. The learner searches, includes lung cancer with its
descendants, excludes small cell carcinoma and reads the patients found fall on the page; an exclude
of something not included, a save without a title and an id that is not one are refused in words; the
draft saved at last is on disk and `codeset lint` passes it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.browser import local_only
from tests.teaching.servers import BIN, ROOT, free_port, make_command, running_server

APP = ROOT / "notebooks" / "teaching" / "builder_app.ipynb"
DATASET = ROOT / "data" / "synthetic" / "default"
LUNG = "Malignant tumour of lung (363358000)"
PRIMARY_LUNG = "Primary malignant neoplasm of lung (93880001)"
SMALL_CELL = "Small cell carcinoma of lung (254632001)"
SKIN_BCC = "Basal cell carcinoma of skin (254701007)"
WAIT_MS = 30_000


@pytest.fixture(scope="session")
def drafts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drafts")


@pytest.fixture(scope="session")
def voila(drafts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The builder app served by Voilà as `make builder` serves it; its URL."""
    if not (DATASET / "clinical_events.parquet").is_file():
        pytest.fail(f"no dataset at {DATASET}: `make test` writes it first (`make data`)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = make_command("builder", BUILDER_PORT=str(port))
    assert command[1:] == [str(APP.relative_to(ROOT)), f"--port={port}", "--no-browser"]
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with running_server(
        command, f"{url}voila/static/voila.js", log, env={"CODESET_DRAFTS_DIR": str(drafts)}
    ):
        yield url


def test_the_app_notebook_is_stored_stripped_with_parameters_first() -> None:
    cells = [c for c in nbformat.read(APP, as_version=4).cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in cells)
    assert cells[0].metadata.get("tags") == ["parameters"]
    assert 'dataset_dir = "data/synthetic/default"' in cells[0].source


class Learner:
    """One page of the app, with what a learner does and reads there."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.message = page.locator(".codeset-builder-message")

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name, exact=True).click()

    def field(self, label: str) -> Any:
        return self.page.get_by_label(label, exact=True)

    def find_and_pick(self, words: str, option: str) -> None:
        self.tab("Browse")
        self.field("Search").fill(words)
        self.field("Search").press("Enter")
        self.said("concept(s) found")
        self.field("Results").select_option(label=option)
        self.page.get_by_text(option.split(" (")[0], exact=True).first.wait_for()

    def press(self, button: str) -> None:
        self.page.get_by_role("button", name=button, exact=True).click()

    def said(self, words: str) -> str:
        """Wait for the message line to hold `words`; return it."""
        from playwright.sync_api import expect

        expect(self.message).to_contain_text(words, timeout=WAIT_MS)
        return self.message.inner_text()

    def patients_found(self) -> int:
        table = self.page.locator(".codeset-builder-summary table")
        headers = table.locator("th").all_inner_texts()
        cells = table.locator("tbody td").all_inner_texts()
        return int(cells[headers.index("Patients found")].replace(",", ""))


def test_a_learner_builds_and_saves_a_codeset_in_the_browser(
    voila: str, chromium_browser: Any, drafts: Path
) -> None:
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 1000})
    outside = local_only(page, voila)
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(voila)
        learner = Learner(page)
        learner.field("Search").wait_for()
        assert learner.patients_found() == 0

        # Lung cancer with its descendants.
        learner.find_and_pick("malignant tumour of lung", LUNG)
        assert PRIMARY_LUNG.replace(" ", "\xa0") in learner.field("Children").inner_text()
        learner.tab("Rules")
        assert learner.field("with descendants").is_checked()
        learner.press("Include")
        assert "Added R1: include 363358000" in learner.said("Added R1")
        with_small_cell = learner.patients_found()
        assert with_small_cell > 0

        # Down the hierarchy to small cell carcinoma, and exclude it: fewer patients.
        learner.tab("Browse")
        learner.field("Children").select_option(label=PRIMARY_LUNG)
        learner.field("Children").locator("option", has_text="Small cell carcinoma").wait_for()
        learner.field("Children").select_option(label=SMALL_CELL)
        learner.tab("Rules")
        learner.press("Exclude")
        learner.said("Added R2: exclude 254632001")
        without = learner.patients_found()
        assert 0 < without < with_small_cell
        learner.tab("Codes and patients")
        codes = page.locator(".codeset-builder-codes").inner_text()
        assert "Primary malignant neoplasm of lung" in codes and "254632001" not in codes

        # An exclude of a concept that is not included is refused in words.
        learner.find_and_pick("basal cell carcinoma skin", SKIN_BCC)
        learner.tab("Rules")
        learner.press("Exclude")
        refusal = learner.said("would change nothing")
        assert "none of its codes is in the codeset" in refusal
        assert learner.patients_found() == without

        # Saving without a title, then with an id that is not one, is refused, saying why.
        learner.tab("Save")
        learner.field("Codeset id").fill("lung_cancer_not_small_cell")
        learner.field("Purpose").fill("Identify patients with lung cancer other than small cell.")
        learner.press("Save draft")
        assert "give it a title" in learner.said("give it a title")
        assert not (drafts / "lung_cancer_not_small_cell").exists()
        learner.field("Title").fill("Lung cancer, not small cell (draft)")
        learner.field("Codeset id").fill("Lung cancer")
        learner.press("Save draft")
        learner.said("'Lung cancer' is not a codeset id")
        assert list(drafts.iterdir()) == []

        learner.field("Codeset id").fill("lung_cancer_not_small_cell")
        learner.press("Save draft")
        saved = learner.said("Saved the draft codeset")
        assert "codeset lint finds nothing to fix" in saved
        assert "Traceback" not in page.content()
        assert outside == []
    finally:
        page.close()

    folder = drafts / "lung_cancer_not_small_cell"
    assert sorted(p.name for p in folder.iterdir()) == ["codes.csv", "codeset.yaml"]
    assert re.search(
        r"^title: Lung cancer, not small cell \(draft\)$",
        (folder / "codeset.yaml").read_text(),
        re.M,
    )
    lint = subprocess.run(
        [str(BIN / "codeset"), "lint", str(folder)], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 finding(s)" in lint.stdout
