"""Releases as they are downloaded: RF2 zips (an edition's packages together, zips inside zips), Full
files for dated history, and dm+d zips; each read straight from the zip into the cache."""

import shutil
import zipfile
from pathlib import Path

import pytest

from codesetlib.terminology import available_releases, open_release
from codesetlib.terminology import snomedct as snomedct_module
from codesetlib.terminology.base import HistoryEvent, MalformedRelease, MissingReleaseFile
from codesetlib.terminology.dmd import DMD
from codesetlib.terminology.snomedct import SnomedCT, find_release
from tests.fixtures.rf2 import (
    CONCEPTS,
    DIABETES_REFSET,
    FINDING_SITE,
    extension_id,
    nest_zip,
    write_release,
    zip_release,
)
from tests.terminology.test_dmd import AMPP, VTM, write_dmd

REPLACED_BY, SAME_AS = "900000000000526001", "900000000000527005"
UK_MODULE = "999000011000000103"
NHS_REALM = "999001261000000100"
# A UK Clinical Extension concept below Type 2 diabetes, and a UK cluster refset of it.
UK_CONCEPT = extension_id(1, "1000000")
UK_REFSET = extension_id(2, "1000000")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CODESET_CACHE_DIR", str(folder))
    return folder


def international_zip(tmp_path: Path, name: str = "SnomedCT_TestRF2_PRODUCTION.zip") -> Path:
    folder = write_release(tmp_path / "built", inactive={"363406005": (REPLACED_BY, "254837009")})
    return zip_release([folder], tmp_path / name)


def uk_edition(tmp_path: Path) -> Path:
    """A UK Clinical Edition download: the International package and the UK Clinical Extension
    package (its own module, file names and namespace) in one zip."""
    built = tmp_path / "built"
    international = write_release(
        built,
        date="20240101",
        folder_name="SnomedCT_InternationalRF2_PRODUCTION_20240101T120000Z",
        file_label="INT",
    )
    uk = write_release(
        built,
        date="20240401",
        concepts={UK_CONCEPT: ("Type 2 diabetes mellitus in remission", ("44054006",))},
        attributes={UK_CONCEPT: [(FINDING_SITE, "15776009")]},
        refsets={UK_REFSET: ("UK diabetes cluster", (UK_CONCEPT, "44054006"))},
        gb_terms={UK_CONCEPT: "Type 2 diabetes in remission"},
        language_refset=NHS_REALM,
        folder_name="SnomedCT_UKClinicalRF2_PRODUCTION_20240401T000001Z",
        file_label="GB1000000",
        prefix="UKCL",
        module=UK_MODULE,
        first_item=500,
    )
    return zip_release([international, uk], tmp_path / "uk_sct2cl_37.0.0_20240401000001Z.zip")


def test_a_zip_is_indexed_without_extracting_it(tmp_path: Path, cache: Path):
    archive = international_zip(tmp_path)
    shutil.rmtree(tmp_path / "built")
    before = sorted(p.name for p in tmp_path.iterdir() if p != cache)
    release = SnomedCT(archive)
    assert release.release.id == "snomedct-test-20240401"
    assert release.concept("254837009").term == "Malignant neoplasm of breast"
    assert release.descendants_of("73211009") == {"44054006", "46635009"}
    assert release.replacements("363406005") == {"REPLACED_BY": {"254837009"}}
    assert release.refset_members(DIABETES_REFSET) == {"73211009", "44054006", "46635009"}
    # Nothing written beside the zip; only the index in the cache.
    assert sorted(p.name for p in tmp_path.iterdir() if p != cache) == before
    assert [p.name for p in cache.iterdir()] == [release.index_file.name]


