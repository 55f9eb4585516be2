"""Publishing, bumping and diffing: versions over one release, and the same rules over two.

A published version is immutable (its content hash covers all it is, and no change of status lets it
be published again with other content) and publishing is gated.
"""

import datetime as dt
from pathlib import Path

import pytest
from stdnum import verhoeff

from codesetlib.codesets.diff import diff_releases, diff_versions
from codesetlib.codesets.expand import expand_rules
from codesetlib.codesets.files import (
    CODES_FILE,
    archived_versions,
    load_codeset,
    load_folder_settings,
    read_codes,
    write_codes,
)
from codesetlib.codesets.model import (
    NOT_HASHED,
    Change,
    Codeset,
    CodesetRule,
    ContextOfUse,
    Decision,
    FolderSettings,
    Person,
    Published,
    ReviewerSignOff,
    content_hash,
)
from codesetlib.codesets.versions import (
    PublishingRefused,
    bump,
    next_version,
    publish,
    publish_blockers,
    verify_version,
    version_dir,
    versions,
)
from codesetlib.core.errors import CodesetError, CodesetFormatError
from codesetlib.terminology import open_release
from tests.conftest import write_codeset
from tests.fixtures.rf2 import CONCEPTS, write_release

NEW_CHILD = "1999999910" + verhoeff.calc_check_digit("1999999910")
REVIEWER = (
    "reviewers:\n  - name: B. Clinician\n    role: GP\n    date: 2024-05-20\n    signed_off: true\n"
)
DAY = dt.date(2024, 6, 1)


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


def make(tmp_path: Path, release: str, *, reviewed: bool = True) -> Path:
    """A draft codeset over `release`, expanded, signed off by one reviewer unless `reviewed` is False."""
    folder = write_codeset(tmp_path / "codesets")
    path = folder / "codeset.yaml"
    text = path.read_text().replace("snomedct-test-20240401", release)
    path.write_text(text + (REVIEWER if reviewed else ""))
    write_codes(folder, expand_rules(load_codeset(folder)).codes)
    return folder


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [("1.2.3", "patch", "1.2.4"), ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0")],
)
def test_next_version(version, part, expected):
    assert next_version(version, part) == expected


def test_publish_then_bump_archives_the_published_version(tmp_path, two_releases):
    folder = make(tmp_path, two_releases[0])
    digest = publish(folder, DAY)
    published = load_codeset(folder)
    assert published.status == "published"
    assert published.published == Published(date=DAY, content_hash=digest)
    with pytest.raises(CodesetError, match="already published"):
        publish(folder)
    assert bump(folder, "minor") == "1.1.0"
    current = load_codeset(folder)
    assert (current.version, current.status, current.published) == ("1.1.0", "draft", None)
    # Each version is signed off for itself: the next one starts with no sign-off.
    assert [r.signed_off for r in current.reviewers] == [False]
    assert versions(folder) == ["1.0.0"]
    archived = load_codeset(version_dir(folder.parent, "cancer", "1.0.0"))
    assert archived.status == "published"
    assert archived.reviewers[0].signed_off
    with pytest.raises(CodesetError, match=r"no version 9\.9\.9 \(versions: 1\.0\.0, 1\.1\.0\)"):
        version_dir(folder.parent, "cancer", "9.9.9")
    with pytest.raises(PublishingRefused, match="reviewers: 0 of 1 sign-off"):
        publish(folder)


def test_a_version_diff_attributes_each_code_to_its_cause(tmp_path, two_releases):
    old_release, new_release = two_releases
    folder = make(tmp_path, old_release)
    publish(folder, DAY)
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


# One other value for every field of the model: each must change the content hash. A field added to
# the model without a line here fails the test, so that leaving it out of the hash is a decision.
OTHER_VALUES = {
    "format": None,  # a single allowed value: nothing to change
    "id": "cancer_other",
    "title": "Another title",
    "version": "1.0.1",
    "coding_system": "icd10",
    "terminology_release": "snomedct-test-20241002",
    "purpose": "Another purpose.",
    "clinical_intent": "Another intent.",
    "context_of_use": ContextOfUse(care_setting="hospital", query="ever recorded"),
    "population": "Adults.",
    "inclusion_criteria": "Also in situ carcinoma.",
    "exclusion_criteria": "Nothing.",
    "rules": [
        CodesetRule(id="R1", action="include", concept="363346000", term="Malignant", note="why")
    ],
    "authors": [Person(name="C. Author")],
    "reviewers": [ReviewerSignOff(name="D. Coder", role="coder", date=DAY, signed_off=True)],
    "references": ["QOF"],
    "methodology": "By hand.",
    "known_limitations": "Many.",
    "decisions": [Decision(about="R1", decision="include", rationale="Because.", by="A", date=DAY)],
    "changelog": [Change(version="1.0.0", date=DAY, changes="First.")],
    "cluster": "CAN_COD",
    "category": "diagnosis",
}


