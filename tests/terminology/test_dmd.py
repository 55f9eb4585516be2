"""dm+d: the XML loader, the VTM → VMP → AMP / VMPP → AMPP hierarchy, INVALID items and history."""

from pathlib import Path

import pytest

from codesetlib.terminology import available_releases, open_release
from codesetlib.terminology.base import MalformedRelease, MissingReleaseFile
from codesetlib.terminology.dmd import DMD

VTM, VMP, VMP_OLD, AMP, VMPP, AMPP = (
    "109081006",
    "325278007",
    "325277002",
    "10099999999107",
    "10129999999108",
    "10159999999102",
)
FILES = {
    "f_vtm2_3010424.xml": f"""<?xml version="1.0" encoding="utf-8"?>
<VIRTUAL_THERAPEUTIC_MOIETIES>
  <VTM>
    <VTMID>{VTM}</VTMID>
    <NM>Metformin</NM>
  </VTM>
</VIRTUAL_THERAPEUTIC_MOIETIES>
""",
    "f_vmp2_3010424.xml": f"""<?xml version="1.0" encoding="utf-8"?>
<VIRTUAL_MED_PRODUCTS>
  <VMPS>
    <VMP>
      <VPID>{VMP}</VPID>
      <VPIDPREV>{VMP_OLD}</VPIDPREV>
      <VTMID>{VTM}</VTMID>
      <NM>Metformin 500mg tablets</NM>
    </VMP>
  </VMPS>
</VIRTUAL_MED_PRODUCTS>
""",
    "f_amp2_3010424.xml": f"""<?xml version="1.0" encoding="utf-8"?>
<ACTUAL_MEDICINAL_PRODUCTS>
  <AMPS>
    <AMP>
      <APID>{AMP}</APID>
      <INVALID>1</INVALID>
      <VPID>{VMP}</VPID>
      <NM>Metformin 500mg tablets</NM>
      <DESC>Metformin 500mg tablets (Glucophage Labs)</DESC>
    </AMP>
  </AMPS>
</ACTUAL_MEDICINAL_PRODUCTS>
""",
    "f_vmpp2_3010424.xml": f"""<?xml version="1.0" encoding="utf-8"?>
<VIRTUAL_MED_PRODUCT_PACK>
  <VMPPS>
    <VMPP>
      <VPPID>{VMPP}</VPPID>
      <NM>Metformin 500mg tablets 28 tablet</NM>
      <VPID>{VMP}</VPID>
    </VMPP>
  </VMPPS>
</VIRTUAL_MED_PRODUCT_PACK>
""",
    "f_ampp2_3010424.xml": f"""<?xml version="1.0" encoding="utf-8"?>
<ACTUAL_MEDICINAL_PROD_PACKS>
  <AMPPS>
    <AMPP>
      <APPID>{AMPP}</APPID>
      <NM>Metformin 500mg tablets (Glucophage Labs) 28 tablet</NM>
      <VPPID>{VMPP}</VPPID>
      <APID>{AMP}</APID>
    </AMPP>
  </AMPPS>
</ACTUAL_MEDICINAL_PROD_PACKS>
""",
}


def write_dmd(root: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """Write the small dm+d release; `edits` maps a file name to (old, new) text to change in it."""
    folder = root / "nhsbsa_dmd_5.1.0_20240401000001"
    folder.mkdir(parents=True)
    for name, text in FILES.items():
        old, new = (edits or {}).get(name, ("", ""))
        (folder / name).write_text(text.replace(old, new, 1) if old else text, encoding="utf-8")
    return folder


@pytest.fixture
def dmd(tmp_path: Path) -> DMD:
    return DMD(write_dmd(tmp_path))


def test_release_identity(dmd):
    assert dmd.release.id == "dmd-nhsbsa-20240401"
    assert dmd.release.edition == "nhsbsa"


def test_lookup_gives_name_and_invalid_flag(dmd):
    assert dmd.concept(VTM).term == "Metformin"
    assert dmd.concept(VTM).system == "dmd"
    assert not dmd.concept(AMP).active
    assert dmd.lookup("999999999") is None


def test_a_vtm_has_every_product_and_pack_below_it(dmd):
    assert dmd.children(VTM) == {VMP}
    assert dmd.children(VMP) == {AMP, VMPP}
    assert dmd.parents(AMPP) == {VMPP, AMP}
    assert dmd.descendants_of(VTM) == {VMP, AMP, VMPP, AMPP}
    assert dmd.ancestors_of(AMPP) == {VTM, VMP, AMP, VMPP}


def test_search_covers_names_and_descriptions(dmd):
    assert [c.code for c in dmd.search("glucophage")] == [AMPP]  # the AMP is invalid
    assert {c.code for c in dmd.search("GLUCOPHAGE", include_inactive=True)} == {AMP, AMPP}
    assert [c.code for c in dmd.search("metformin 28")] == [VMPP, AMPP]


def test_a_changed_identifier_is_replaced_by_the_new_one(dmd):
    assert dmd.replacements(VMP_OLD) == {"REPLACED_BY": {VMP}}
    assert dmd.replacements(VMP) == {}


def test_identifiers_are_checked(dmd):
    assert dmd.code_problem(VTM) is None
    assert "check digit" in dmd.code_problem("109081007")


@pytest.mark.parametrize(
    ("file", "old", "new", "line", "field", "message"),
    [
        (
            "f_vmp2_3010424.xml",
            "</NM>",
            "</NMX>",
            8,
            None,
            "not well-formed XML: mismatched tag (column 36)",
        ),
        (
            "f_amp2_3010424.xml",
            f"<APID>{AMP}",
            "<APID>10099999999108",
            5,
            "APID",
            "AMP id 10099999999108: the check digit is wrong (Verhoeff)",
        ),
        (
            "f_ampp2_3010424.xml",
            f"<VPPID>{VMPP}",
            "<VPPID>325279004",
            7,
            "VPPID",
            f"AMPP {AMPP}: VPPID names 325279004, which is not in the release",
        ),
        (
            "f_vtm2_3010424.xml",
            "<NM>Metformin</NM>",
            "",
            3,
            "NM",
            "VTM has no NM; every VTM needs VTMID and NM",
        ),
    ],
)
def test_a_malformed_release_names_file_line_and_field(
    tmp_path, file, old, new, line, field, message
):
    folder = write_dmd(tmp_path, {file: (old, new)})
    with pytest.raises(MalformedRelease) as raised:
        DMD(folder)
    error = raised.value
    assert (error.path, error.line, error.field, error.message) == (
        str(folder / file),
        line,
        field,
        message,
    )


def test_a_missing_file_is_named(tmp_path):
    folder = write_dmd(tmp_path)
    (folder / "f_vmpp2_3010424.xml").unlink()
    with pytest.raises(MissingReleaseFile, match=r"one VMPP file matching f_vmpp2_3\*\.xml"):
        DMD(folder)


def test_user_releases_are_found_by_id(tmp_path, monkeypatch):
    write_dmd(tmp_path)
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(tmp_path))
    assert "dmd-nhsbsa-20240401" in available_releases()


def test_the_shipped_teaching_release_builds_codesets_by_ingredient():
    if "dmd-teaching-20240401" not in available_releases():
        pytest.skip("the teaching dm+d release is not shipped yet")
    dmd = open_release("dmd-teaching-20240401")
    metformin = dmd.descendants_of("109081006")
    assert "325278007" in metformin
    assert all(dmd.concept(code).system == "dmd" for code in metformin)
