"""OMOP vocabulary tables (Athena's files, Parquet, a DuckDB CDM) open as one release per vocabulary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codesetlib.codesets.diff import diff_releases
from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import load_codeset
from codesetlib.codesets.interchange import export_codeset, rules_from_file
from codesetlib.core.errors import CodesetFormatError
from codesetlib.terminology import ReleaseSkipped, available_releases, open_release
from codesetlib.terminology.base import HierarchyCycle, MalformedRelease, MissingReleaseFile
from codesetlib.terminology.omop_vocabulary import (
    HIERARCHY_FROM_ANCESTOR,
    HIERARCHY_FROM_IS_A,
    NO_HIERARCHY,
    OmopVocabulary,
    VocabularySummary,
    find_releases,
    open_vocabulary,
    release_version,
)
from codesetlib.terminology.snomedct import SnomedCT
from tests.fixtures.athena.build import (
    COMMITTED,
    concept_id,
    write_athena,
    write_duckdb,
    write_parquet,
)
from tests.fixtures.rf2 import write_release

SNOMED = "omop-snomed-20240301"
BREAST = "254837009"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed Athena folder, found as a user's would be: a folder on the search path."""
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(COMMITTED.parent))
    return COMMITTED


@pytest.fixture(scope="module")
def snomed() -> OmopVocabulary:
    return open_vocabulary(COMMITTED, "SNOMED")


def test_the_committed_fixture_is_what_its_code_writes(tmp_path: Path) -> None:
    written = write_athena(tmp_path / "vocabulary")
    names = sorted(p.name for p in COMMITTED.iterdir())
    assert names == sorted(p.name for p in written.iterdir())
    for name in names:
        assert (COMMITTED / name).read_bytes() == (written / name).read_bytes(), name


def test_each_vocabulary_is_a_release_of_its_coding_system(on_path: Path) -> None:
    found = available_releases()
    systems = {rid: found[rid].system for rid in found if rid.startswith("omop-")}
    assert systems == {
        "omop-snomed-20240301": "snomedct",
        "omop-icd10-2021": "icd10",
        # No VOCABULARY row: the release is dated by its concepts' latest valid_start_date.
        "omop-icd10cm-20231001": "icd10",
        "omop-rxnorm-20240304": "omop:rxnorm",
    }
    assert isinstance(open_release(SNOMED), OmopVocabulary)
    assert found["snomedct-teaching-20240401"].system == "snomedct"  # the others are still found


def test_a_folder_named_on_the_path_is_itself_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(COMMITTED))
    assert SNOMED in available_releases()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01 SNOMED CT International Edition; 2024-04-10 SNOMED CT UK Edition", "20240301"),
        ("RxNorm 20240304", "20240304"),
        ("LOINC 2.76", "2.76"),
        ("ICD10CM FY2024 code descriptions", "2024"),
        (None, "20231001"),
    ],
)
def test_the_version_in_a_release_id(text: str | None, expected: str) -> None:
    vocabulary = text.split()[0] if text and text[0].isalpha() else "SNOMED"
    summary = VocabularySummary(vocabulary, 3, text, "20231001")
    assert release_version(summary) == expected


def test_lookup_gives_the_concept_name_and_whether_it_is_valid(snomed: OmopVocabulary) -> None:
    breast = snomed.concept(BREAST)
    assert (breast.term, breast.active, breast.system, breast.release) == (
        "Malignant neoplasm of breast",
        True,
        "snomedct",
        SNOMED,
    )
    assert snomed.concept("254838004").active is False  # invalid_reason U
    assert snomed.lookup("C50.9") is None  # another vocabulary's code
    assert snomed.code_problem("254837008") is not None  # SNOMED's check digit still applies
    found = snomed.omop_concept(BREAST)
    assert found is not None
    assert (found.concept_id, found.domain_id, found.standard_concept) == (
        concept_id(BREAST, "SNOMED"),
        "Condition",
        "S",
    )