def test_the_content_hash_covers_every_field_but_status_and_the_publication_record(tmp_path):
    folder = write_codeset(tmp_path / "codesets")
    codeset, rows = load_codeset(folder), []
    digest = content_hash(codeset, rows)
    assert set(OTHER_VALUES) | NOT_HASHED == set(Codeset.model_fields)
    for field, value in OTHER_VALUES.items():
        if value is not None:
            changed = codeset.model_copy(update={field: value})
            assert content_hash(changed, rows) != digest, field
    published = codeset.model_copy(
        update={
            "status": "retired",
            "published": Published(date=DAY, content_hash="sha256:" + "0" * 64),
        }
    )
    assert content_hash(published, rows) == digest


def test_codes_are_hashed_as_data_not_as_bytes(tmp_path, test_release):
    folder = write_codeset(tmp_path / "codesets")
    codeset = load_codeset(folder)
    write_codes(folder, expand_rules(codeset).codes)
    digest = content_hash(codeset, read_codes(folder))
    path = folder / CODES_FILE
    # Windows line endings and needless quotes read as the same codes, so hash the same.
    lines = path.read_text().splitlines()
    code, term, rule, active = lines[1].split(",")
    lines[1] = f'{code},"{term}",{rule},{active}'
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert content_hash(codeset, read_codes(folder)) == digest
    replace_in(path, term, term + " (edited)")
    assert content_hash(codeset, read_codes(folder)) != digest


def test_a_version_set_back_to_draft_is_published_again_only_unchanged(tmp_path, test_release):
    folder = make(tmp_path, test_release)
    digest = publish(folder, DAY)
    path = folder / "codeset.yaml"
    replace_in(path, "status: published", "status: draft")
    # Unchanged, it keeps its first publication record.
    assert publish(folder, DAY + dt.timedelta(days=30)) == digest
    assert load_codeset(folder).published == Published(date=DAY, content_hash=digest)
    replace_in(path, "status: published", "status: review")
    replace_in(path, "Patients with", "People with")
    with pytest.raises(PublishingRefused) as refused:
        publish(folder)
    assert refused.value.conditions[0].startswith("published: version 1.0.0 was published on")
    assert "content has changed since" in refused.value.conditions[0]


def test_publishing_lists_every_unmet_condition(tmp_path, test_release):
    folder = make(tmp_path, test_release, reviewed=False)
    path = folder / "codeset.yaml"
    replace_in(
        path,
        "decisions:\n",
        "decisions:\n  - about: R1\n    decision: review\n    rationale: Ask a GP.\n"
        "    by: A. Researcher\n    date: 2024-05-02\n",
    )
    write_codes(folder, read_codes(folder)[1:])
    conditions = publish_blockers(folder)
    starts = [
        "reviewers: 0 of 1 sign-off",
        "decisions[0]: the decision about R1",
        "codes.csv differs",
    ]
    assert [c[: len(start)] for c, start in zip(conditions, starts, strict=True)] == starts
    with pytest.raises(PublishingRefused) as refused:
        publish(folder)
    message = refused.value.location_message()
    assert message.splitlines()[0].endswith("cannot publish cancer 1.0.0: 3 condition(s) unmet:")
    assert message.splitlines()[1:] == [f"  - {c}" for c in conditions]
    assert load_codeset(folder).status == "draft"


@pytest.mark.parametrize(
    ("later", "is_open"),
    [
        ("include", False),  # decided after the review: closed
        ("review", True),
    ],
)
def test_the_latest_decision_about_a_rule_stands(tmp_path, later, is_open):
    folder = write_codeset(tmp_path / "codesets")
    codeset = load_codeset(folder)
    review = Decision(about="R1", decision="review", rationale="Ask.", by="A", date=DAY)
    answer = Decision(
        about="R1", decision=later, rationale="Asked.", by="B", date=DAY.replace(day=2)
    )
    # Written in either order, the later date stands.
    for decisions in ([review, answer], [answer, review]):
        updated = codeset.model_copy(update={"decisions": [*codeset.decisions, *decisions]})
        assert bool(updated.open_decisions()) == is_open


def test_bump_refuses_a_version_that_was_never_published(tmp_path, test_release):
    folder = make(tmp_path, test_release)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(CodesetError, match="has status draft, not published"):
        bump(folder)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not (folder / "history").exists()


def test_the_folder_settings_set_the_sign_offs_required(tmp_path, test_release):
    folder = make(tmp_path, test_release)
    assert load_folder_settings(folder.parent) == FolderSettings(sign_offs_required=1)
    (folder.parent / "codesets.yaml").write_text("sign_offs_required: 2\n")
    assert publish_blockers(folder) == [
        f"reviewers: 1 of 2 sign-off(s) that {folder.parent / 'codesets.yaml'} requires; "
        "record each reviewer's sign-off with signed_off: true"
    ]
    for text, words in [
        ("sign_offs_required: true\n", "valid integer"),
        ("sign_offs_required: -1\n", "greater than or equal to 1"),
        ("sign_offs: 2\n", "unknown field"),
    ]:
        (folder.parent / "codesets.yaml").write_text(text)
        with pytest.raises(CodesetFormatError, match=words):
            load_folder_settings(folder.parent)


