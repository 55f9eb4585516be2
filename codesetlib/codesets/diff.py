"""What changed between two versions of a codeset, or between two releases under the same rules, and
how any two codesets compare code by code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from codesetlib.codesets.expand import code_sort_key, expand_rules
from codesetlib.codesets.files import CODESET_FILE
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


@dataclass(frozen=True)
class CodesetComparison:
    """Two codesets (any two, or two versions of one) side by side: the codes each gives in its own
    release, split into those only in the first, only in the second and in both, with their terms."""

    a: str
    b: str
    only_in_a: list[tuple[str, str]]
    only_in_b: list[tuple[str, str]]
    in_both: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.only_in_a or self.only_in_b)

    def summary(self) -> str:
        return (
            f"{len(self.in_both)} code(s) in both, {len(self.only_in_a)} only in A, "
            f"{len(self.only_in_b)} only in B"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _label(codeset: Codeset) -> str:
    return f"{codeset.id} {codeset.version} ({codeset.terminology_release})"


def compare_codesets(a: Codeset, b: Codeset) -> CodesetComparison:
    """Expand both codesets, each in its own release, and compare their codes.

    A code in both is shown with A's term, and B's after it when B's release words it otherwise."""
    first = expand_rules(a, open_release(a.terminology_release))
    second = expand_rules(b, open_release(b.terminology_release))
    terms_a = {row.code: row.term for row in first.codes}
    terms_b = {row.code: row.term for row in second.codes}
    notes = []
    if a.coding_system != b.coding_system:
        notes.append(
            f"A is coded in {a.coding_system} and B in {b.coding_system}, so no code can be in both"
        )
    elif a.terminology_release != b.terminology_release:
        notes.append(
            f"A is expanded in {a.terminology_release} and B in {b.terminology_release}: a code "
            "can differ because the releases do"
        )

    def both(code: str) -> str:
        if terms_a[code] == terms_b[code]:
            return terms_a[code]
        return f"{terms_a[code]} (B: {terms_b[code]})"

    return CodesetComparison(
        a=_label(a),
        b=_label(b),
        only_in_a=[(c, terms_a[c]) for c in sorted(terms_a.keys() - terms_b, key=code_sort_key)],
        only_in_b=[(c, terms_b[c]) for c in sorted(terms_b.keys() - terms_a, key=code_sort_key)],
        in_both=[(c, both(c)) for c in sorted(terms_a.keys() & terms_b, key=code_sort_key)],
        notes=notes,
    )


def version_folder(root: Path, spec: str) -> Path:
    """The folder of the codeset version `spec` names: an id or a codeset folder, with `@version`
    for a version archived under its history (e.g. `diabetes@1.0.0`; the current one without)."""
    from codesetlib.codesets.versions import version_dir

    name, _, version = spec.rpartition("@") if "@" in spec else (spec, "", "")
    path = Path(name)
    if (path / CODESET_FILE).is_file():
        root, name = path.resolve().parent, path.resolve().name
    return version_dir(root, name, version or None)