def test_the_hierarchy_comes_from_concept_ancestor(snomed: OmopVocabulary) -> None:
    assert snomed.hierarchy_source == HIERARCHY_FROM_ANCESTOR
    assert snomed.parents(BREAST) == {"363346000"}
    assert snomed.children(BREAST) == {"188151006", "706970001", "403946000"}
    assert snomed.parents("93655004") == {"372244006", "372130007"}
    assert snomed.descendants_of("128462008") == {"94297009"}
    assert {"94297009", "188151006", "93655004"} <= snomed.descendants_of("363346000")
    # Invalid concepts are in no hierarchy; nor is an 'Is a' row that was itself deprecated.
    assert "254838004" not in snomed.descendants_of("55342001")
    assert snomed.parents("706970001") == {BREAST}


def test_without_concept_ancestor_the_hierarchy_comes_from_is_a(
    tmp_path: Path, snomed: OmopVocabulary
) -> None:
    folder = write_athena(tmp_path / "athena", ancestor=False)
    from_is_a = open_vocabulary(folder, "SNOMED")
    assert from_is_a.hierarchy_source == HIERARCHY_FROM_IS_A
    for code in snomed.codes():
        assert from_is_a.parents(code) == snomed.parents(code), code
        assert from_is_a.children(code) == snomed.children(code), code


def test_a_vocabulary_concept_ancestor_does_not_hold_uses_is_a() -> None:
    """ICD10's concepts are not standard, so CONCEPT_ANCESTOR has none of them even when present."""
    icd10 = open_vocabulary(COMMITTED, "ICD10")
    assert icd10.hierarchy_source == HIERARCHY_FROM_IS_A
    assert icd10.children("C50") == {"C50.9"}
    assert icd10.concept("C509").code == "C50.9"  # the written forms ICD-10 accepts elsewhere
    icd10cm = open_vocabulary(COMMITTED, "ICD10CM")
    assert icd10cm.descendants_of("C50.91") == {"C50.911"}
    assert icd10cm.code_problem("C50.911") is None


def test_a_vocabulary_without_any_hierarchy_is_flat(tmp_path: Path) -> None:
    folder = write_athena(tmp_path / "athena", ancestor=False)
    (folder / "CONCEPT_RELATIONSHIP.csv").unlink()
    flat = open_vocabulary(folder, "RxNorm")
    assert flat.hierarchy_source == NO_HIERARCHY
    assert flat.descendants_of("1191") == frozenset()
    assert flat.replacements("1191") == {}


def test_replacements_of_invalid_concepts_say_which_relationship(snomed: OmopVocabulary) -> None:
    assert snomed.replacements("254838004") == {"REPLACED_BY": {BREAST}, "MAPS_TO": {BREAST}}
    assert snomed.replacements("29999999105") == {"MAPS_TO": {"363510005"}}
    assert snomed.replacements(BREAST) == {}
    # A valid concept's 'Maps to' (ICD10 to SNOMED) is a mapping, not a replacement.
    assert open_vocabulary(COMMITTED, "ICD10").replacements("C50.9") == {}


def test_search_by_name(snomed: OmopVocabulary) -> None:
    assert {c.code for c in snomed.search("neoplasm breast")} == {"188151006", BREAST, "94297009"}
    assert "254838004" in {c.code for c in snomed.search("breast", include_inactive=True)}
    assert "254838004" not in {c.code for c in snomed.search("breast")}
    rxnorm = open_vocabulary(COMMITTED, "RxNorm")
    assert rxnorm.system == "omop:rxnorm"
    assert [c.code for c in rxnorm.search("aspirin tablet")] == ["243670"]


@pytest.mark.parametrize("form", ["parquet", "duckdb"])
def test_parquet_and_a_duckdb_cdm_read_as_the_csv_files_do(
    tmp_path: Path, snomed: OmopVocabulary, form: str
) -> None:
    if form == "parquet":
        path = write_parquet(tmp_path / "parquet")
    else:
        path = write_duckdb(tmp_path / "cdm.duckdb")
    assert [r.id for r in find_releases(path)] == [r.id for r in find_releases(COMMITTED)]
    other = open_vocabulary(path, "SNOMED")
    assert other.hierarchy_source == HIERARCHY_FROM_ANCESTOR
    assert sorted(other.codes()) == sorted(snomed.codes())
    for code in snomed.codes():
        assert other.lookup(code) == snomed.lookup(code)
        assert other.parents(code) == snomed.parents(code)
        assert other.replacements(code) == snomed.replacements(code)
        assert other.omop_concept(code) == snomed.omop_concept(code)


