"""Publishing, bumping and diffing: versions over one release, and the same rules over two."""

import datetime as dt
from pathlib import Path

import pytest
from stdnum import verhoeff

from codesetlib.codeset import load_codeset, write_codes
from codesetlib.diff import diff_releases, diff_versions
from codesetlib.errors import CodesetError
from codesetlib.expand import expand_rules
from codesetlib.terminology import open_release
from codesetlib.versions import bump, next_version, publish, version_dir, versions
from tests.conftest import write_codeset
from tests.fixtures.rf2 import CONCEPTS, write_release

NEW_CHILD = "1999999910" + verhoeff.calc_check_digit("1999999910")


@pytest.fixture
def two_releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """April: the test concepts. October: 363406005 inactive (replaced by 254837009) and a new
    child of the cancer root."""
    root = tmp_path / "releases"
    root.mkdir()
    write_release(root, date="20240402")
    later = dict(CONCEPTS) | {NEW_CHILD: ("Malignant neoplasm of appendix", ("363346000",))}
    write_release(
        root,
        date="20241002",
        concepts=later,
        inactive={"363406005": ("900000000000526001", "254837009")},
    )
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(root))
    return "snomedct-test-20240402", "snomedct-test-20241002"


def make(tmp_path: Path, release: str) -> Path:
    folder = write_codeset(tmp_path / "codesets")
    path = folder / "codeset.yaml"
    path.write_text(path.read_text().replace("snomedct-test-20240401", release))
    write_codes(folder, expand_rules(load_codeset(folder)).codes)
    return folder


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [("1.2.3", "patch", "1.2.4"), ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0")],
)
def test_next_version(version, part, expected):
    assert next_version(version, part) == expected


def test_publish_then_bump_archives_the_published_version(tmp_path, two_releases):
    folder = make(tmp_path, two_releases[0])
    digest = publish(folder, dt.date(2024, 6, 1))
    published = load_codeset(folder)
    assert published.status == "published"
    assert published.published.content_hash == digest
    with pytest.raises(CodesetError, match="already published"):
        publish(folder)
    assert bump(folder, "minor") == "1.1.0"
    current = load_codeset(folder)
    assert (current.version, current.status, current.published) == ("1.1.0", "draft", None)
    assert versions(folder) == ["1.0.0"]
    archived = load_codeset(version_dir(folder.parent, "cancer", "1.0.0"))
    assert archived.status == "published"
    with pytest.raises(CodesetError, match=r"no version 9\.9\.9 \(versions: 1\.0\.0, 1\.1\.0\)"):
        version_dir(folder.parent, "cancer", "9.9.9")


def test_a_version_diff_attributes_each_code_to_its_cause(tmp_path, two_releases):
    old_release, new_release = two_releases
    folder = make(tmp_path, old_release)
    bump(folder)
    path = folder / "codeset.yaml"
    text = path.read_text().replace(old_release, new_release)
    text = text.replace(
        "authors:",
        '  - id: R3\n    action: exclude\n    concept: "399068003"\n    term: Prostate\nauthors:',
    )
    path.write_text(text)
    diff = diff_versions(load_codeset(folder / "history" / "1.0.0"), load_codeset(folder))
    assert [(c.code, c.change, c.cause) for c in diff.changes] == [
        (NEW_CHILD, "added", "release change"),
        ("363406005", "removed", "release change"),
        ("399068003", "removed", "rule change"),
    ]
    assert diff.rules_added == ["R3: exclude 399068003 |Prostate| and descendants"]


def test_the_same_rules_across_two_releases(tmp_path, two_releases):
    old_release, new_release = two_releases
    codeset = load_codeset(make(tmp_path, old_release))
    drift = diff_releases(codeset, open_release(old_release), open_release(new_release))
    assert drift.new_codes == [(NEW_CHILD, "Malignant neoplasm of appendix")]
    assert drift.dropped_codes == [("363406005", "Malignant neoplasm of colon")]
    colon = ("363406005", "Malignant neoplasm of colon", {"REPLACED_BY": ["254837009"]})
    assert drift.inactivated == [colon]
    # Named by code, an inactive concept stays in the expansion (and lint flags it).
    single = codeset.model_copy(
        update={
            "rules": [codeset.rules[0].model_copy(update={"concept": None, "code": "363406005"})]
        }
    )
    drift = diff_releases(single, open_release(old_release), open_release(new_release))
    assert (drift.dropped_codes, drift.inactivated) == ([], [colon])
