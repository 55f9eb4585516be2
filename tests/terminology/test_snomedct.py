from pathlib import Path

import pytest

from codesetlib.core.errors import TerminologyError, UnknownCode
from codesetlib.terminology import ReleaseSkipped, available_releases, open_release
from codesetlib.terminology.base import InvalidIdentifier, MalformedRelease
from codesetlib.terminology.snomedct import SnomedCT, sctid_problem, semantic_tag
from tests.fixtures.rf2 import write_release


def test_release_identity_comes_from_the_folder(terminology):
    assert terminology.release.id == "snomedct-test-20240401"
    assert terminology.release.version == "20240401"


def test_lookup_gives_term_and_active_flag(terminology):
    concept = terminology.concept("254837009")
    assert concept.term == "Malignant neoplasm of breast"
    assert concept.active
    assert terminology.lookup("22298006") is None
    with pytest.raises(UnknownCode, match="22298006 is not in snomedct-test-20240401"):
        terminology.concept("22298006")


def test_a_code_that_cannot_be_one_is_not_called_missing(terminology):
    # 363346001 is 363346000 mistyped: its Verhoeff check digit is wrong, so no release holds it.
    with pytest.raises(InvalidIdentifier, match="363346001 is not a valid snomedct code") as raised:
        terminology.concept("363346001")
    assert "check digit" in raised.value.message and "is not in" not in raised.value.message


def test_hierarchy_follows_every_parent(terminology):
    assert terminology.parents("399068003") == {"363346000", "372087000"}
    assert terminology.children("372087000") == {"399068003"}
    assert terminology.descendants_of("363346000") == {
        "372087000",
        "254837009",
        "363406005",
        "399068003",
        "128462008",
    }
    assert terminology.ancestors_of("399068003") == {
        "372087000",
        "363346000",
        "64572001",
        "404684003",
        "138875005",
    }


def test_search_matches_every_word_in_any_order(terminology):
    found = [c.code for c in terminology.search("neoplasm malignant breast")]
    assert found == ["254837009"]
    assert {c.code for c in terminology.search("DIABETES")} == {"73211009", "44054006", "46635009"}


def test_inactive_concepts_keep_their_replacements(tmp_path: Path):
    folder = write_release(tmp_path, inactive={"363406005": ("900000000000526001", "254837009")})
    release = SnomedCT(folder)
    assert not release.concept("363406005").active
    assert release.replacements("363406005") == {"REPLACED_BY": {"254837009"}}
    assert "363406005" not in release.descendants_of("363346000")
    assert release.search("colon") == []
    assert [c.code for c in release.search("colon", include_inactive=True)] == ["363406005"]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("363346000", None),
        ("138875005", None),
        ("363346001", "check digit"),
        ("0363346000", "digits"),
        ("36334", "digits"),
        ("36334a000", "digits"),
        ("363346010", "partition"),
    ],
)
def test_identifiers_are_checked(code, problem):
    found = sctid_problem(code)
    assert (found is None) if problem is None else (problem in found)


def test_semantic_tag():
    assert semantic_tag("Malignant neoplastic disease (disorder)") == "disorder"
    assert semantic_tag("No tag") is None


def test_a_missing_file_is_named(tmp_path: Path):
    folder = write_release(tmp_path)
    next((folder / "Snapshot" / "Terminology").glob("sct2_Relationship*")).unlink()
    with pytest.raises(
        TerminologyError, match=r"sct2_Relationship_Snapshot_\*\.txt, found no file"
    ):
        SnomedCT(folder)


def test_a_missing_column_is_named_with_the_file(tmp_path: Path):
    folder = write_release(tmp_path)
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Concept*"))
    path.write_text(path.read_text().replace("active", "status", 1))
    with pytest.raises(TerminologyError) as raised:
        SnomedCT(folder)
    assert raised.value.path == str(path)
    assert raised.value.line == 1
    assert "missing column(s) active" in raised.value.message


def test_a_bad_identifier_is_refused_with_its_line(tmp_path: Path):
    folder = write_release(tmp_path)
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Concept*"))
    path.write_text(path.read_text().replace("254837009", "254837008"))
    with pytest.raises(TerminologyError, match="check digit") as raised:
        SnomedCT(folder)
    assert raised.value.line == 7


def test_an_is_a_row_naming_an_unknown_concept_is_refused(tmp_path: Path):
    folder = write_release(tmp_path)
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Relationship*"))
    path.write_text(path.read_text().replace("\t363346000\t64572001\t", "\t363346000\t22298006\t"))
    with pytest.raises(TerminologyError, match="22298006") as raised:
        SnomedCT(folder)
    assert raised.value.field == "destinationId"


def test_releases_are_found_by_id_on_the_user_path(test_release):
    assert test_release in available_releases()
    assert open_release(test_release).concept("73211009").term == "Diabetes mellitus"


def test_an_unknown_release_lists_what_there_is(test_release):
    with pytest.raises(TerminologyError, match=r"available: .*snomedct-test-20240401"):
        open_release("snomedct-nope-19990101")


def test_a_broken_release_is_skipped_with_a_warning_and_the_others_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    write_release(tmp_path)
    (tmp_path / "SnomedCT_BrokenRF2_PRODUCTION_20240401T120000Z" / "Snapshot").mkdir(parents=True)
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(tmp_path))
    with pytest.warns(ReleaseSkipped, match="SnomedCT_BrokenRF2.*expected one file matching"):
        releases = available_releases()
    assert "snomedct-test-20240401" in releases and "snomedct-teaching-20240401" in releases


def test_a_release_without_concepts_is_refused_naming_its_folder(tmp_path: Path):
    folder = write_release(tmp_path, concepts={})
    with pytest.raises(MalformedRelease, match="holds no concepts") as raised:
        SnomedCT(folder)
    assert raised.value.path == str(folder)


def test_bytes_that_are_not_utf8_are_named_by_line_and_offset(tmp_path: Path):
    folder = write_release(tmp_path)
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Description*"))
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Clinical", b"Clinic\xe1l")
    path.write_bytes(b"\n".join(lines))
    offset = len(lines[0]) + len(lines[1]) + 2 + lines[2].index(b"\xe1")
    with pytest.raises(MalformedRelease) as raised:
        SnomedCT(folder)
    assert (raised.value.path, raised.value.line) == (str(path), 3)
    assert f"byte 0xe1 at byte offset {offset}" in raised.value.message
