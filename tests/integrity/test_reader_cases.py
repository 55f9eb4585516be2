"""The corpus of hostile and careless files given to the kit's readers: codes.csv, codeset.yaml, the
files `codeset import` reads (CSV and ATLAS JSON), and terminology releases on the search path.

Each case spoils one file, runs one command and checks that the kit refuses it with one line naming the
file and the line or field (exit 2), prints no traceback and changes nothing; a few check that what
should still work does (a broken release beside a good one). Tests after the corpus check what a case
cannot: the time an alias bomb takes, what a written file holds, and that each problem is told once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codesetlib.terminology import open_release
from tests.fixtures.rf2 import CONCEPTS, write_release
from tests.integrity.harness import Case, check_outcome, make_project, run_case

CANCER = "codesets/cancer_diagnosis"
DIABETES = "codesets/diabetes"
TEACHING = "snomedct-teaching-20240401"
TEST_RELEASE = "snomedct-test-20240401"
RELEASES = "releases"
RF2 = f"{RELEASES}/SnomedCT_TestRF2_PRODUCTION_20240401T120000Z"
TERMINOLOGY = f"{RF2}/Snapshot/Terminology"
CONCEPT_FILE = f"{TERMINOLOGY}/sct2_Concept_Snapshot_TEST_20240401.txt"
DESCRIPTION_FILE = f"{TERMINOLOGY}/sct2_Description_Snapshot-en_TEST_20240401.txt"
RELATIONSHIP_FILE = f"{TERMINOLOGY}/sct2_Relationship_Snapshot_TEST_20240401.txt"
LONG = "x" * 140_000  # longer than the 131,072 characters Python's csv module allows in a cell
AS_ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False

Setup = Callable[[Path], None]


def both(*setups: Setup) -> Setup:
    def setup(project: Path) -> None:
        for step in setups:
            step(project)

    return setup


def write(relative: str, content: str | bytes) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return setup


def edit(relative: str, old: str | bytes, new: str | bytes, count: int = 1) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        data = path.read_bytes()
        old_b = old.encode() if isinstance(old, str) else old
        new_b = new.encode() if isinstance(new, str) else new
        assert old_b in data, (relative, old_b)
        path.write_bytes(data.replace(old_b, new_b, count))

    return setup


def append(relative: str, content: str | bytes) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(path.read_bytes() + data)

    return setup


def folder_at(relative: str) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        if path.exists():
            path.unlink()
        path.mkdir(parents=True)

    return setup


def link_loop(relative: str) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        path.unlink(missing_ok=True)
        path.symlink_to(path.name)

    return setup


def unreadable(relative: str) -> Setup:
    def setup(project: Path) -> None:
        (project / relative).chmod(0)

    return setup


def remove(relative: str) -> Setup:
    def setup(project: Path) -> None:
        path = project / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return setup


def release(**changes) -> Setup:
    """A small valid RF2 release on the search path (the case's environment points there)."""

    def setup(project: Path) -> None:
        write_release(project / RELEASES, **changes)

    return setup


def cache_at(relative: str) -> Setup:
    """Index releases into `relative` (the case's environment is restored afterwards)."""

    def setup(project: Path) -> None:
        os.environ["CODESET_CACHE_DIR"] = str(project / relative)

    return setup


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def atlas(*items: object, **document: object) -> str:
    """An ATLAS file holding these items, or exactly the document given."""
    return json.dumps(document or {"items": list(items)})


def item(code: object = "254837009", **fields: object) -> dict:
    concept = {"CONCEPT_CODE": code, "CONCEPT_NAME": "x", "VOCABULARY_ID": "SNOMED"}
    concept.update(fields.pop("concept", {}))
    return {"concept": concept, "isExcluded": False, "includeDescendants": True, **fields}


def importing(fmt: str, name: str, *extra: str) -> list[str]:
    return ["import", name, "--format", fmt, "--id", "imported", "--author", "A", *extra]


def new_from(release_id: str, concept: str = "363346000") -> list[str]:
    return [
        "new", "probe", "--concept", concept, "--title", "Probe", "--purpose", "Probe.",
        "--author", "A", "--release", release_id,
    ]  # fmt: skip


CODES = f"{CANCER}/codes.csv"
YAML = f"{CANCER}/codeset.yaml"
SHOW = ["show", "cancer_diagnosis"]
CHECK = ["check", "cancer_diagnosis"]
CSV_IMPORT = importing("opencodelists", "list.csv")
EHRQL_IMPORT = importing("ehrql", "list.csv", "--column", "snomed")
ATLAS_IMPORT = importing("atlas", "set.json")
GOOD_CSV = "code,term\n254837009,Malignant neoplasm of breast\n"

CASES = [
    # codes.csv, read by check, lint, publish and run
    Case(
        "codes.csv in Latin-1",
        CHECK,
        2,
        ("codes.csv:3", "not UTF-8", "byte offset"),
        edit(CODES, b"Acute lymphoid leukaemia", b"Acute lymphoid leuk\xe6mia"),
    ),
    Case(
        "codes.csv in UTF-16",
        CHECK,
        2,
        ("codes.csv:1", "not UTF-8", "byte offset 0"),
        lambda p: (p / CODES).write_bytes((p / CODES).read_text().encode("utf-16")),
    ),
    Case(
        "codes.csv with a cell over the csv limit",
        CHECK,
        2,
        ("codes.csv:3", "longer than 131,072 characters"),
        edit(CODES, "Acute lymphoid leukaemia", LONG),
    ),
    Case(
        "codes.csv is a folder",
        CHECK,
        2,
        ("codes.csv", "is a folder, not a file"),
        folder_at(CODES),
    ),
    Case("codes.csv links to itself", CHECK, 2, ("codes.csv", "cannot be read"), link_loop(CODES)),
    Case("codes.csv is missing", CHECK, 2, ("codes.csv", "file not found"), remove(CODES)),
    Case(
        "codes.csv is empty",
        CHECK,
        2,
        ("codes.csv:1", "missing column(s) code, term, rule"),
        write(CODES, ""),
    ),
    Case(
        "codes.csv lacks the active column",
        CHECK,
        2,
        ("codes.csv:1", "missing column(s) active"),
        edit(CODES, "code,term,rule,active", "code,term,rule"),
    ),
    Case(
        "codes.csv row with a comma left unquoted",
        CHECK,
        2,
        ("codes.csv:3", "expected 4 cells"),
        edit(CODES, "Acute lymphoid leukaemia", "Acute lymphoid, leukaemia"),
    ),
    Case(
        "codes.csv with an unclosed quote",
        CHECK,
        2,
        ("codes.csv:3", "expected 4 cells"),
        edit(CODES, "Acute lymphoid leukaemia", '"Acute lymphoid leukaemia'),
    ),
    Case(
        "codes.csv with a blank code",
        CHECK,
        2,
        ("codes.csv:2", "code: blank code"),
        edit(CODES, "91855006,", ","),
    ),
    Case(
        "codes.csv with a code twice",
        CHECK,
        2,
        ("codes.csv:3", "listed twice"),
        edit(CODES, "91857003,", "91855006,"),
    ),
    Case(
        "codes.csv with active 'yes'",
        CHECK,
        2,
        ("codes.csv:2", "active: expected true or false"),
        edit(CODES, "R1,true", "R1,yes"),
    ),
    Case("codes.csv with a NUL byte", CHECK, 1, (), edit(CODES, b"Acute leukaemia", b"Acute\0")),
    Case(
        "another codeset's codes.csv in Latin-1 does not stop lint",
        ["lint", "diabetes"],
        0,
        (),
        edit(CODES, b"Acute lymphoid leukaemia", b"Acute lymphoid leuk\xe6mia"),
    ),
    # codeset.yaml, read by every command that names a codeset
    Case(
        "codeset.yaml in Latin-1",
        SHOW,
        2,
        ("codeset.yaml:3", "not UTF-8", "byte offset"),
        edit(YAML, b"title: ", b"title: \xe9"),
    ),
    Case(
        "codeset.yaml alias bomb",
        SHOW,
        2,
        ("codeset.yaml", "aliases are expanded"),
        write(YAML, alias_bomb()),
    ),
    Case(
        "codeset.yaml of 5 MB",
        SHOW,
        2,
        ("codeset.yaml", "larger than 1,000,000 bytes"),
        append(YAML, "# padding\n" * 500_000),
    ),
    Case(
        "codeset.yaml alias inside itself",
        SHOW,
        2,
        ("codeset.yaml:1", "alias *a is inside"),
        write(YAML, "a: &a [1, *a]\n"),
    ),
    Case(
        "codeset.yaml nested 100,000 deep",
        SHOW,
        2,
        ("codeset.yaml:1", "nested more than 64"),
        write(YAML, "[" * 100_000 + "]" * 100_000),
    ),
    Case(
        "codeset.yaml with 13th month",
        SHOW,
        2,
        ("codeset.yaml", "month must be in 1..12"),
        edit(YAML, "date: 2026-11-24", "date: 2026-13-45"),
    ),
    Case(
        "codeset.yaml with a 5000-digit number",
        SHOW,
        2,
        ("codeset.yaml:1", "cannot read this value"),
        write(YAML, "version: " + "9" * 5000 + "\n"),
    ),
    Case(
        "codeset.yaml with a list as a key",
        SHOW,
        2,
        ("codeset.yaml:1", "unhashable key"),
        write(YAML, "? [a, b]\n: c\n"),
    ),
    Case(
        "codeset.yaml with two documents",
        SHOW,
        2,
        ("codeset.yaml", "not valid YAML"),
        write(YAML, "id: a\n---\nid: b\n"),
    ),
    Case(
        "codeset.yaml with a python tag",
        SHOW,
        2,
        ("codeset.yaml:1", "not valid YAML"),
        write(YAML, "id: !!python/object/apply:os.system ['echo hi']\n"),
    ),
    Case(
        "codeset.yaml with a NUL byte",
        SHOW,
        2,
        ("codeset.yaml:3", "not valid YAML", "#x0000"),
        edit(YAML, b"title: ", b"title: \0"),
    ),
    Case(
        "codeset.yaml is a folder",
        SHOW,
        2,
        ("codesets/cancer_diagnosis/codeset.yaml",),
        folder_at(YAML),
    ),
    Case(
        "codeset.yaml links to itself",
        SHOW,
        2,
        ("codesets/cancer_diagnosis/codeset.yaml",),
        link_loop(YAML),
    ),
    Case(
        "codeset.yaml is a list",
        SHOW,
        2,
        ("codeset.yaml:1", "expected a mapping"),
        write(YAML, "- a\n- b\n"),
    ),
    Case(
        "codeset.yaml key given twice through an alias",
        SHOW,
        2,
        ("codeset.yaml:1", "twice"),
        write(YAML, "a: &x {b: 1, b: 2}\nc: *x\n"),
    ),
    # the CSV files `codeset import` reads
    Case("import CSV that does not exist", CSV_IMPORT, 2, ("list.csv", "file not found")),
    Case(
        "import CSV is a folder", CSV_IMPORT, 2, ("list.csv", "is a folder"), folder_at("list.csv")
    ),
    Case(
        "import CSV in Latin-1",
        CSV_IMPORT,
        2,
        (
            "list.csv:3",
            "not UTF-8",
            f"byte offset {len(GOOD_CSV) + len('363406005,Malignant neoplasm of c')}",
        ),
        write("list.csv", GOOD_CSV.encode() + b"363406005,Malignant neoplasm of c\xf4lon\n"),
    ),
    Case(
        "import CSV with a cell over the csv limit",
        CSV_IMPORT,
        2,
        ("list.csv:3", "longer than 131,072"),
        write("list.csv", GOOD_CSV + f"363406005,{LONG}\n"),
    ),
    Case(
        "import CSV that is empty",
        CSV_IMPORT,
        2,
        ("list.csv:1", "no column 'code'"),
        write("list.csv", ""),
    ),
    Case(
        "import CSV with no rows",
        CSV_IMPORT,
        2,
        ("list.csv", "no codes"),
        write("list.csv", "code,term\n"),
    ),
    Case(
        "import CSV with a blank code",
        CSV_IMPORT,
        2,
        ("list.csv:3", "code: blank code"),
        write("list.csv", GOOD_CSV + ",Nothing\n"),
    ),
    Case(
        "import CSV with a short row",
        CSV_IMPORT,
        2,
        ("list.csv:3", "blank code"),
        write("list.csv", "term,code\nBreast,254837009\nColon\n"),
    ),
    Case(
        "import CSV with a code not in the release",
        CSV_IMPORT,
        2,
        ("list.csv:3", "22298006 is not in snomedct-teaching-20240401"),
        write("list.csv", GOOD_CSV + "22298006,Myocardial infarction\n"),
    ),
    Case(
        "import CSV with a wrong check digit",
        CSV_IMPORT,
        2,
        ("list.csv:3", "code: 254837008 is not a valid snomedct code", "check digit"),
        write("list.csv", GOOD_CSV + "254837008,Typo\n"),
    ),
    Case(
        "import ehrQL CSV without its column",
        EHRQL_IMPORT,
        2,
        ("list.csv:1", "no column 'snomed'"),
        write("list.csv", GOOD_CSV),
    ),
    Case(
        "import CSV in UTF-8 with a byte-order mark",
        CSV_IMPORT,
        0,
        (),
        write("list.csv", "\ufeff" + GOOD_CSV),
        may_change=("codesets/imported",),
    ),
    # the ATLAS concept set expressions `codeset import` reads
    Case(
        "ATLAS with no items",
        ATLAS_IMPORT,
        2,
        ("set.json", "items: the concept set has no items"),
        write("set.json", atlas()),
    ),
    Case(
        "ATLAS items a string",
        ATLAS_IMPORT,
        2,
        ("set.json", "items: expected a list", "string"),
        write("set.json", atlas(items="abc")),
    ),
    Case(
        "ATLAS items an object",
        ATLAS_IMPORT,
        2,
        ("set.json", "items: expected a list"),
        write("set.json", atlas(items={"concept": {}})),
    ),
    Case(
        "ATLAS without items",
        ATLAS_IMPORT,
        2,
        ("set.json", "items: not an ATLAS concept set"),
        write("set.json", atlas(expression=[])),
    ),
    Case(
        "ATLAS a list at the top",
        ATLAS_IMPORT,
        2,
        ("set.json", "found a list"),
        write("set.json", "[]"),
    ),
    Case(
        "ATLAS item a number",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[1]: expected an object"),
        write("set.json", atlas(item(), 7)),
    ),
    Case(
        "ATLAS item without a concept",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept: expected an object", "found nothing"),
        write("set.json", atlas({"isExcluded": False})),
    ),
    Case(
        "ATLAS concept a string",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept: expected"),
        write("set.json", atlas({"concept": "254837009"})),
    ),
    Case(
        "ATLAS concept without a code",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept.CONCEPT_CODE: missing concept code"),
        write("set.json", atlas(item(None))),
    ),
    Case(
        "ATLAS code a list",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept.CONCEPT_CODE: expected a code"),
        write("set.json", atlas(item(["254837009"]))),
    ),
    Case(
        "ATLAS ICD10CM concept into a SNOMED codeset",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[1].concept.VOCABULARY_ID", "ICD10CM", "SNOMED"),
        write("set.json", atlas(item(), item("363406005", concept={"VOCABULARY_ID": "ICD10CM"}))),
    ),
    Case(
        "ATLAS includeDescendants 'no'",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].includeDescendants: expected true or false", '"no"'),
        write("set.json", atlas(item(includeDescendants="no"))),
    ),
    Case(
        "ATLAS isExcluded 1",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].isExcluded: expected true"),
        write("set.json", atlas(item(isExcluded=1))),
    ),
    Case(
        "ATLAS includeMapped 'false'",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].includeMapped: expected true or false"),
        write("set.json", atlas(item(includeMapped="false"))),
    ),
    Case(
        "ATLAS includeMapped true",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0]: includeMapped"),
        write("set.json", atlas(item(includeMapped=True))),
    ),
    Case(
        "ATLAS code not in the release",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept.CONCEPT_CODE: code 22298006 is not in"),
        write("set.json", atlas(item("22298006"))),
    ),
    Case(
        "ATLAS code with a wrong check digit",
        ATLAS_IMPORT,
        2,
        ("set.json", "items[0].concept.CONCEPT_CODE", "check digit"),
        write("set.json", atlas(item("254837008"))),
    ),
    Case(
        "ATLAS in Latin-1",
        ATLAS_IMPORT,
        2,
        ("set.json:2", "not UTF-8", "byte offset"),
        write("set.json", b'{"items": [\n"\xe9"]}'),
    ),
    Case(
        "ATLAS not JSON",
        ATLAS_IMPORT,
        2,
        ("set.json:2", "not JSON"),
        write("set.json", '{"items":\n [}'),
    ),
    Case(
        "ATLAS nested 100,000 deep",
        ATLAS_IMPORT,
        2,
        ("set.json", "nested too deeply"),
        write("set.json", "[" * 100_000 + "]" * 100_000),
    ),
    Case(
        "ATLAS with a 5000-digit number",
        ATLAS_IMPORT,
        2,
        ("set.json", "not JSON the kit can"),
        write("set.json", '{"items": [' + "9" * 5000 + "]}"),
    ),
    Case(
        "ATLAS file is a folder",
        ATLAS_IMPORT,
        2,
        ("set.json", "is a folder"),
        folder_at("set.json"),
    ),
    Case("ATLAS file that does not exist", ATLAS_IMPORT, 2, ("set.json", "file not found")),
    # terminology releases on CODESET_TERMINOLOGY_PATH
    Case(
        "RF2 description file in Latin-1",
        new_from(TEST_RELEASE),
        2,
        ("sct2_Description_Snapshot-en_TEST_20240401.txt:4", "not UTF-8", "byte offset"),
        both(release(), edit(DESCRIPTION_FILE, b"Disease", b"Dis\xe9ase")),
    ),
    Case(
        "RF2 concept file in Latin-1 header",
        new_from(TEST_RELEASE),
        2,
        ("sct2_Concept_Snapshot_TEST_20240401.txt:1", "not UTF-8", "byte offset 1"),
        both(release(), edit(CONCEPT_FILE, b"id\t", b"i\xffd\t")),
    ),
    Case(
        "RF2 relationship file in Latin-1",
        new_from(TEST_RELEASE),
        2,
        ("sct2_Relationship_Snapshot_TEST_20240401.txt:2", "not UTF-8"),
        both(release(), edit(RELATIONSHIP_FILE, b"\t116680003\t", b"\t11668\xff003\t")),
    ),
    Case(
        "RF2 description over the csv limit in a bad row",
        new_from(TEST_RELEASE),
        2,
        ("sct2_Description_Snapshot-en_TEST_20240401.txt:4", "longer than 131,072"),
        both(release(), edit(DESCRIPTION_FILE, "\tDisease\t", f"\t{LONG}\t\t")),
    ),
    Case(
        "RF2 concept file is a folder",
        new_from(TEST_RELEASE),
        2,
        ("sct2_Concept_Snapshot_TEST_20240401.txt", "is a folder"),
        both(release(), folder_at(CONCEPT_FILE)),
    ),
    Case(
        "RF2 release with no concepts",
        new_from(TEST_RELEASE),
        2,
        (RF2, "holds no concepts"),
        both(release(concepts={})),
    ),
    Case(
        "RF2 release beside a broken one",
        new_from(TEST_RELEASE),
        0,
        (
            "warning: skipped release folder",
            "SnomedCT_BrokenRF2_PRODUCTION_20240401T120000Z",
            "expected one file matching sct2_Concept_Snapshot_*.txt",
        ),
        both(
            release(),
            folder_at(f"{RELEASES}/SnomedCT_BrokenRF2_PRODUCTION_20240401T120000Z/Snapshot"),
        ),
        may_change=("codesets/probe",),
    ),
    Case(
        "RF2 release with two concept files is skipped",
        CHECK,
        0,
        ("warning: skipped release folder", "found 2 files"),
        both(release(), write(f"{TERMINOLOGY}/sct2_Concept_Snapshot_TEST_20240402.txt", "id\n")),
    ),
    Case(
        "RF2 release without its description file",
        new_from(TEST_RELEASE),
        2,
        ("Snapshot/Terminology", "sct2_Description_Snapshot-en_*.txt, found no file"),
        both(release(), remove(DESCRIPTION_FILE)),
    ),
    Case(
        "ICD-10 release in Latin-1",
        new_from("icd10-uk-2016", "C50"),
        2,
        ("icd10-uk-2016.csv:3", "not UTF-8"),
        write(
            f"{RELEASES}/icd10-uk-2016.csv",
            b"code,description,parent\nII,Neoplasms,\nC50,Mal\xe9,II\n",
        ),
    ),
    Case(
        "ICD-10 release with no codes",
        new_from("icd10-uk-2016", "C50"),
        2,
        ("icd10-uk-2016.csv", "holds no concepts"),
        write(f"{RELEASES}/icd10-uk-2016.csv", "code,description,parent\n"),
    ),
    Case(
        "ICD-10 release with a cell over the csv limit",
        new_from("icd10-uk-2016", "C50"),
        2,
        ("icd10-uk-2016.csv:2", "longer than 131,072"),
        write(f"{RELEASES}/icd10-uk-2016.csv", f"code,description,parent\nII,{LONG},\n"),
    ),
    Case(
        "dm+d release file is a folder",
        new_from("dmd-nhsbsa-20240401", "108502004"),
        2,
        ("f_amp2_3010424.xml", "is a folder"),
        both(
            write(f"{RELEASES}/nhsbsa_dmd_2.0.0_20240401000001/f_vtm2_3010424.xml", "<x/>"),
            *(
                write(f"{RELEASES}/nhsbsa_dmd_2.0.0_20240401000001/f_{k}2_3010424.xml", "<x/>")
                for k in ("vmp", "vmpp", "ampp")
            ),
            folder_at(f"{RELEASES}/nhsbsa_dmd_2.0.0_20240401000001/f_amp2_3010424.xml"),
        ),
    ),
    Case(
        "terminology cache is a file",
        new_from(TEST_RELEASE),
        2,
        ("not-a-folder", "cannot be used as the terminology cache folder"),
        both(release(), write("not-a-folder", "x"), cache_at("not-a-folder")),
    ),
    # messages that must name the file, the rule and the release, and say what is really wrong
    Case(
        "rule concept not in the release",
        ["expand", "cancer_diagnosis"],
        2,
        (f"{YAML}: rules[R1].concept: 22298006", f"is not in {TEACHING}"),
        edit(YAML, '"363346000"', '"22298006"'),
    ),
    Case(
        "rule concept not in the release, linted",
        ["lint", "cancer_diagnosis"],
        2,
        (f"{YAML}: rules[R1].concept: 22298006", f"is not in {TEACHING}"),
        edit(YAML, '"363346000"', '"22298006"'),
    ),
    Case(
        "rule concept not in the release, exported",
        ["export", "cancer_diagnosis", "--format", "opencodelists"],
        2,
        (f"{YAML}: rules[R1].concept: 22298006", f"is not in {TEACHING}"),
        edit(YAML, '"363346000"', '"22298006"'),
    ),
    Case(
        "rule concept with a wrong check digit",
        ["expand", "cancer_diagnosis"],
        2,
        (f"{YAML}: rules[R1].concept", "363346001 is not a valid snomedct code", "Verhoeff"),
        edit(YAML, '"363346000"', '"363346001"'),
    ),
    Case(
        "new with a wrong check digit",
        new_from(TEACHING, "363346001"),
        2,
        ("363346001 is not a valid snomedct code", "check digit"),
    ),
    Case(
        "new with a code not in the release",
        new_from(TEACHING, "22298006"),
        2,
        (f"code 22298006 is not in {TEACHING}",),
    ),
    Case(
        "lint goes on past a codeset it cannot read",
        ["lint"],
        2,
        ("diabetes/codeset.yaml:1", "not UTF-8"),
        write(f"{DIABETES}/codeset.yaml", b"\xff\n"),
    ),
    Case(
        "check goes on past two codesets it cannot read",
        ["check"],
        2,
        ("cancer_diagnosis/codes.csv", "diabetes/codeset.yaml"),
        both(folder_at(CODES), write(f"{DIABETES}/codeset.yaml", "id: [\n")),
    ),
]