# Bad files ---------------------------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(COMMITTED, tmp_path / "athena"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_folder_without_concept_is_skipped_naming_it(tmp_path, monkeypatch) -> None:
    folder = _copy(tmp_path)
    (folder / "CONCEPT.csv").unlink()
    with pytest.raises(MissingReleaseFile, match=r"no CONCEPT\.csv") as raised:
        find_releases(folder)
    assert raised.value.path == str(folder)
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(tmp_path))
    with pytest.warns(ReleaseSkipped, match=f"skipped release folder {folder}: .*no CONCEPT.csv"):
        releases = available_releases()
    assert not any(rid.startswith("omop-") for rid in releases)


def test_a_missing_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "CONCEPT.csv", "\tconcept_code\t", "\tcode\t")
    with pytest.raises(MalformedRelease, match=r"missing column\(s\) concept_code") as raised:
        find_releases(folder)
    assert (raised.value.path, raised.value.line) == (str(folder / "CONCEPT.csv"), 1)


def test_a_missing_column_of_concept_ancestor_names_that_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "CONCEPT_ANCESTOR.csv", "min_levels_of_separation", "min_levels")
    with pytest.raises(MalformedRelease, match="min_levels_of_separation") as raised:
        open_vocabulary(folder, "SNOMED")
    assert raised.value.path == str(folder / "CONCEPT_ANCESTOR.csv")


def test_a_missing_column_of_a_parquet_table_names_the_file(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    folder = write_parquet(tmp_path / "parquet")
    table = pq.read_table(folder / "concept.parquet").drop_columns(["invalid_reason"])
    pq.write_table(table, folder / "concept.parquet")
    with pytest.raises(MalformedRelease, match=r"lacks column\(s\) invalid_reason") as raised:
        find_releases(folder)
    assert raised.value.path == str(folder / "concept.parquet")


def test_a_vocabulary_with_no_concepts_is_refused_naming_concept(tmp_path: Path) -> None:
    with pytest.raises(MalformedRelease, match="vocabulary LOINC has no concepts") as raised:
        open_vocabulary(COMMITTED, "LOINC")
    assert raised.value.path == str(COMMITTED / "CONCEPT.csv")
    folder = _copy(tmp_path)
    header = (folder / "CONCEPT.csv").read_text().splitlines()[0]
    (folder / "CONCEPT.csv").write_text(header + "\n")
    with pytest.raises(MalformedRelease, match="holds no concepts"):
        find_releases(folder)


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "\t254837009\t",
            "\t254837009\textra\t",
            4,
            None,
            "expected 10 tab-separated fields, found 11",
        ),
        ("\t188151006\t", "\t254837009\t", 5, "concept_code", "254837009 of SNOMED appears again"),
        ("\t706970001\t", "\t\t", 6, "concept_code", "blank concept_code"),
        ("4005\t", "4005x\t", 6, "concept_id", "concept_id 4005x is not a number"),
    ],
)
def test_a_bad_row_of_concept_names_its_line(tmp_path, old, new, line, field, message) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "CONCEPT.csv", old, new)
    with pytest.raises(MalformedRelease, match=message) as raised:
        open_vocabulary(folder, "SNOMED")
    error = raised.value
    assert (error.path, error.line, error.field) == (str(folder / "CONCEPT.csv"), line, field)


def test_a_cycle_in_concept_ancestor_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "CONCEPT_ANCESTOR.csv").open("a") as handle:
        handle.write("4003\t4002\t1\t1\n")  # breast cancer above malignancy, which is above it
    with pytest.raises(HierarchyCycle, match="is-a cycle") as raised:
        open_vocabulary(folder, "SNOMED")
    assert raised.value.path == str(folder / "CONCEPT_ANCESTOR.csv")
    assert raised.value.line is not None


# Codesets against a vocabulary release -----------------------------------------------------------


CODESET = """\
id: {id}
title: Breast cancer
version: 0.1.0
status: draft
coding_system: {system}
terminology_release: {release}
purpose: Patients with a recorded diagnosis of breast cancer.
rules:
{rules}
authors:
  - name: A. Researcher
"""
SNOMED_RULES = f"""\
  - id: R1
    action: include
    concept: "{BREAST}"
    term: Malignant neoplasm of breast
  - id: R2
    action: include
    code: "254838004"
    term: Carcinoma of breast
  - id: R3
    action: exclude
    code: "403946000"
    term: Paget's disease of nipple
"""
RXNORM_RULES = """\
  - id: R1
    action: include
    concept: "1191"
    term: aspirin
"""


