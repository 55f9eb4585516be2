"""What the builder refuses, in words and leaving the draft as it was: rules that would change
nothing, inactive concepts, bad decisions, and drafts without an id, a title or a purpose, or that
would replace a folder the builder did not save."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesetlib.codesets.files import load_codeset
from codesetlib.codesets.lint import lint_codeset
from codesetlib.core.errors import CodesetError
from codesetlib.teaching import BuilderError
from codesetlib.teaching.builder import CodesetBuilder, missing_details, rule_from
from codesetlib.teaching.widgets import CodesetBuilderApp, drafts_folder
from tests.teaching.conftest import BCC, LUNG, PRIMARY_LUNG, SMALL_CELL

INACTIVE = "29999999105"  # Malignant neoplasm of large bowel NOS, replaced by 363510005
TITLE = "Lung cancer (draft)"
PURPOSE = "Identify patients with a recorded diagnosis of lung cancer."


def test_an_exclude_of_what_is_not_included_is_refused(builder: CodesetBuilder) -> None:
    with pytest.raises(BuilderError, match="nothing is included yet"):
        builder.exclude(SMALL_CELL)
    builder.include(LUNG)
    with pytest.raises(BuilderError, match=r"exclude 254701007 .* none of its codes is in"):
        builder.exclude(BCC)
    builder.exclude(SMALL_CELL)
    with pytest.raises(BuilderError, match="would change nothing"):
        builder.exclude(SMALL_CELL)
    assert [r.id for r in builder.rules] == ["R1", "R2"]
    assert builder.include(BCC).id == "R3"  # a refused rule used no number


def test_an_include_that_adds_nothing_is_refused(builder: CodesetBuilder) -> None:
    builder.include(LUNG)
    with pytest.raises(BuilderError, match="its codes are already included"):
        builder.include(PRIMARY_LUNG)
    with pytest.raises(BuilderError, match="the search finds no active concept"):
        builder.include_search("no such words anywhere")
    assert len(builder.rules) == 1


def test_an_unknown_or_inactive_concept_is_refused_in_words(builder: CodesetBuilder) -> None:
    with pytest.raises(BuilderError, match=r"is inactive .* replacement instead \(REPLACED_BY"):
        builder.include(INACTIVE)
    with pytest.raises(CodesetError, match="12345 is not a valid snomedct code"):
        builder.include("12345")
    assert builder.rules == []


def test_a_bad_action_or_decision_is_refused_in_words(builder: CodesetBuilder) -> None:
    with pytest.raises(BuilderError, match="'keep' is not a rule action"):
        rule_from(id="R1", action="keep", concept=LUNG, term="Malignant tumour of lung")
    with pytest.raises(BuilderError, match=r"cannot make that rule: .* gives the term it names"):
        rule_from(id="R1", action="include", concept=LUNG)
    builder.include(LUNG)
    with pytest.raises(BuilderError, match="'maybe' is not a decision"):
        builder.decide("R1", "Lung cancer of any type.", "maybe")  # type: ignore[arg-type]
    assert builder.decisions == []


def test_saving_names_each_missing_detail(builder: CodesetBuilder, tmp_path: Path) -> None:
    drafts = tmp_path / "drafts"
    assert missing_details(" ", "", "A purpose.") == ["an id", "a title"]
    builder.include(LUNG)
    with pytest.raises(BuilderError, match=r"give it an id, a title and a purpose$"):
        builder.save_draft(drafts, "", title=" ", purpose="")
    with pytest.raises(BuilderError, match=r"give it a purpose$"):
        builder.save(drafts / "lung", title=TITLE, purpose="  ")
    with pytest.raises(BuilderError, match="'Lung' is not a codeset id"):
        builder.save_draft(drafts, "Lung", title=TITLE, purpose=PURPOSE)
    # An id names a folder inside the drafts folder, never one elsewhere.
    with pytest.raises(BuilderError, match=r"'\.\./lung' is not a codeset id"):
        builder.save_draft(drafts, "../lung", title=TITLE, purpose=PURPOSE)
    assert not (tmp_path / "lung").exists()
    assert not drafts.exists()


def test_a_draft_saved_again_is_replaced_but_no_other_folder(
    builder: CodesetBuilder, tmp_path: Path
) -> None:
    drafts = tmp_path / "drafts"
    builder.include(LUNG)
    folder = builder.save_draft(drafts, "lung", title=TITLE, purpose=PURPOSE)
    builder.exclude(SMALL_CELL)
    assert builder.save_draft(drafts, "lung", title=TITLE, purpose=PURPOSE) == folder
    assert len(load_codeset(folder).rules) == 2

    # Another session's draft of the same id is kept, unless replacing it is asked for.
    other = CodesetBuilder(builder.terminology)
    other.include(BCC)
    with pytest.raises(BuilderError, match=r"was saved before .* choose another id"):
        other.save_draft(drafts, "lung", title=TITLE, purpose=PURPOSE)
    other.save(folder, title=TITLE, purpose=PURPOSE, replace=True)
    assert [r.concept for r in load_codeset(folder).rules] == [BCC]

    # A folder holding anything else is never replaced.
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(BuilderError, match=r"files the builder did not write \(notes.txt\)"):
        other.save(folder, title=TITLE, purpose=PURPOSE, replace=True)
    hand_made = drafts / "hand_made"
    hand_made.mkdir()
    (hand_made / "codeset.yaml").write_text("id: hand_made\n")
    with pytest.raises(BuilderError, match="no codeset the builder can read"):
        other.save(hand_made, title=TITLE, purpose=PURPOSE, replace=True)
    assert (hand_made / "codeset.yaml").read_text() == "id: hand_made\n"
    assert sorted(p.name for p in drafts.iterdir()) == ["hand_made", "lung"]


def test_the_app_says_what_is_missing_and_what_lint_found(
    builder: CodesetBuilder, tmp_path: Path
) -> None:
    app = CodesetBuilderApp(builder, drafts_dir=tmp_path)
    assert app.codeset_id.value == ""
    app.builder.select(LUNG)
    app.include_button.click()
    app.save_button.click()
    assert "give it an id, a title and a purpose" in app.message.value
    app.codeset_id.value, app.title.value, app.purpose.value = "lung", TITLE, PURPOSE
    app.save_button.click()
    assert "codeset lint finds nothing to fix" in app.message.value
    assert lint_codeset(tmp_path / "lung") == []
    app.builder.select(BCC)
    app.exclude_button.click()
    assert "would change nothing" in app.message.value
    assert len(app.builder.rules) == 1


def test_drafts_go_where_the_notebook_or_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CODESET_DRAFTS_DIR", raising=False)
    assert drafts_folder().parts[-3:] == ("notebooks", "teaching", "drafts")
    monkeypatch.setenv("CODESET_DRAFTS_DIR", str(tmp_path))
    assert drafts_folder() == tmp_path
    assert drafts_folder(tmp_path / "class") == tmp_path / "class"
