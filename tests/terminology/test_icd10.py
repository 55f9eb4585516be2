"""ICD-10: the built-in WHO release and a user's CSV release, behind the same interface."""

from pathlib import Path

import pytest

from codesetlib.terminology import available_releases, open_release
from codesetlib.terminology.base import MalformedRelease
from codesetlib.terminology.icd10 import ICD10


@pytest.fixture(scope="module")
def who() -> ICD10:
    return open_release("icd10-who-2019")


def test_the_who_release_is_always_available(who):
    assert "icd10-who-2019" in available_releases()
    assert who.release.id == "icd10-who-2019"


@pytest.mark.parametrize("written", ["C50.9", "C509", "c50.9"])
def test_lookup_accepts_every_written_form(who, written):
    concept = who.concept(written)
    assert (concept.code, concept.term) == ("C50.9", "Malignant neoplasm: Breast, unspecified")


def test_chapters_blocks_categories_and_subcategories(who):
    assert who.parents("C50.9") == {"C50"}
    assert who.ancestors_of("C509") == {"C50", "C50-C50", "C00-C75", "C00-C97", "II"}
    assert {"C50.0", "C50.9"} <= who.descendants_of("C50")
    assert "C50.9" in who.descendants_of("II")


def test_search_and_validation(who):
    assert "C50" in {c.code for c in who.search("malignant neoplasm breast")}
    assert who.code_problem("C509") is None
    assert who.code_problem("50.9") is not None
    assert who.replacements("C50.9") == {}


CSV = "code,description,parent\nII,Neoplasms,\nC50,Malignant neoplasm of breast,II\nC509,Breast unspecified,C50\n"


def test_a_user_release_file(tmp_path: Path, monkeypatch):
    (tmp_path / "icd10-uk5th-2016.csv").write_text(CSV)
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(tmp_path))
    assert "icd10-uk5th-2016" in available_releases()
    uk = ICD10(tmp_path / "icd10-uk5th-2016.csv")
    assert uk.concept("C50.9").term == "Breast unspecified"
    assert uk.descendants_of("II") == {"C50", "C50.9"}


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "code,term,parent\n",
            1,
            None,
            "expected the header code,description,parent, found code,term,parent",
        ),
        (CSV + "C51,Vulva\n", 5, None, "expected 3 fields, found 2"),
        (CSV + "51,Vulva,II\n", 5, "code", "code '51': expected a letter and two digits"),
        (
            CSV + "C51,Vulva,C99\n",
            5,
            "parent",
            "code C51 names parent C99, which is not in the release",
        ),
    ],
)
def test_a_malformed_user_release_is_refused(tmp_path, text, line, field, message):
    path = tmp_path / "icd10-bad-2020.csv"
    path.write_text(text)
    with pytest.raises(MalformedRelease) as raised:
        ICD10(path)
    error = raised.value
    assert (error.path, error.line, error.field) == (str(path), line, field)
    assert error.message.startswith(message)