PERMISSION_CASES = [
    Case("codes.csv unreadable", CHECK, 2, ("codes.csv", "permission denied"), unreadable(CODES)),
    Case("codeset.yaml unreadable", SHOW, 2, ("codeset.yaml", "permission denied"),
         unreadable(YAML)),
    Case("import CSV unreadable", CSV_IMPORT, 2, ("list.csv", "permission denied"),
         both(write("list.csv", GOOD_CSV), unreadable("list.csv"))),
    Case("RF2 concept file unreadable", new_from(TEST_RELEASE), 2,
         ("sct2_Concept_Snapshot_TEST_20240401.txt", "permission denied"),
         both(release(), unreadable(CONCEPT_FILE))),
]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project whose release search path is its own `releases/`, and whatever a case sets in
    the environment put back afterwards; releases opened by one case are not reused by the next."""
    project = make_project(tmp_path / "project")
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(project / RELEASES))
    monkeypatch.setenv("CODESET_CACHE_DIR", os.environ["CODESET_CACHE_DIR"])
    open_release.cache_clear()
    yield project
    open_release.cache_clear()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reader_case(case: Case, project: Path):
    check_outcome(case, run_case(case, project))


@pytest.mark.skipif(AS_ROOT, reason="root reads any file whatever its permissions")
@pytest.mark.parametrize("case", PERMISSION_CASES, ids=lambda c: c.id)
def test_reader_permission_case(case: Case, project: Path):
    check_outcome(case, run_case(case, project))


def test_the_corpus_is_large_enough():
    assert len(CASES) + len(PERMISSION_CASES) >= 60
    assert len({c.id for c in CASES + PERMISSION_CASES}) == len(CASES) + len(PERMISSION_CASES)


def test_an_alias_bomb_is_refused_within_a_second(project: Path):
    case = Case("alias bomb", SHOW, 2, ("aliases are expanded",), write(YAML, alias_bomb()))
    started = time.perf_counter()
    outcome = run_case(case, project)
    assert time.perf_counter() - started < 1
    check_outcome(case, outcome)


def test_a_broken_release_is_reported_once(project: Path):
    broken = f"{RELEASES}/SnomedCT_BrokenRF2_PRODUCTION_20240401T120000Z/Snapshot"
    # The two codesets name two releases, so the search path is read once for each.
    setup = both(
        folder_at(broken),
        edit(f"{DIABETES}/codeset.yaml", TEACHING, "snomedct-teaching-20250401"),
    )
    case = Case("twice", ["lint", "diabetes", "cancer_diagnosis"], 0, (), setup)
    outcome = run_case(case, project)
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.stderr.count("skipped release folder") == 1, outcome.stderr
    assert "2 codeset(s)" in outcome.stdout


def test_lint_reports_the_other_codesets_findings(project: Path):
    setup = both(
        write(f"{DIABETES}/codeset.yaml", b"\xff\n"),
        edit(CODES, "91855006,Acute leukaemia,R1,true\n", ""),
    )
    case = Case("one unreadable, one drifted", ["lint"], 2, ("diabetes/codeset.yaml:1",), setup)
    outcome = run_case(case, project)
    check_outcome(case, outcome)
    assert "cancer_diagnosis" in outcome.stdout and "codes-drift" in outcome.stdout
    assert "1 could not be read" in outcome.stdout


# Terms a spreadsheet would run (RF2 files hold no tab, so a tab-led term is tested in test_csvfiles).
HOSTILE_TERMS = ["=HYPERLINK(A1)", "+1+1", "-2+3", "@SUM(A1)", "'=1", "''-1"]


def _hostile_release(project: Path) -> None:
    """A release whose terms a spreadsheet would run, and a codeset drawn from it."""
    concepts = dict(CONCEPTS)
    hostile = ["254837009", "363406005", "399068003", "128462008", "372087000", "73211009"]
    for code, term in zip(hostile, HOSTILE_TERMS, strict=True):
        concepts[code] = (term, concepts[code][1])
    write_release(project / RELEASES, concepts=concepts)


def test_terms_a_spreadsheet_would_run_are_escaped_in_every_csv_written(project: Path):
    _hostile_release(project)
    created = Case("new", new_from(TEST_RELEASE, "64572001"), 0, may_change=("codesets/probe",))
    check_outcome(created, run_case(created, project))
    codes = (project / "codesets/probe/codes.csv").read_text(encoding="utf-8")
    for fmt in ("opencodelists", "ehrql"):
        case = Case(fmt, ["export", "probe", "--format", fmt, "--out", f"{fmt}.csv"], 0,
                    may_change=(f"{fmt}.csv",))  # fmt: skip
        check_outcome(case, run_case(case, project))
        exported = (project / f"{fmt}.csv").read_text(encoding="utf-8")
        for text in (codes, exported):
            assert "\n=" not in text and ",=" not in text and ",+" not in text
            assert ",'=HYPERLINK" in text and ",'+1+1" in text and ",'-2+3" in text
            assert ",'@SUM(A1)" in text and ",''=1" in text and ",'''-1" in text
    # Read back by the kit, every term is what the release says.
    from codesetlib.codesets.files import read_codes

    terms = {row.term for row in read_codes(project / "codesets/probe")}
    assert set(HOSTILE_TERMS) <= terms
