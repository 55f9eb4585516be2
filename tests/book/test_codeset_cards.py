"""Codeset cards as a reviewer reads them: rendered from the repository's codesets without a book
build, and (marked `book`) their links and downloads in the built record."""

import csv
import html
import json
import re
import shutil
from pathlib import Path

import pytest

from codesetlib.codesets.expand import expand_rules, rule_matches
from codesetlib.codesets.files import CODES_FILE, load_codeset, read_codes, write_codes
from codesetlib.codesets.interchange import new_codeset, rules_from_file, write_codeset
from codesetlib.codesets.model import CodesetRule
from codesetlib.codesets.versions import version_dir
from codesetlib.core.csvfiles import csv_text
from codesetlib.record.book.cards import (
    OVERVIEW_PAGE,
    codeset_card,
    decision_for,
    version_files,
    write_cards,
)
from codesetlib.record.book.disclosure_scan import _Tables
from codesetlib.record.study import load_study
from codesetlib.terminology import open_release
from tests.book.conftest import ROOT

CODESETS = ROOT / "codesets"
CANCER = CODESETS / "cancer_diagnosis"
DIABETES = CODESETS / "diabetes"


def text_of(page: str) -> str:
    """Text as a reader sees it: tags dropped, entities decoded, white space folded."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def sections(card: str) -> dict[str, str]:
    """The card's text under each `##` and `###` heading (a `##` holds only its own text)."""
    parts = re.split(r"^#{2,3} (.*)$", card, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def tables(markup: str) -> list[tuple[list[str], list[list[str]]]]:
    parser = _Tables()
    parser.feed(markup)
    return [(header, rows) for _, header, rows in parser.tables]


def rows_of(markup: str) -> list[dict[str, str]]:
    """The rows of the one table in `markup`, as column → cell."""
    [(header, rows)] = tables(markup)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def cancer_card() -> str:
    return codeset_card(CANCER)


def test_each_rule_decision_is_stated_once_on_the_cancer_card(cancer_card: str):
    codeset = load_codeset(CANCER)
    text = text_of(cancer_card)
    for rule in codeset.rules:
        decision = decision_for(codeset, rule.id)
        assert decision, rule.id
        assert text.count(decision) == 1, (rule.id, text.count(decision))
        assert rule.target in text, rule.id


def test_codes_are_grouped_under_the_rule_that_brought_them_in(cancer_card: str):
    codeset = load_codeset(CANCER)
    parts = sections(cancer_card)
    codes = read_codes(CANCER)
    assert f"Codes ({len(codes)})" in parts
    for rule in (r for r in codeset.rules if r.action == "include"):
        listed = rows_of(parts[f"Brought in by {rule.id}"])
        expected = [r for r in codes if r.rule == rule.id]
        assert [(r["Code"], r["Term"]) for r in listed] == [(r.code, r.term) for r in expected]


def test_a_code_keeps_its_own_decision_on_its_row(cancer_card: str):
    codeset = load_codeset(CANCER)
    listed = {r["Code"]: r for r in rows_of(sections(cancer_card)["Brought in by R1"])}
    merkel = decision_for(codeset, "253001006")
    assert merkel.startswith("include: Merkel cell carcinoma")
    assert listed["253001006"]["Decision about the code"] == merkel
    # A code with no decision of its own does not repeat its rule's decision.
    assert listed["363346000"]["Decision about the code"] == ""


def test_every_excluded_code_is_listed_with_its_term(cancer_card: str):
    codeset = load_codeset(CANCER)
    terminology = open_release(codeset.terminology_release)
    parts = sections(cancer_card)
    included = rule_matches(codeset.rule("R1"), terminology)
    left = set(included) - {r.code for r in read_codes(CANCER)}
    shown: dict[str, str] = {}
    for rule in (r for r in codeset.rules if r.action == "exclude"):
        rows = rows_of(parts[f"Removed by {rule.id}"])
        matched = rule_matches(rule, terminology)
        for row in rows:
            assert row["Code"] in matched, (rule.id, row["Code"])
            assert row["Term"] == terminology.concept(row["Code"]).term
            assert row["Brought in by"] == "R1"
            shown[row["Code"]] = rule.id
    assert set(shown) == left
    # Carcinoma of cervix stage 0 is removed by the in-situ rule, with its own decision beside it.
    r7 = {r["Code"]: r for r in rows_of(parts["Removed by R7"])}
    assert r7["254889004"]["Decision about the code"] == decision_for(codeset, "254889004")


def test_the_rules_table_counts_what_each_rule_matched_added_and_removed(cancer_card: str):
    codeset = load_codeset(CANCER)
    terminology = open_release(codeset.terminology_release)
    rows = rows_of(sections(cancer_card)["Rules"])
    assert [r["Rule"] for r in rows] == [r.id for r in codeset.rules]
    for row, rule in zip(rows, codeset.rules, strict=True):
        assert int(row["Matched"]) == len(rule_matches(rule, terminology)), rule.id
        assert (int(row["Added"]) == 0) == (rule.action == "exclude"), rule.id
    removed = {r["Rule"]: int(r["Removed"]) for r in rows}
    parts = sections(cancer_card)
    for rule in (r for r in codeset.rules if r.action == "exclude"):
        assert removed[rule.id] == len(rows_of(parts[f"Removed by {rule.id}"])), rule.id
    added = sum(int(r["Added"]) for r in rows)
    assert added - sum(removed.values()) == len(read_codes(CANCER))


def test_the_decision_log_shows_each_code_term_and_rule_target(cancer_card: str):
    codeset = load_codeset(CANCER)
    terminology = open_release(codeset.terminology_release)
    log = rows_of(sections(cancer_card)["Decision log"])
    assert [r["About"] for r in log] == [d.about for d in codeset.decisions]
    for row in log:
        rule = codeset.rule(row["About"])
        expected = rule.target if rule else terminology.concept(row["About"]).term
        assert row["Names"] == expected, row["About"]
    names = {r["About"]: r["Names"] for r in log}
    assert names["253001006"] == "Merkel cell carcinoma"
    # A decision about a code outside the expansion still names the code.
    assert names["266987004"] == terminology.concept("266987004").term


def test_an_older_version_card_compares_with_the_version_before_it():
    assert "This is the first version." in codeset_card(DIABETES / "history" / "1.0.0")
    assert "From diabetes 1.0.0 (" in codeset_card(DIABETES)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cards, downloads and overview for the two codesets with the most to show, as the study
    writes them."""
    generated = tmp_path_factory.mktemp("cards") / "generated"
    write_cards({"cancer_diagnosis": CANCER, "diabetes": DIABETES}, generated)
    return generated


def download_paths(card: str) -> list[str]:
    return re.findall(r"\{download\}`[^<`]+<([^>]+)>`", card)


def test_every_version_is_offered_in_every_format(written: Path):
    cards = written / "codesets"
    for codeset_id, versions in {
        "cancer_diagnosis": ["1.0.0"],
        "diabetes": ["1.1.0", "1.0.0"],
    }.items():
        paths = download_paths((cards / f"{codeset_id}.md").read_text())
        assert paths == [
            f"downloads/{codeset_id}/{v}/{codeset_id}-{v}-{name}"
            for v in versions
            for name in ["codes.csv", "opencodelists.csv", "ehrql.csv", "atlas.json"]
        ]
        assert all((cards / p).is_file() for p in paths)


@pytest.mark.parametrize(
    ("codeset_id", "version", "folder"),
    [
        ("cancer_diagnosis", "1.0.0", CANCER),
        ("diabetes", "1.1.0", DIABETES),
        ("diabetes", "1.0.0", DIABETES / "history" / "1.0.0"),
    ],
)
def test_downloads_parse_back_with_the_kit_importers(
    written: Path, tmp_path: Path, codeset_id: str, version: str, folder: Path
):
    base = written / "codesets" / "downloads" / codeset_id / version
    recorded = read_codes(folder)
    codeset = load_codeset(folder)
    terminology = open_release(codeset.terminology_release)
    back = tmp_path / "back"
    back.mkdir()
    shutil.copy(base / f"{codeset_id}-{version}-codes.csv", back / CODES_FILE)
    assert read_codes(back) == recorded
    for fmt, name in [("opencodelists", "opencodelists.csv"), ("ehrql", "ehrql.csv")]:
        rules = rules_from_file(base / f"{codeset_id}-{version}-{name}", fmt, terminology)
        assert [r.code for r in rules] == [r.code for r in recorded], fmt
    rules = rules_from_file(base / f"{codeset_id}-{version}-atlas.json", "atlas", terminology)
    imported = codeset.model_copy(update={"rules": rules})
    assert expand_rules(imported, terminology).code_set == {r.code for r in recorded}


def test_the_overview_lists_every_codeset_with_a_link_to_its_card(written: Path):
    page = (written / OVERVIEW_PAGE).read_text()
    rows = rows_of(page)
    assert [r["Codeset"] for r in rows] == ["cancer_diagnosis", "diabetes"]
    for row, folder in zip(rows, [CANCER, DIABETES], strict=True):
        codeset = load_codeset(folder)
        assert row["Title"] == codeset.title
        assert row["Version"] == codeset.version and row["Status"] == codeset.status
        assert int(row["Codes"]) == len(read_codes(folder))
        for reviewer in codeset.reviewers:
            assert f"{reviewer.name}, signed off {reviewer.date}" in row["Reviewers"]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', page)
    assert links == [(f"generated/codesets/{i}.html", i) for i in ["cancer_diagnosis", "diabetes"]]


def test_a_second_write_gives_the_same_files_and_a_dropped_codeset_leaves(
    written: Path, tmp_path: Path
):
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    again = tmp_path / "generated"
    write_cards({"cancer_diagnosis": CANCER, "diabetes": DIABETES}, again)
    assert files(again) == files(written)
    write_cards({"cancer_diagnosis": CANCER}, again)
    left = files(again)
    assert not [name for name in left if "diabetes" in name]
    assert "codesets/cancer_diagnosis.md" in left
    assert [r["Codeset"] for r in rows_of((again / OVERVIEW_PAGE).read_text())] == [
        "cancer_diagnosis"
    ]


def test_cells_a_spreadsheet_would_run_are_escaped():
    terms = ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "plain - text"]
    text = csv_text(["code", "term"], ([str(n), t] for n, t in enumerate(terms, start=1)))
    rows = list(csv.reader(text.splitlines()))
    assert [r[1] for r in rows[1:]] == [
        '\'=HYPERLINK("x")',
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "plain - text",
    ]


def test_a_recorded_term_that_looks_like_a_formula_is_escaped_in_codes_csv(tmp_path: Path):
    folder = tmp_path / "codesets" / "cancer_diagnosis"
    shutil.copytree(CANCER, folder)
    rows = read_codes(folder)
    write_codes(folder, [rows[0].model_copy(update={"term": "=1+1"}), *rows[1:]])
    files, _ = version_files(folder)
    cells = next(csv.DictReader(files["codes"].splitlines()))
    assert cells["term"] == "'=1+1"


def test_a_format_that_cannot_express_the_rules_says_why(tmp_path: Path):
    folder = tmp_path / "codesets" / "by_search"
    release = load_codeset(CANCER).terminology_release
    codeset = new_codeset(
        "by_search",
        title="Found by search",
        coding_system="snomedct",
        release=release,
        rules=[CodesetRule(id="R1", action="include", search="carcinoma")],
        author="Tester",
        purpose="A codeset defined by a search.",
    )
    write_codeset(folder, codeset)
    write_codes(folder, expand_rules(codeset).codes)
    generated = tmp_path / "generated"
    write_cards({"by_search": folder}, generated)
    card = (generated / "codesets" / "by_search.md").read_text()
    assert "ATLAS not available (rule R1 selects by search" in card
    assert len(download_paths(card)) == 3
    version = generated / "codesets" / "downloads" / "by_search" / "0.1.0"
    assert sorted(p.name for p in version.iterdir()) == [
        "by_search-0.1.0-codes.csv",
        "by_search-0.1.0-ehrql.csv",
        "by_search-0.1.0-opencodelists.csv",
    ]


def built_card_downloads(built: Path, codeset_id: str) -> list[Path]:
    page = built.parent / "generated" / "codesets" / f"{codeset_id}.html"
    hrefs = re.findall(
        r'<a class="reference download internal"[^>]*href="([^"]+)"', page.read_text()
    )
    return [(page.parent / html.unescape(h)).resolve() for h in hrefs]


@pytest.mark.book
def test_the_built_card_links_downloads_that_exist_in_the_site(built: Path):
    site = built.parent.resolve()
    generated = built.parent.parent.parent / "generated" / "codesets"
    for codeset_id, versions in {
        "cancer_diagnosis": ["1.0.0"],
        "diabetes": ["1.1.0", "1.0.0"],
    }.items():
        links = built_card_downloads(built, codeset_id)
        assert len(links) == 4 * len(versions), codeset_id
        for link in links:
            assert link.is_file() and site in link.parents, link
            version = link.name.removeprefix(f"{codeset_id}-").split("-")[0]
            source = generated / "downloads" / codeset_id / version / link.name
            assert link.read_bytes() == source.read_bytes(), link.name
        atlas = [json.loads(p.read_text()) for p in links if p.suffix == ".json"]
        assert all(a["items"] for a in atlas)


@pytest.mark.book
def test_the_built_overview_links_every_card_of_the_study(built: Path):
    page = built.parent / "codesets.html"
    hrefs = re.findall(r'<a href="(generated/codesets/[^"]+)">([^<]+)</a>', page.read_text())
    study = load_study(ROOT / "study.yaml")
    assert [i for _, i in hrefs] == [pin.id for pin in study.codesets]
    assert all((page.parent / href).is_file() for href, _ in hrefs)


@pytest.mark.book
def test_every_rule_and_code_appears_with_its_decision(built: Path):
    study = load_study(ROOT / "study.yaml")
    for pin in study.codesets:
        folder = version_dir(CODESETS, pin.id, pin.version)
        codeset = load_codeset(folder)
        page = built.parent / "generated" / "codesets" / f"{codeset.id}.html"
        card = text_of(page.read_text())
        for rule in codeset.rules:
            assert rule.target in card, rule.id
            decision = decision_for(codeset, rule.id)
            assert not decision or card.count(decision) == 1, (rule.id, decision)
        for row in read_codes(folder):
            cells = f"{row.code} {row.term} {'yes' if row.active else 'no'}"
            own = decision_for(codeset, row.code)
            assert f"{cells} {own}".strip() in card, row.code