def write_codeset(root: Path, codeset_id: str, system: str, release: str, rules: str) -> Path:
    folder = root / "codesets" / codeset_id
    folder.mkdir(parents=True)
    text = CODESET.format(id=codeset_id, system=system, release=release, rules=rules)
    (folder / "codeset.yaml").write_text(text, encoding="utf-8")
    return folder


def codeset_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CODESET_TERMINOLOGY_PATH=str(COMMITTED.parent))
    return subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_codeset_expand_and_lint_against_a_vocabulary_release(tmp_path: Path) -> None:
    write_codeset(tmp_path, "breast", "snomedct", SNOMED, SNOMED_RULES)
    expanded = codeset_command("expand", "breast", cwd=tmp_path)
    assert expanded.returncode == 0, expanded.stderr
    codes = [line.split("\t")[0] for line in expanded.stdout.splitlines()]
    assert codes == ["188151006", BREAST, "254838004", "706970001"]
    assert codeset_command("expand", "--write", "breast", cwd=tmp_path).returncode == 0
    linted = codeset_command("lint", "breast", cwd=tmp_path)
    assert linted.returncode == 1, linted.stderr
    assert (
        f"error: breast [R2]: inactive-code: 254838004 |Carcinoma of breast| is inactive in "
        f"{SNOMED} (fix: use its replacement (MAPS_TO {BREAST}; REPLACED_BY {BREAST}))"
    ) in linted.stdout.splitlines()
    assert "Traceback" not in linted.stderr


def test_a_codeset_of_another_omop_vocabulary(tmp_path: Path) -> None:
    write_codeset(tmp_path, "aspirin", "omop:rxnorm", "omop-rxnorm-20240304", RXNORM_RULES)
    expanded = codeset_command("expand", "aspirin", cwd=tmp_path)
    assert expanded.returncode == 0, expanded.stderr
    assert [line.split("\t")[0] for line in expanded.stdout.splitlines()] == [
        "1191",
        "243670",
        "315431",
    ]
    assert codeset_command("expand", "--write", "aspirin", cwd=tmp_path).returncode == 0
    linted = codeset_command("lint", "aspirin", cwd=tmp_path)
    assert "bad-code" not in linted.stdout and "Traceback" not in linted.stderr, linted.stderr


def test_a_coding_system_must_match_its_omop_release(tmp_path: Path) -> None:
    write_codeset(tmp_path, "aspirin", "omop:loinc", "omop-rxnorm-20240304", RXNORM_RULES)
    result = codeset_command("expand", "aspirin", cwd=tmp_path)
    assert result.returncode == 2
    assert "release omop-rxnorm-20240304 is omop:rxnorm, but the codeset's coding_system is " in (
        result.stderr
    )


# ATLAS concept sets carry the CONCEPT_ID ---------------------------------------------------------


def test_atlas_export_of_a_codeset_on_a_vocabulary_release(tmp_path: Path, on_path: Path) -> None:
    folder = write_codeset(tmp_path, "breast", "snomedct", SNOMED, SNOMED_RULES)
    codeset = load_codeset(folder)
    exported = json.loads(export_codeset(codeset, expand_rules(codeset), "atlas"))
    assert exported["items"][0] == {
        "concept": {
            "CONCEPT_ID": concept_id(BREAST, "SNOMED"),
            "CONCEPT_NAME": "Malignant neoplasm of breast",
            "STANDARD_CONCEPT": "S",
            "INVALID_REASON": "V",
            "CONCEPT_CODE": BREAST,
            "DOMAIN_ID": "Condition",
            "VOCABULARY_ID": "SNOMED",
            "CONCEPT_CLASS_ID": "Clinical Finding",
        },
        "isExcluded": False,
        "includeDescendants": True,
        "includeMapped": False,
    }
    ids = [item["concept"]["CONCEPT_ID"] for item in exported["items"]]
    assert ids == [concept_id(c, "SNOMED") for c in (BREAST, "254838004", "403946000")]
    assert exported["items"][1]["concept"]["INVALID_REASON"] == "U"
    assert exported["items"][1]["concept"]["STANDARD_CONCEPT"] == "N"


