"""Versions of a codeset: publish one (recording its content hash) and bump to the next.

A published version is immutable. Its content hash covers everything it is (see `content_hash`);
`codeset check` verifies it and every version archived under `history/`; `publish` never records a
second hash for a version number that was published or archived before, whatever its status says; and
a study refuses a pinned version whose content no longer matches its hash.

Publishing is gated: the reviewers' sign-offs the codesets folder requires, no decision still marked
`review`, codes.csv equal to the expansion of the rules, and no lint error. A refusal lists every
condition that is unmet. Bumping archives the current, published version under `history/<version>/`
and starts the next as a draft that no reviewer has signed off yet.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from codesetlib.codesets.files import (
    CODES_FILE,
    CODESET_FILE,
    HISTORY_DIR,
    SETTINGS_FILE,
    archived_versions,
    codeset_dir,
    load_codeset,
    load_folder_settings,
    read_codes,
)
from codesetlib.codesets.model import CodeRow, Codeset, content_hash, matches_its_hash, version_key
from codesetlib.core import atomic
from codesetlib.core.errors import CodesetError, CodesetFormatError

Part = Literal["major", "minor", "patch"]
# A reviewer's sign-off as YAML writes it, in any of the spellings PyYAML reads as true.
SIGNED_OFF = re.compile(r"(\bsigned_off:[ \t]*)(?:true|yes|on)\b", re.I)
# Lint findings the gate states in its own words (drift, an edited publication, an earlier number).
GATE_CHECKS = {"codes-drift", "published-edited", "version-not-later"}

versions = archived_versions


class PublishingRefused(CodesetError):
    """A version that may not be published yet; `conditions` lists every reason, one line each."""

    def __init__(self, codeset: Codeset, conditions: list[str], path: Path) -> None:
        self.conditions = conditions
        lines = "".join(f"\n  - {condition}" for condition in conditions)
        super().__init__(
            f"cannot publish {codeset.id} {codeset.version}: "
            f"{len(conditions)} condition(s) unmet:{lines}",
            path=path,
        )


def next_version(version: str, part: Part) -> str:
    """The semantic version after `version` when `part` changes."""
    major, minor, patch = version_key(version)
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def set_field(text: str, key: str, value: str) -> str:
    """`text` with the top-level `key:` line set to `value` (the rest of the file as written)."""
    pattern = re.compile(rf"^{re.escape(key)}:.*$", re.M)
    if not pattern.search(text):
        raise CodesetError(f"no top-level field {key}", field=key)
    return pattern.sub(f"{key}: {value}", text, count=1)


def remove_block(text: str, key: str) -> str:
    """`text` without the top-level `key:` field and its indented lines."""
    return re.sub(rf"^{re.escape(key)}:.*\n(?:[ \t]+.*\n|\n)*", "", text, flags=re.M)


def _valid_text(path: Path, text: str) -> Codeset:
    """The codeset `text` holds, refusing an edit that would leave `path` invalid before it is written."""
    try:
        return Codeset.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CodesetFormatError(
            f"the file cannot be edited safely ({exc.__class__.__name__}); edit it by hand",
            path=path,
        ) from None


def _earlier_publication(folder: Path, codeset: Codeset, rows: list[CodeRow]) -> list[str]:
    """Why this version number cannot take new content: it was published or archived before."""
    found = []
    recorded = codeset.published
    if recorded is not None and not matches_its_hash(codeset, rows):
        found.append(
            f"published: version {codeset.version} was published on {recorded.date} with content "
            f"hash {recorded.content_hash}; its content has changed since, and a published version "
            f"is never rewritten: restore it, or run `codeset bump {codeset.id}` for a new version"
        )
    archived = archived_versions(folder)
    if codeset.version in archived:
        found.append(
            f"version: {codeset.version} is archived already in {HISTORY_DIR}/{codeset.version}: "
            "a version is published once; give this one a later number"
        )
    elif archived and version_key(codeset.version) < version_key(archived[-1]):
        found.append(
            f"version: {codeset.version} is not later than archived {archived[-1]}; "
            "give this one a later number"
        )
    return found


def _missing_sign_offs(folder: Path, codeset: Codeset) -> list[str]:
    settings_path = folder.parent / SETTINGS_FILE
    required = load_folder_settings(folder.parent).sign_offs_required
    signed = sum(review.signed_off for review in codeset.reviewers)
    if signed >= required:
        return []
    source = (
        f"that {settings_path} requires"
        if settings_path.exists()
        else f"required (the default; set sign_offs_required in {settings_path})"
    )
    return [
        f"reviewers: {signed} of {required} sign-off(s) {source}; "
        "record each reviewer's sign-off with signed_off: true"
    ]


def _open_decisions(codeset: Codeset) -> list[str]:
    found = []
    for index, decision in codeset.open_decisions():
        rationale = " ".join(decision.rationale.split())
        rationale = rationale if len(rationale) <= 80 else rationale[:77] + "..."
        found.append(
            f"decisions[{index}]: the decision about {decision.about} is marked review "
            f'("{rationale}"); record include or exclude once it is reviewed'
        )
    return found


def _lint_conditions(folder: Path, codeset: Codeset) -> list[str]:
    from codesetlib.codesets.lint import lint_codeset

    findings = lint_codeset(folder)
    drifted = [f.code for f in findings if f.check == "codes-drift"]
    found = []
    if drifted:
        shown = ", ".join(str(code) for code in drifted[:5]) + (", ..." if len(drifted) > 5 else "")
        found.append(
            f"{CODES_FILE} differs from the expansion of the rules in {len(drifted)} code(s) "
            f"({shown}); run `codeset expand --write {codeset.id}`"
        )
    for finding in findings:
        if finding.severity == "error" and finding.check not in GATE_CHECKS:
            where = f" [{finding.rule or finding.code}]" if (finding.rule or finding.code) else ""
            found.append(f"lint {finding.check}{where}: {finding.message} (fix: {finding.fix})")
    return found


def publish_blockers(folder: Path) -> list[str]:
    """Every condition that stops the current version of the codeset in `folder` being published, in
    words, one line each; an empty list when it may be published."""
    codeset = load_codeset(folder)
    rows = read_codes(folder)
    return [
        *_earlier_publication(folder, codeset, rows),
        *_missing_sign_offs(folder, codeset),
        *_open_decisions(codeset),
        *_lint_conditions(folder, codeset),
    ]


def publish(folder: Path, today: dt.date | None = None) -> str:
    """Mark the codeset published and record its content hash; return the hash.

    A version whose status was set back to draft or review while its content stayed as published is
    published again under its first record; one whose content changed is refused."""
    codeset = load_codeset(folder)
    path = folder / CODESET_FILE
    if codeset.status in ("published", "retired"):
        raise CodesetError(
            f"version {codeset.version} is already {codeset.status}; run `codeset bump` first",
            path=path,
            field="status",
        )
    blockers = publish_blockers(folder)
    if blockers:
        raise PublishingRefused(codeset, blockers, path)
    text = set_field(path.read_text(encoding="utf-8"), "status", "published")
    if codeset.published is not None:
        digest = codeset.published.content_hash
    else:
        digest = content_hash(codeset, read_codes(folder))
        date = (today or dt.date.today()).isoformat()
        text = remove_block(text, "published").rstrip("\n") + "\n"
        text += f"published:\n  date: {date}\n  content_hash: {digest}\n"
    _valid_text(path, text)
    atomic.write_text(path, text)
    return digest


def _next_draft_text(path: Path, version: str) -> str:
    """codeset.yaml of the next version: a draft, without the publication record or any sign-off
    (each version is signed off for itself)."""
    text = set_field(path.read_text(encoding="utf-8"), "version", version)
    text = set_field(text, "status", "draft")
    text = SIGNED_OFF.sub(r"\1false", remove_block(text, "published"))
    if any(review.signed_off for review in _valid_text(path, text).reviewers):
        raise CodesetError(
            "a reviewer's sign-off is written in a form that cannot be reset; "
            "write it as `signed_off: true`",
            path=path,
            field="reviewers",
        )
    return text


def bump(folder: Path, part: Part = "minor") -> str:
    """Archive the current, published version under history/ and start the next one as a draft."""
    codeset = load_codeset(folder)
    path = folder / CODESET_FILE
    if codeset.status not in ("published", "retired"):
        raise CodesetError(
            f"version {codeset.version} has status {codeset.status}, not published: a version is "
            f"edited in place until it is published (`codeset publish {codeset.id}`), and only then "
            "archived",
            path=path,
            field="status",
        )
    if not matches_its_hash(codeset, read_codes(folder)):
        raise CodesetError(
            f"version {codeset.version} was published, but its content has changed since: restore "
            "it before archiving it, so that the archive holds the version as it was published",
            path=path,
            field="published.content_hash",
        )
    history = folder / HISTORY_DIR
    archive = history / codeset.version
    if archive.exists():
        raise CodesetError(f"version {codeset.version} is already archived", path=archive)
    version = next_version(codeset.version, part)
    if version in archived_versions(folder):
        raise CodesetError(f"version {version} is already archived", path=history / version)
    text = _next_draft_text(path, version)
    # The archive is copied whole into a hidden folder and renamed into place, and removed again if
    # the new draft cannot be written: a failure leaves the codeset as it was.
    made_history, archived = not history.exists(), False
    staging = history / f".{codeset.version}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        for name in (CODESET_FILE, CODES_FILE):
            shutil.copy2(folder / name, staging / name)
        staging.rename(archive)
        archived = True
        atomic.write_text(path, text)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if archived:
            shutil.rmtree(archive)
        if made_history and history.is_dir() and not any(history.iterdir()):
            history.rmdir()
        raise
    return version


def verify_version(folder: Path, codeset: Codeset, rows: list[CodeRow], *, pinned: bool) -> None:
    """Refuse a version a study would use whose content is not what was published: one that was
    published (or archived, or pinned by number) must still hash to its recorded content hash."""
    path = folder / CODESET_FILE
    where = f"codeset {codeset.id} {codeset.version}"
    if codeset.published is None:
        if pinned or folder.parent.name == HISTORY_DIR:
            raise CodesetError(
                f"{where} is pinned but not published, so its content can change under the pin: "
                "publish it, or leave the version out to use the current draft",
                path=path,
                field="status",
            )
        return
    if not matches_its_hash(codeset, rows):
        raise CodesetError(
            f"{where} does not match the content hash recorded when it was published "
            f"({codeset.published.content_hash}): restore it, or bump it and pin the new version",
            path=path,
            field="published.content_hash",
        )


def version_dir(root: Path, codeset_id: str, version: str | None) -> Path:
    """The folder of one version: the current one, or an archived one under history/."""
    folder = codeset_dir(root, codeset_id)
    if version is None or version == load_codeset(folder).version:
        return folder
    archived = versions(folder)
    if version not in archived:
        known = ", ".join([*archived, load_codeset(folder).version])
        raise CodesetError(f"codeset {codeset_id} has no version {version} (versions: {known})")
    return folder / HISTORY_DIR / version
