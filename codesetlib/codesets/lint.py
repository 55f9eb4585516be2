"""Lint a codeset: findings with a severity and a suggested fix, as a reviewer would raise them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from codesetlib.codesets.ecl import EclEvaluator
from codesetlib.codesets.ecl.syntax import ConceptReference, MemberOf, concept_references, parse_ecl
from codesetlib.codesets.expand import Expansion, expand_rules, open_codeset_release
from codesetlib.codesets.files import (
    CODES_FILE,
    CODESET_FILE,
    HISTORY_DIR,
    archived_versions,
    available_codesets,
    load_codeset,
    load_folder_settings,
    read_codes,
)
from codesetlib.codesets.model import CodeRow, Codeset, matches_its_hash, version_key
from codesetlib.codesets.usage import (
    DEFAULT_LEFT_OUT_THRESHOLD,
    UsageIndex,
    load_usage,
    unused_codes,
    used_codes_left_out,
)
from codesetlib.core.errors import CodesetError
from codesetlib.terminology import Terminology
from codesetlib.terminology.identifiers import dmd_id_problem, icd10_problem, sctid_problem

Severity = Literal["error", "warning", "info"]

# Terms that mark a concept which is not a current diagnosis, though it sits beside one.
SUSPICIOUS = {
    "history of": re.compile(r"\bhistory of\b|\bh/o\b", re.I),
    "family history": re.compile(r"\bfamily history\b|\bFH:", re.I),
    "suspected": re.compile(r"\bsuspected\b|\bsuspicion\b|\?", re.I),
    "screening": re.compile(r"\bscreening\b", re.I),
    "referral": re.compile(r"\breferral\b|\breferred\b", re.I),
    "negation": re.compile(
        r"^(no|not)\b|(?<!-)\bnegative\b|\bdeclined\b|\bexcluded\b|\bresolved\b|\bruled out\b", re.I
    ),
}


@dataclass(frozen=True)
class Finding:
    """One lint finding: what, where, how serious, and how to fix it."""

    codeset: str
    check: str
    severity: Severity
    message: str
    fix: str
    code: str | None = None
    rule: str | None = None

    def line(self) -> str:
        where = f" [{self.rule or self.code}]" if (self.rule or self.code) else ""
        return f"{self.severity}: {self.codeset}{where}: {self.check}: {self.message} (fix: {self.fix})"

    def as_dict(self) -> dict:
        return asdict(self)


PROBLEMS = {"snomedct": sctid_problem, "dmd": dmd_id_problem, "icd10": icd10_problem}


def identifier_problem(system: str, code: str) -> str | None:
    """Why `code` cannot be a code of `system` (None when its form is right, or when the kit knows no
    rule of its form, as for the `omop:` vocabularies)."""
    check = PROBLEMS.get(system)
    return None if check is None else check(code)


def _covered_by_decision(codeset: Codeset, code: str) -> bool:
    return any(d.about == code for d in codeset.decisions)


def inactive_codes(
    codeset: Codeset, rows: list[CodeRow], terminology: Terminology
) -> Iterable[Finding]:
    for row in rows:
        concept = terminology.lookup(row.code)
        if concept is None or concept.active:
            continue
        targets = terminology.replacements(row.code)
        described = "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(targets.items()))
        yield Finding(
            codeset.id,
            "inactive-code",
            "error",
            f"{row.code} |{row.term}| is inactive in {terminology.release.id}",
            f"use its replacement ({described})"
            if described
            else "remove it or find a current concept",
            code=row.code,
            rule=row.rule,
        )


def unknown_codes(
    codeset: Codeset, rows: list[CodeRow], terminology: Terminology
) -> Iterable[Finding]:
    for row in rows:
        problem = identifier_problem(codeset.coding_system, row.code)
        if problem is not None:
            yield Finding(
                codeset.id,
                "bad-code",
                "error",
                f"{row.code} is not a valid {codeset.coding_system} code: {problem}",
                "correct the code or the codeset's coding_system",
                code=row.code,
            )
        elif terminology.lookup(row.code) is None:
            yield Finding(
                codeset.id,
                "code-not-in-release",
                "error",
                f"{row.code} |{row.term}| is not in {terminology.release.id}",
                "check the code, or the release the codeset names",
                code=row.code,
            )


def rule_findings(codeset: Codeset, expansion: Expansion) -> Iterable[Finding]:
    seen: dict[str, str] = {}
    for effect in expansion.effects:
        rule = effect.rule
        if not effect.matched:
            yield Finding(
                codeset.id,
                "rule-matches-nothing",
                "warning",
                f"{rule.action} {rule.target} matches no code in {expansion.release}",
                "remove the rule or correct its search",
                rule=rule.id,
            )
        elif not (effect.added or effect.removed):
            yield Finding(
                codeset.id,
                "rule-has-no-effect",
                "warning",
                f"{rule.action} {rule.target} changes nothing: earlier rules already decided its codes",
                "remove the rule or move it",
                rule=rule.id,
            )
        key = f"{rule.action}:{rule.target}"
        if key in seen:
            yield Finding(
                codeset.id,
                "duplicate-rule",
                "warning",
                f"{rule.target} is {rule.action}d again (first by {seen[key]})",
                "remove the duplicate",
                rule=rule.id,
            )
        seen.setdefault(key, rule.id)


def ecl_rule_findings(codeset: Codeset, terminology: Terminology) -> Iterable[Finding]:
    """In `ecl` and `refset` rules: concepts written with a term other than the release's, concepts
    inactive in the release (they select nothing), and inactive refset members left out. That the
    ECL parses is checked when the codeset is read, and that a refset exists when it is expanded."""
    for rule in codeset.rules:
        if rule.ecl is not None:
            expression = parse_ecl(rule.ecl)
        elif rule.refset is not None:
            expression = MemberOf(ConceptReference(rule.refset, rule.term))
        else:
            continue
        evaluator = EclEvaluator(terminology, field=f"rules[{rule.id}]")
        evaluator.evaluate(expression)
        named = {r.code: r for r in concept_references(expression)}
        yield from _ecl_concepts(codeset, rule.id, named, terminology)
        members = sorted(evaluator.inactive_left_out - named.keys())
        if members:
            yield Finding(
                codeset.id,
                "inactive-members-left-out",
                "info",
                f"{len(members)} refset member(s) inactive in {terminology.release.id} are left out "
                f"(e.g. {members[0]} |{terminology.concept(members[0]).term}|)",
                "nothing to do unless they were meant to count: an inactive concept is not recorded "
                "in new records",
                rule=rule.id,
            )


def _ecl_concepts(
    codeset: Codeset, rule_id: str, named: dict[str, ConceptReference], terminology: Terminology
) -> Iterable[Finding]:
    for code, reference in named.items():
        concept = terminology.concept(code)
        if not concept.active:
            targets = terminology.replacements(code)
            described = "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(targets.items()))
            yield Finding(
                codeset.id,
                "ecl-inactive-concept",
                "warning",
                f"{code} |{concept.term}| is inactive in {terminology.release.id}, and ECL leaves "
                "it out",
                f"use its replacement ({described})" if described else "name a current concept",
                code=code,
                rule=rule_id,
            )
        elif reference.term and reference.term != concept.term:
            yield Finding(
                codeset.id,
                "ecl-term-differs",
                "warning",
                f"{code} is written |{reference.term}| but is |{concept.term}| in "
                f"{terminology.release.id}",
                "correct the term, or check the code",
                code=code,
                rule=rule_id,
            )


def unreviewed_descendants(
    codeset: Codeset, expansion: Expansion, terminology: Terminology
) -> Iterable[Finding]:
    """Children of an included code that no rule matched and no decision covers."""
    matched = set().union(*(e.matched for e in expansion.effects))
    included = expansion.code_set
    for code in sorted(included):
        for child in sorted(terminology.children(code)):
            if child in matched or child in included or _covered_by_decision(codeset, child):
                continue
            term = terminology.concept(child).term
            yield Finding(
                codeset.id,
                "unreviewed-descendant",
                "warning",
                f"{child} |{term}| is a child of included {code} but no rule or decision covers it",
                "include or exclude it by a rule, or record a decision about it",
                code=child,
            )


def suspicious_concepts(codeset: Codeset, rows: list[CodeRow]) -> Iterable[Finding]:
    """In a diagnosis codeset: codes whose terms say history, suspicion, screening, referral or no."""
    if codeset.category != "diagnosis":
        return
    for row in rows:
        if _covered_by_decision(codeset, row.code):
            continue
        for kind, pattern in SUSPICIOUS.items():
            if pattern.search(row.term):
                yield Finding(
                    codeset.id,
                    "suspicious-concept",
                    "warning",
                    f"{row.code} |{row.term}| looks like a {kind} concept, not a diagnosis",
                    "exclude it, or record a decision that it belongs",
                    code=row.code,
                    rule=row.rule,
                )
                break


def drift(codeset: Codeset, recorded: list[CodeRow], expansion: Expansion) -> Iterable[Finding]:
    """Where codes.csv differs from the expansion of the rules."""
    expected = {r.code: r for r in expansion.codes}
    have = {r.code: r for r in recorded}
    for code in sorted(expected.keys() - have.keys()):
        yield Finding(
            codeset.id,
            "codes-drift",
            "error",
            f"{CODES_FILE} lacks {code} |{expected[code].term}| that rule {expected[code].rule} gives",
            f"run `codeset expand --write {codeset.id}`",
            code=code,
        )
    for code in sorted(have.keys() - expected.keys()):
        yield Finding(
            codeset.id,
            "codes-drift",
            "error",
            f"{CODES_FILE} lists {code} |{have[code].term}|, which the rules do not give",
            f"run `codeset expand --write {codeset.id}`",
            code=code,
        )
    for code in sorted(c for c in expected.keys() & have.keys() if expected[c] != have[c]):
        yield Finding(
            codeset.id,
            "codes-drift",
            "error",
            f"{CODES_FILE} row for {code} differs from the expansion",
            f"run `codeset expand --write {codeset.id}`",
            code=code,
        )


def publication(
    codeset: Codeset, recorded: list[CodeRow], sign_offs_required: int = 1
) -> Iterable[Finding]:
    """A published version is immutable: its content must hash to what was recorded, whatever its
    status now says."""
    if codeset.published is None:
        return
    if not matches_its_hash(codeset, recorded):
        yield Finding(
            codeset.id,
            "published-edited",
            "error",
            f"version {codeset.version} was published, but its content has changed since",
            f"restore it, or run `codeset bump {codeset.id}` to start a new version",
        )
    signed = sum(r.signed_off for r in codeset.reviewers)
    if signed < sign_offs_required:
        yield Finding(
            codeset.id,
            "no-sign-off",
            "warning",
            f"a published codeset has {signed} of the {sign_offs_required} reviewer sign-off(s) "
            "its folder requires",
            "record a reviewer with signed_off: true (in a new version)",
        )


def archived(codeset: Codeset, folder: Path) -> Iterable[Finding]:
    """Every version under history/ is as it was published, and the current version is later."""
    versions = archived_versions(folder)
    restore = "restore it from version control: an archived version is never edited"
    for version in versions:
        place = folder / HISTORY_DIR / version
        old = load_codeset(place)
        if (old.id, old.version) != (codeset.id, version):
            yield Finding(
                codeset.id,
                "history-misplaced",
                "error",
                f"{place / CODESET_FILE} holds {old.id} {old.version}, not {codeset.id} {version}",
                restore,
            )
        elif old.published is None:
            yield Finding(
                codeset.id,
                "history-unpublished",
                "error",
                f"{place} (version {version}) is a {old.status} without its publication record, "
                "but only a published version is archived",
                restore,
            )
        elif not matches_its_hash(old, read_codes(place)):
            yield Finding(
                codeset.id,
                "history-edited",
                "error",
                f"{place} (version {version}) was published with content hash "
                f"{old.published.content_hash}, but its files have changed since",
                restore,
            )
    if versions and version_key(codeset.version) <= version_key(versions[-1]):
        yield Finding(
            codeset.id,
            "version-not-later",
            "error",
            f"version {codeset.version} is not later than archived {versions[-1]}",
            "give the current version a later number, as `codeset bump` does",
        )


def decisions_about_nothing(codeset: Codeset, rows: list[CodeRow], terminology: Terminology):
    rule_ids = {r.id for r in codeset.rules}
    for decision in codeset.decisions:
        if decision.about not in rule_ids and terminology.lookup(decision.about) is None:
            yield Finding(
                codeset.id,
                "decision-about-nothing",
                "warning",
                f"a decision is about {decision.about}, which is neither a rule nor a code of the release",
                "correct its `about`",
            )


def overlaps(
    codeset: Codeset, rows: list[CodeRow], others: dict[str, set[str]]
) -> Iterable[Finding]:
    mine = {r.code for r in rows}
    for other, codes in sorted(others.items()):
        shared = mine & codes
        if other != codeset.id and shared:
            yield Finding(
                codeset.id,
                "overlapping-codesets",
                "info",
                f"shares {len(shared)} code(s) with {other} (e.g. {min(shared)})",
                "check the two are meant to overlap",
            )


def unused_nationally(
    codeset: Codeset, rows: list[CodeRow], terminology: Terminology, usage: UsageIndex
) -> Iterable[Finding]:
    """Codes no loaded year of national usage lists as used (only when usage files of the codeset's
    coding system are loaded, see `codesets.usage`); a decision about the code answers it."""
    years = usage.years(codeset.coding_system)
    if not years:
        return
    span = years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"
    terms = {r.code: r for r in rows}
    for code in unused_codes(terms, codeset.coding_system, terminology, usage):
        if _covered_by_decision(codeset, code):
            continue
        yield Finding(
            codeset.id,
            "unused-nationally",
            "info",
            f"{code} |{terms[code].term}| is not used nationally in any loaded year ({span})",
            "check that records hold this code and not another; exclude it, or record a decision "
            "that it belongs",
            code=code,
            rule=terms[code].rule,
        )


def used_descendants_left_out(
    codeset: Codeset,
    expansion: Expansion,
    terminology: Terminology,
    usage: UsageIndex,
    threshold: int = DEFAULT_LEFT_OUT_THRESHOLD,
) -> Iterable[Finding]:
    """Descendants of included codes that the rules leave out though used more than `threshold`
    times nationally in the latest loaded year; a decision about the code answers it."""
    for left in used_codes_left_out(expansion, terminology, usage, threshold):
        if _covered_by_decision(codeset, left.code):
            continue
        why = (
            f"exclusion {left.excluded_by} removes it"
            if left.excluded_by
            else "no rule includes it"
        )
        yield Finding(
            codeset.id,
            "used-descendant-left-out",
            "warning",
            f"{left.code} |{terminology.concept(left.code).term}| is below included {left.below} "
            f"and used {left.usage:,} times nationally in {left.year}, but {why}",
            "include it by a rule, or record a decision about it saying why it stays out",
            code=left.code,
            rule=left.excluded_by,
        )


def lint_codeset(
    folder: Path,
    others: dict[str, set[str]] | None = None,
    *,
    usage_threshold: int = DEFAULT_LEFT_OUT_THRESHOLD,
) -> list[Finding]:
    """Every finding for the codeset in `folder` (errors in its files are raised, not returned, and
    name the file: an unknown concept in a rule names the codeset.yaml the rule is in).
    `usage_threshold` is the national use in the latest year above which a left-out descendant is
    reported, when usage files are loaded (CODESET_USAGE_PATH)."""
    try:
        return _lint_codeset(folder, others, usage_threshold)
    except CodesetError as exc:
        raise exc.located(folder / CODESET_FILE) from None


def _lint_codeset(
    folder: Path, others: dict[str, set[str]] | None, usage_threshold: int
) -> list[Finding]:
    codeset = load_codeset(folder)
    terminology = open_codeset_release(codeset)
    expansion = expand_rules(codeset, terminology)
    recorded = read_codes(folder)
    findings = [
        *unknown_codes(codeset, recorded, terminology),
        *inactive_codes(codeset, recorded, terminology),
        *drift(codeset, recorded, expansion),
        *rule_findings(codeset, expansion),
        *ecl_rule_findings(codeset, terminology),
        *unreviewed_descendants(codeset, expansion, terminology),
        *suspicious_concepts(codeset, recorded),
        *decisions_about_nothing(codeset, recorded, terminology),
        *publication(codeset, recorded, load_folder_settings(folder.parent).sign_offs_required),
        *archived(codeset, folder),
        *overlaps(codeset, recorded, others or {}),
    ]
    usage = load_usage()
    findings += unused_nationally(codeset, recorded, terminology, usage)
    findings += used_descendants_left_out(codeset, expansion, terminology, usage, usage_threshold)
    return findings


def codes_by_codeset(root: Path) -> dict[str, set[str]]:
    """The recorded codes of every codeset under `root`, for overlap checks."""
    out = {}
    for codeset_id in available_codesets(root):
        try:
            out[codeset_id] = {r.code for r in read_codes(root / codeset_id)}
        except CodesetError:
            continue
    return out