def test_atlas_export_through_the_command_line(tmp_path: Path) -> None:
    write_codeset(tmp_path, "aspirin", "omop:rxnorm", "omop-rxnorm-20240304", RXNORM_RULES)
    result = codeset_command("export", "aspirin", "--format", "atlas", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    concept = json.loads(result.stdout)["items"][0]["concept"]
    assert (concept["CONCEPT_ID"], concept["VOCABULARY_ID"]) == (
        concept_id("1191", "RxNorm"),
        "RxNorm",
    )


def test_a_supplied_vocabulary_gives_any_codeset_its_concept_ids(
    tmp_path: Path, snomed: OmopVocabulary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A codeset on an RF2 release keeps its export without a vocabulary and gains ids with one."""
    write_release(tmp_path / "rf2")
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(tmp_path / "rf2"))
    rules = SNOMED_RULES.split("  - id: R2")[0]
    folder = write_codeset(tmp_path, "breast", "snomedct", "snomedct-test-20240401", rules)
    codeset = load_codeset(folder)
    expansion = expand_rules(codeset)
    plain = json.loads(export_codeset(codeset, expansion, "atlas"))["items"][0]["concept"]
    assert plain == {
        "CONCEPT_CODE": BREAST,
        "CONCEPT_NAME": "Malignant neoplasm of breast",
        "VOCABULARY_ID": "SNOMED",
    }
    with_ids = json.loads(export_codeset(codeset, expansion, "atlas", vocabulary=snomed))
    assert with_ids["items"][0]["concept"]["CONCEPT_ID"] == concept_id(BREAST, "SNOMED")


def test_a_supplied_vocabulary_must_hold_the_codes_and_be_of_the_coding_system(
    tmp_path: Path, snomed: OmopVocabulary, on_path: Path
) -> None:
    folder = write_codeset(tmp_path, "aspirin", "omop:rxnorm", "omop-rxnorm-20240304", RXNORM_RULES)
    codeset = load_codeset(folder)
    with pytest.raises(CodesetFormatError, match="is snomedct, but the codeset's coding_system"):
        export_codeset(codeset, expand_rules(codeset), "atlas", vocabulary=snomed)
    rules = '  - id: R1\n    action: include\n    code: "C50.9"\n    term: Breast, unspecified\n'
    who = load_codeset(write_codeset(tmp_path, "who", "icd10", "icd10-who-2019", rules))
    icd10cm = open_vocabulary(COMMITTED, "ICD10CM")  # ICD-10-CM has no C50.9
    with pytest.raises(
        CodesetFormatError, match=r"C50.9 \(Breast, unspecified\) is not in omop-icd10cm-20231001"
    ):
        export_codeset(who, expand_rules(who), "atlas", vocabulary=icd10cm)


def test_an_atlas_export_imports_again_with_its_vocabulary(tmp_path: Path, on_path: Path) -> None:
    folder = write_codeset(tmp_path, "breast", "snomedct", SNOMED, SNOMED_RULES)
    codeset = load_codeset(folder)
    exported = tmp_path / "breast.json"
    exported.write_text(export_codeset(codeset, expand_rules(codeset), "atlas"))
    rules = rules_from_file(exported, "atlas", open_release(SNOMED))
    assert [(r.action, r.concept or r.code) for r in rules] == [
        ("include", BREAST),
        ("include", "254838004"),
        ("exclude", "403946000"),
    ]


def test_a_codeset_is_diffed_between_an_rf2_release_and_a_vocabulary_release(
    tmp_path: Path, snomed: OmopVocabulary
) -> None:
    rules = '  - id: R1\n    action: include\n    concept: "363346000"\n    term: Malignancy\n'
    folder = write_codeset(tmp_path, "cancer", "snomedct", "snomedct-test-20240401", rules)
    codeset = load_codeset(folder)
    rf2 = SnomedCT(write_release(tmp_path / "rf2"))
    drift = diff_releases(codeset, rf2, snomed)
    assert drift.new_release == SNOMED
    assert [code for code, _ in drift.dropped_codes] == ["363406005", "399068003"]
    assert {"93655004", "188151006", "94297009"} <= {code for code, _ in drift.new_codes}