def test_a_warm_open_reads_the_cache_keyed_by_the_zip(tmp_path: Path, cache: Path, monkeypatch):
    archive = international_zip(tmp_path)
    first = SnomedCT(archive)

    def refuse(*_args):
        raise AssertionError("the zip was read again")

    monkeypatch.setattr(snomedct_module, "read_release", refuse)
    assert SnomedCT(archive).index_file == first.index_file
    # A changed zip is indexed again.
    with zipfile.ZipFile(archive, "a") as more:
        more.writestr("Readme.txt", "changed\r\n")
    monkeypatch.undo()
    monkeypatch.setenv("CODESET_CACHE_DIR", str(cache))
    assert SnomedCT(archive).index_file != first.index_file


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip_inside_a_zip_is_read(tmp_path: Path, cache: Path, compression: int):
    outer = nest_zip(
        international_zip(tmp_path), tmp_path / "download.zip", compression=compression
    )
    release = SnomedCT(outer)
    assert release.release.id == "snomedct-test-20240401"
    assert release.children("363346000") >= {"254837009", "128462008"}
    assert release.with_attribute([FINDING_SITE], ["76752008"]) == {"254837009"}


def test_zips_on_the_search_path_are_found_by_id(tmp_path: Path, cache: Path, monkeypatch):
    releases = tmp_path / "releases"
    releases.mkdir()
    uk_edition(tmp_path).rename(releases / "uk_sct2cl_37.0.0_20240401000001Z.zip")
    nest_zip(write_dmd_zip(tmp_path), releases / "nhsbsa_dmd_download.zip")
    (releases / "notes.zip").write_bytes(b"not a zip at all")
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(releases))
    with pytest.warns(UserWarning, match="notes.zip"):
        found = available_releases()
    assert {"snomedct-ukclinical-20240401", "dmd-nhsbsa-20240401"} <= set(found)
    open_release.cache_clear()
    try:
        assert open_release("snomedct-ukclinical-20240401").concept(UK_CONCEPT).active
        assert open_release("dmd-nhsbsa-20240401").descendants_of(VTM) >= {AMPP}
    finally:
        open_release.cache_clear()


def test_an_edition_reads_every_package_of_its_zip(tmp_path: Path, cache: Path):
    release = SnomedCT(uk_edition(tmp_path))
    # Named by the extension, dated by the latest package.
    assert release.release.id == "snomedct-ukclinical-20240401"
    # The UK concept sits in the International hierarchy, with the NHS realm's preferred term.
    assert release.concept(UK_CONCEPT).term == "Type 2 diabetes in remission"
    assert UK_CONCEPT in release.descendants_of("73211009")
    assert release.ancestors_of(UK_CONCEPT) >= {"44054006", "404684003", "138875005"}
    assert release.with_attribute([FINDING_SITE], ["15776009"]) == {
        "46635009",
        "44054006",
        UK_CONCEPT,
    }
    # The refsets of both packages.
    assert set(release.refsets()) == {DIABETES_REFSET, UK_REFSET}
    assert release.refset_members(UK_REFSET) == {UK_CONCEPT, "44054006"}
    assert len(release.codes()) == len(CONCEPTS) + 1


def test_the_monolith_is_one_package_named_as_such(tmp_path: Path, cache: Path):
    folder = write_release(
        tmp_path / "built",
        date="20240402",
        folder_name="SnomedCT_MonolithRF2_PRODUCTION_20240402T000001Z",
        file_label="GB",
        prefix="MONO",
    )
    archive = zip_release([folder], tmp_path / "uk_sct2mo_37.1.0_20240402000001Z.zip")
    assert find_release(archive).id == "snomedct-monolith-20240402"
    assert SnomedCT(archive).concept("73211009").term == "Diabetes mellitus"