def test_archived_versions_are_ordered_as_versions(tmp_path):
    folder = write_codeset(tmp_path / "codesets")
    for version in ("1.10.0", "1.9.0", "0.1.0"):
        (folder / "history" / version).mkdir(parents=True)
        (folder / "history" / version / "codeset.yaml").write_text("")
    (folder / "history" / ".DS_Store").write_text("")
    assert archived_versions(folder) == ["0.1.0", "1.9.0", "1.10.0"]
    (folder / "history" / "latest").mkdir()
    with pytest.raises(CodesetFormatError, match="history/latest: not a version"):
        archived_versions(folder)


def test_a_study_refuses_a_version_whose_content_is_not_what_was_published(tmp_path, test_release):
    folder = make(tmp_path, test_release)
    codeset = load_codeset(folder)
    verify_version(folder, codeset, read_codes(folder), pinned=False)  # the current draft
    with pytest.raises(CodesetError, match=r"cancer 1\.0\.0 is pinned but not published"):
        verify_version(folder, codeset, read_codes(folder), pinned=True)
    publish(folder, DAY)
    codeset = load_codeset(folder)
    verify_version(folder, codeset, read_codes(folder), pinned=True)
    with pytest.raises(CodesetError, match="does not match the content hash") as raised:
        verify_version(folder, codeset, read_codes(folder)[1:], pinned=True)
    assert (raised.value.path, raised.value.field) == (
        str(folder / "codeset.yaml"),
        "published.content_hash",
    )


def test_any_two_codesets_compare_code_by_code_with_their_terms(tmp_path, two_releases):
    from codesetlib.codesets.diff import compare_codesets

    old_release, new_release = two_releases
    a_folder = make(tmp_path / "a", old_release)
    a = load_codeset(a_folder)
    b_folder = write_codeset(
        tmp_path / "b",
        "colon",
        (a_folder / "codeset.yaml")
        .read_text()
        .replace("id: cancer", "id: colon")
        .replace(old_release, new_release),
    )
    found = compare_codesets(a, load_codeset(b_folder))
    assert found.only_in_a == [("363406005", "Malignant neoplasm of colon")]
    assert found.only_in_b == [(NEW_CHILD, "Malignant neoplasm of appendix")]
    assert ("254837009", "Malignant neoplasm of breast") in found.in_both
    assert found.differs and found.notes == [
        f"A is expanded in {old_release} and B in {new_release}: a code can differ because the "
        "releases do"
    ]
    same = compare_codesets(a, a)
    assert not same.differs and len(same.in_both) == len(expand_rules(a).codes)


SHIPPED = Path(__file__).parents[1] / "codesets"


def diff_command(capsys, *args: str) -> tuple[int, str, str]:
    from codesetlib.cli.main import main

    code = main(["--codesets-dir", str(SHIPPED), "diff", *args])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_codeset_diff_compares_two_codesets_by_id_folder_or_version(capsys):
    code, out, _ = diff_command(
        capsys, "family_history_of_cancer", str(SHIPPED / "family_history_recorded")
    )
    assert code == 1
    assert "  only in B  389999999100 |No family history of cancer|" in out.splitlines()
    assert "  in both    275937001 |Family history of cancer|" in out.splitlines()
    assert out.splitlines()[-1] == "5 code(s) in both, 0 only in A, 1 only in B"
    code, out, _ = diff_command(capsys, "diabetes@1.0.0", "diabetes")
    assert code == 1
    assert out.splitlines()[:3] == [
        "A: diabetes 1.0.0 (snomedct-teaching-20240401)",
        "B: diabetes 1.1.0 (snomedct-teaching-20240401)",
        "  only in A  315051004 |Diabetes resolved|",
    ]
    code, out, _ = diff_command(capsys, "hba1c", "hba1c", "--json")
    assert code == 0 and '"only_in_a": []' in out


def test_codeset_diff_keeps_its_version_and_release_forms(capsys):
    code, out, _ = diff_command(capsys, "diabetes", "--from", "1.0.0")
    assert code == 1 and "  rule removed R3: include 315051004 |Diabetes resolved| only" in out
    code, same, _ = diff_command(capsys, "diabetes", "--from", "1.0.0", "--to", "1.1.0")
    assert (code, same) == (1, out)
    code, out, _ = diff_command(capsys, "diabetes@1.0.0", "--release", "snomedct-teaching-20250401")
    assert code in (0, 1) and out.startswith(
        "diabetes: snomedct-teaching-20240401 → snomedct-teaching-20250401"
    )
    for args, words in [
        (("diabetes", "hba1c", "--from", "1.0.0"), "compare versions of one codeset"),
        (("diabetes@1.0.0", "--to", "1.1.0"), "name it once"),
        (("diabetes",), "name the older version with --from"),
        (("diabetes@9.0.0", "diabetes"), "has no version 9.0.0 (versions: 1.0.0, 1.1.0)"),
    ]:
        code, _, err = diff_command(capsys, *args)
        assert code == 2 and words in err, args
