"""The builder's widgets without a browser: the tree builds, and simulated events update the builder
and the rendered tables."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import pytest

from codesetlib.codesets.files import load_codeset
from codesetlib.teaching.builder import CodesetBuilder
from codesetlib.teaching.widgets import CodesetBuilderApp
from tests.teaching.conftest import LUNG, PRIMARY_LUNG, SMALL_CELL


@pytest.fixture
def app(builder: CodesetBuilder, tmp_path: Path) -> CodesetBuilderApp:
    return CodesetBuilderApp(builder, drafts_dir=tmp_path / "drafts")


def descendants_of(widget: widgets.Widget) -> list[widgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += descendants_of(child)
    return found


def test_the_widget_tree_builds(app: CodesetBuilderApp) -> None:
    tree = app.widget()
    every = descendants_of(tree)
    assert isinstance(tree, widgets.VBox)
    for part in (app.query, app.results, app.include_button, app.save_button, app.codes_html):
        assert part in every
    assert "No rules yet" in app.rules_html.value
    assert "No codes yet" in app.codes_html.value


def test_typing_a_search_lists_concepts(app: CodesetBuilderApp) -> None:
    app.query.value = "lung"
    assert (f"Malignant tumour of lung ({LUNG})", LUNG) in app.results.options
    assert "concept(s) found" in app.message.value


def test_picking_a_concept_shows_its_parents_and_children(app: CodesetBuilderApp) -> None:
    app.query.value = "lung"
    app.results.value = LUNG
    assert app.builder.selected.code == LUNG
    assert "Malignant tumour of lung" in app.concept.value
    assert [code for _, code in app.children.options] == [PRIMARY_LUNG]
    app.children.value = PRIMARY_LUNG
    assert app.builder.selected.code == PRIMARY_LUNG
    assert SMALL_CELL in [code for _, code in app.children.options]


def test_include_updates_the_builder_and_the_tables(app: CodesetBuilderApp) -> None:
    app.builder.select(PRIMARY_LUNG)
    app.descendants.value = False
    app.include_button.click()
    assert [r.concept for r in app.builder.rules] == [PRIMARY_LUNG]
    assert "Added R1" in app.message.value
    assert "Primary malignant neoplasm of lung" in app.rules_html.value
    # Patients 1 and 2 have primary lung cancer in the tiny dataset (disclosure is off there).
    assert "<td>93880001</td>" in app.codes_html.value
    assert SMALL_CELL not in app.codes_html.value
    app.descendants.value = True
    app.include_button.click()
    assert SMALL_CELL in app.codes_html.value
    assert "<td>3</td>" in app.summary_html.value


def test_exclude_and_search_rules(app: CodesetBuilderApp) -> None:
    app.builder.select(LUNG)
    app.include_button.click()
    app.search_term.value = "small cell"
    app.within_selected.value = True
    app.exclude_search_button.click()
    assert app.builder.rules[-1].search == "small cell"
    assert app.builder.rules[-1].within == LUNG
    assert SMALL_CELL not in {r.code for r in app.builder.codes()}
    app.builder.select(SMALL_CELL)
    app.exclude_button.click()
    assert app.builder.rules[-1].action == "exclude"


def test_decide_and_remove_a_rule(app: CodesetBuilderApp) -> None:
    app.builder.select(LUNG)
    app.include_button.click()
    app.rule_choice.value = "R1"
    app.rationale.value = "Lung cancer of any type."
    app.decide_button.click()
    assert app.builder.decision("R1").rationale == "Lung cancer of any type."
    assert "include: Lung cancer of any type." in app.rules_html.value
    app.remove_button.click()
    assert app.builder.rules == []
    assert "No codes yet" in app.codes_html.value


def test_errors_are_shown_not_raised(app: CodesetBuilderApp) -> None:
    app.include_button.click()
    assert "no concept is selected" in app.message.value
    app.decide_button.click()
    assert "no rule to choose" in app.message.value


def test_save_writes_a_draft_codeset(app: CodesetBuilderApp) -> None:
    app.builder.select(LUNG)
    app.include_button.click()
    app.codeset_id.value = "lung_draft"
    app.title.value = "Lung cancer (draft)"
    app.purpose.value = "Identify patients with lung cancer."
    app.save_button.click()
    folder = app.drafts_dir / "lung_draft"
    assert "Saved the draft codeset" in app.message.value
    assert load_codeset(folder).title == "Lung cancer (draft)"
    assert (folder / "codes.csv").is_file()