def test_full_files_date_the_history(tmp_path: Path, cache: Path):
    # 363406005 was active from 2002, inactivated in 2023 as SAME AS 254837009, and that association
    # was corrected in 2024 to REPLACED BY 254837009.
    folder = write_release(
        tmp_path / "built",
        inactive={"363406005": (REPLACED_BY, "254837009")},
        full={"363406005": [("20020131", "1"), ("20230731", "0"), ("20240401", "0")]},
        full_associations=[
            ("20230731", "1", SAME_AS, "363406005", "254837009"),
            ("20240401", "0", SAME_AS, "363406005", "254837009"),
            ("20240401", "1", REPLACED_BY, "363406005", "254837009"),
        ],
    )
    release = SnomedCT(zip_release([folder], tmp_path / "full.zip"))
    assert release.inactivated_on("363406005") == "20230731"
    assert release.inactivated_on("254837009") is None
    assert release.history("363406005") == [
        HistoryEvent("20020131", "active"),
        HistoryEvent("20230731", "inactive"),
        HistoryEvent("20230731", "SAME_AS", "254837009"),
        HistoryEvent("20240401", "REPLACED_BY", "254837009"),
        HistoryEvent("20240401", "SAME_AS", "254837009", withdrawn=True),
    ]
    assert release.replacements("363406005") == {"REPLACED_BY": {"254837009"}}


def test_without_full_files_history_comes_from_the_snapshot(tmp_path: Path, cache: Path):
    release = SnomedCT(write_release(tmp_path, inactive={"363406005": (REPLACED_BY, "254837009")}))
    assert release.inactivated_on("363406005") == "20240401"
    assert release.history("363406005") == [
        HistoryEvent("20240401", "inactive"),
        HistoryEvent("20240401", "REPLACED_BY", "254837009"),
    ]


def test_a_zip_missing_a_core_file_is_refused_naming_zip_and_member(tmp_path: Path, cache: Path):
    folder = write_release(tmp_path / "built")
    next((folder / "Snapshot" / "Terminology").glob("sct2_Description*")).unlink()
    archive = zip_release([folder], tmp_path / "broken.zip")
    with pytest.raises(MissingReleaseFile, match=r"sct2_Description_Snapshot-en_\*\.txt") as raised:
        SnomedCT(archive)
    assert raised.value.path == f"{archive}!/{folder.name}/Snapshot/Terminology"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_zip_without_concepts_is_refused_naming_the_member(tmp_path: Path, cache: Path):
    archive = zip_release([write_release(tmp_path / "built", concepts={})], tmp_path / "empty.zip")
    with pytest.raises(MalformedRelease, match="holds no concepts") as raised:
        SnomedCT(archive)
    assert raised.value.path == str(archive)
    assert "sct2_Concept_Snapshot_TEST_20240401.txt has no rows" in raised.value.message


def test_a_bad_row_in_a_zip_names_the_member_and_line(tmp_path: Path, cache: Path):
    folder = write_release(tmp_path / "built")
    path = next((folder / "Snapshot" / "Terminology").glob("sct2_Concept*"))
    path.write_text(path.read_text().replace("254837009", "254837008"))
    archive = zip_release([folder], tmp_path / "bad.zip")
    with pytest.raises(MalformedRelease, match="check digit") as raised:
        SnomedCT(archive)
    member = f"{folder.name}/Snapshot/Terminology/{path.name}"
    assert (raised.value.path, raised.value.line) == (f"{archive}!/{member}", 7)


def test_a_damaged_zip_is_refused_naming_it(tmp_path: Path, cache: Path):
    archive = international_zip(tmp_path)
    data = bytearray(archive.read_bytes())
    data[-30:] = b"\0" * 30  # the end of the central directory
    archive.write_bytes(bytes(data))
    with pytest.raises(MalformedRelease, match="not a zip that can be read") as raised:
        SnomedCT(archive)
    assert raised.value.path == str(archive)


def write_dmd_zip(tmp_path: Path) -> Path:
    folder = write_dmd(tmp_path / "dmd-built")
    target = tmp_path / f"{folder.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return target


def test_a_dmd_zip_is_read_like_its_folder(tmp_path: Path, cache: Path):
    archive = write_dmd_zip(tmp_path)
    dmd = DMD(archive)
    assert dmd.release.id == "dmd-nhsbsa-20240401"
    assert dmd.concept(VTM).term == "Metformin"
    assert AMPP in dmd.descendants_of(VTM)
    assert DMD(nest_zip(archive, tmp_path / "week.zip")).concept(VTM).term == "Metformin"
