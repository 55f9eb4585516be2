"""What changed between two versions of a codeset, or between two releases under the same rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from codesetlib.codesets.expand import code_sort_key, expand_rules
from codesetlib.codesets.model import Codeset
from codesetlib.terminology import Terminology, open_release

Cause = Literal["rule change", "release change", "rule and release change"]


@dataclass(frozen=True)
class CodeChange:
    """One code added or removed, with its term and the cause of the change."""

    code: str
    term: str
    change: Literal["added", "removed"]
    cause: str


@dataclass(frozen=True)
class VersionDiff:
    """The codes one version adds and removes relative to another, each with its cause."""

    old: str
    new: str
    changes: list[CodeChange]
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _cause(
    code: str, added: bool, old_rules_new_release: set[str], new_rules_old_release: set[str]
):
    """Attribute a change: would the old rules in the new release (or vice versa) have made it?"""
    if added:
        by_release = code in old_rules_new_release
        by_rules = code in new_rules_old_release
    else:
        by_release = code not in old_rules_new_release
        by_rules = code not in new_rules_old_release
    if by_release and not by_rules:
        return "release change"
    if by_rules and not by_release:
        return "rule change"
    return "rule and release change"


def diff_versions(old: Codeset, new: Codeset) -> VersionDiff:
    """Codes added and removed from `old` to `new`, each attributed to a rule or a release change."""
    old_release, new_release = (open_release(c.terminology_release) for c in (old, new))
    before = expand_rules(old, old_release)
    after = expand_rules(new, new_release)
    old_rules_new_release = set(expand_rules(old, new_release).code_set)
    new_rules_old_release = set(expand_rules(new, old_release).code_set)
    changes = []
    terms = {r.code: r.term for r in [*before.codes, *after.codes]}
    for code in sorted(after.code_set - before.code_set, key=code_sort_key):
        cause = _cause(code, True, old_rules_new_release, new_rules_old_release)
        changes.append(CodeChange(code, terms[code], "added", cause))
    for code in sorted(before.code_set - after.code_set, key=code_sort_key):
        cause = _cause(code, False, old_rules_new_release, new_rules_old_release)
        changes.append(CodeChange(code, terms[code], "removed", cause))
    old_rules = {(r.action, r.target): r.id for r in old.rules}
    new_rules = {(r.action, r.target): r.id for r in new.rules}
    return VersionDiff(
        old=f"{old.id} {old.version} ({old.terminology_release})",
        new=f"{new.id} {new.version} ({new.terminology_release})",
        changes=changes,
        rules_added=[
            f"{rid}: {a} {t}" for (a, t), rid in new_rules.items() if (a, t) not in old_rules
        ],
        rules_removed=[
            f"{rid}: {a} {t}" for (a, t), rid in old_rules.items() if (a, t) not in new_rules
        ],
    )


@dataclass(frozen=True)
class ReleaseDrift:
    """The same rules expanded in two releases: what is new, what became inactive, what replaces it."""

    codeset: str
    old_release: str
    new_release: str
    new_codes: list[tuple[str, str]]
    dropped_codes: list[tuple[str, str]]
    inactivated: list[tuple[str, str, dict[str, list[str]]]]

    def as_dict(self) -> dict:
        return asdict(self)


def diff_releases(codeset: Codeset, old: Terminology, new: Terminology) -> ReleaseDrift:
    """Expand the codeset's rules in both releases and report new descendants, codes that left the
    expansion, and codes of the old expansion that the new release inactivates, with replacements."""
    before = expand_rules(codeset, old)
    after = expand_rules(codeset, new)
    inactivated = []
    for row in before.codes:
        concept = new.lookup(row.code)
        if concept is not None and not concept.active:
            targets = {k: sorted(v) for k, v in sorted(new.replacements(row.code).items())}
            inactivated.append((row.code, row.term, targets))
    terms = {r.code: r.term for r in [*before.codes, *after.codes]}
    return ReleaseDrift(
        codeset=codeset.id,
        old_release=old.release.id,
        new_release=new.release.id,
        new_codes=[
            (c, terms[c]) for c in sorted(after.code_set - before.code_set, key=code_sort_key)
        ],
        dropped_codes=[
            (c, terms[c]) for c in sorted(before.code_set - after.code_set, key=code_sort_key)
        ],
        inactivated=inactivated,
    )
