"""The codeset builder without a browser: search, browse, rules, decisions, counts and saving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from codesetlib.codesets.files import load_codeset, read_codes
from codesetlib.codesets.lint import lint_codeset
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.teaching import BuilderError
from codesetlib.teaching.builder import CodesetBuilder
from tests.teaching.conftest import BCC, LUNG, PRIMARY_LUNG, SMALL_CELL

LUNG_SUBTREE = {
    LUNG,
    PRIMARY_LUNG,
    SMALL_CELL,
    "254637007",
    "254626006",
    "254629004",
    "254634000",
}
NON_SMALL_CELL = "254637007"
NON_SMALL_CELL_SUBTREE = {NON_SMALL_CELL, "254626006", "254629004", "254634000"}
DAY = dt.date(2025, 1, 15)


def codes(builder: CodesetBuilder) -> set[str]:
    return {row.code for row in builder.codes()}


def test_search_finds_active_concepts_with_every_word_in_term_order(
    builder: CodesetBuilder,
) -> None:
    found = builder.search("carcinoma lung")
    terms = [c.term for c in found]
    assert terms == sorted(terms, key=str.lower)
    assert {"Adenocarcinoma of lung", "Small cell carcinoma of lung"} <= set(terms)
    assert all(c.active for c in found)
    assert len(builder.search("lung", limit=2)) == 2
    assert builder.search("l") == []


def test_select_and_browse_the_hierarchy(builder: CodesetBuilder) -> None:
    assert builder.select(PRIMARY_LUNG).term == "Primary malignant neoplasm of lung"
    # A polyhierarchy: primary lung cancer is both lung cancer and a primary malignant neoplasm.
    assert [c.code for c in builder.parents()] == [LUNG, "372087000"]
    assert {c.code for c in builder.children()} == {SMALL_CELL, NON_SMALL_CELL}
    assert [c.code for c in builder.children(LUNG)] == [PRIMARY_LUNG]


def test_nothing_selected_is_refused(builder: CodesetBuilder) -> None:
    with pytest.raises(BuilderError, match="no concept is selected"):
        builder.include()


def test_include_with_and_without_descendants(builder: CodesetBuilder) -> None:
    builder.select(LUNG)
    rule = builder.include(descendants=False)
    assert (rule.id, rule.concept, rule.descendants, rule.term) == (
        "R1",
        LUNG,
        False,
        "Malignant tumour of lung",
    )
    assert codes(builder) == {LUNG}
    builder.include(LUNG)
    assert codes(builder) == LUNG_SUBTREE


def test_exclude_with_and_without_descendants(builder: CodesetBuilder) -> None:
    builder.include(LUNG)
    builder.exclude(NON_SMALL_CELL, descendants=False)
    assert codes(builder) == LUNG_SUBTREE - {NON_SMALL_CELL}
    builder.exclude(NON_SMALL_CELL)
    assert codes(builder) == LUNG_SUBTREE - NON_SMALL_CELL_SUBTREE


def test_search_rules_within_a_concept(builder: CodesetBuilder) -> None:
    rule = builder.include_search("carcinoma", within=LUNG)
    assert (rule.search, rule.within) == ("carcinoma", LUNG)
    assert codes(builder) == {"254632001", "254626006", "254629004", "254634000"}
    builder.exclude_search("small cell")
    assert codes(builder) == {"254626006", "254629004", "254634000"}
    with pytest.raises(BuilderError, match="two characters"):
        builder.include_search(" x ")


def test_rule_ids_keep_counting_after_a_removal(builder: CodesetBuilder) -> None:
    builder.include(LUNG)
    builder.exclude(NON_SMALL_CELL)
    builder.decide("R2", "Only small cell cancer is studied.", today=DAY)
    removed = builder.remove_rule("R2")
    assert removed.concept == NON_SMALL_CELL
    assert builder.decisions == []
    assert builder.include(BCC).id == "R3"
    with pytest.raises(BuilderError, match=r"no rule R9 \(rules: R1, R3\)"):
        builder.remove_rule("R9")


def test_decisions_default_to_the_rule_action_and_replace_earlier_ones(
    builder: CodesetBuilder,
) -> None:
    builder.include(LUNG)
    first = builder.decide("R1", "Lung cancer of any type.", today=DAY)
    assert (first.about, first.decision, first.by, first.date) == (
        "R1",
        "include",
        builder.author,
        DAY,
    )
    builder.decide("R1", "Ask the clinical reviewer.", "review", today=DAY)
    assert [(d.decision, d.rationale) for d in builder.decisions] == [
        ("review", "Ask the clinical reviewer.")
    ]
    assert builder.rules_table()["Decision"].tolist() == ["review: Ask the clinical reviewer."]
    with pytest.raises(BuilderError, match="rationale"):
        builder.decide("R1", "  ")


def test_patients_per_code_hand_computed(builder: CodesetBuilder) -> None:
    builder.include(LUNG)
    table = builder.patients_per_code()
    assert table[["Code", "Patients", "Events"]].head(3).to_dict("list") == {
        "Code": [PRIMARY_LUNG, SMALL_CELL, LUNG],
        "Patients": [2, 1, 1],
        "Events": [3, 1, 1],
    }
    assert len(table) == len(LUNG_SUBTREE)
    assert set(table.loc[3:, "Patients"]) == {0}
    assert table.loc[0, "Rule"] == "R1"
    assert builder.patient_count() == 3
    assert builder.summary()["Patients found"].tolist() == [3]


def test_counts_are_protected_by_default(builder: CodesetBuilder) -> None:
    builder.disclosure = DisclosureSettings()
    builder.include(LUNG)
    table = builder.patients_per_code()
    assert table["Patients"].head(3).tolist() == ["≤7", "≤7", "≤7"]
    assert set(table["Patients"].iloc[3:]) == {"0"}
    assert builder.summary()["Patients found"].tolist() == ["≤7"]
    exact = builder.patients_per_code(protected=False)
    assert exact["Patients"].head(1).tolist() == [2]


def test_without_a_dataset_there_are_codes_but_no_counts(builder: CodesetBuilder) -> None:
    builder.counter = None
    builder.include(LUNG, descendants=False)
    assert list(builder.patients_per_code().columns) == ["Code", "Term", "Rule"]
    assert builder.patient_count() is None
    assert "Patients found" not in builder.summary()


def test_an_empty_builder_gives_no_codes(builder: CodesetBuilder) -> None:
    assert builder.codes() == []
    assert builder.patients_per_code().empty
    assert builder.rules_table().empty
    with pytest.raises(BuilderError, match="at least one rule"):
        builder.to_codeset("lung")


def test_save_then_load_round_trip_and_lint(builder: CodesetBuilder, tmp_path: Path) -> None:
    builder.include(LUNG, note="Lung cancer and its subtypes.")
    builder.exclude(NON_SMALL_CELL)
    builder.decide("R1", "Lung cancer of any type.", today=DAY)
    builder.decide("R2", "The study is of small cell lung cancer.", today=DAY)
    purpose = "Identify patients with small cell lung cancer."
    folder = builder.save(
        tmp_path / "small_cell_lung", title="Small cell lung cancer", purpose=purpose
    )
    codeset = load_codeset(folder)
    assert codeset == builder.to_codeset(
        "small_cell_lung", title="Small cell lung cancer", purpose=purpose
    )
    assert (codeset.status, codeset.version, codeset.terminology_release) == (
        "draft",
        "0.1.0",
        "snomedct-teaching-20240401",
    )
    assert read_codes(folder) == builder.codes()
    findings = lint_codeset(folder)
    assert [f for f in findings if f.severity == "error"] == []
    assert not [f for f in findings if f.check == "codes-drift"]


def test_a_bad_codeset_id_is_refused(builder: CodesetBuilder, tmp_path: Path) -> None:
    builder.include(LUNG)
    with pytest.raises(BuilderError, match="not a codeset id"):
        builder.save(tmp_path / "Lung Cancer", title="Lung cancer", purpose="Find lung cancer.")


def test_a_builder_starts_from_an_existing_codeset(builder: CodesetBuilder) -> None:
    builder.include(LUNG)
    builder.decide("R1", "Lung cancer of any type.", today=DAY)
    again = CodesetBuilder.from_codeset(builder.to_codeset("lung"))
    assert again.rules == builder.rules
    assert again.decisions == builder.decisions
    assert codes(again) == LUNG_SUBTREE
