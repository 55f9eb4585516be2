"""Expand a codeset's ordered rules into codes against the terminology release it names."""

from __future__ import annotations

from dataclasses import dataclass

from codesetlib.codesets.model import CodeRow, Codeset, CodesetRule
from codesetlib.core.errors import CodesetFormatError
from codesetlib.terminology import Terminology, open_release


@dataclass(frozen=True)
class RuleEffect:
    """What one rule did during expansion: the codes it matched, added and removed."""

    rule: CodesetRule
    matched: frozenset[str]
    added: frozenset[str]
    removed: frozenset[str]


@dataclass(frozen=True)
class Expansion:
    """The codes a codeset's rules give in a release, and the effect of each rule."""

    codes: list[CodeRow]
    effects: list[RuleEffect]
    release: str

    @property
    def code_set(self) -> frozenset[str]:
        return frozenset(row.code for row in self.codes)


def _known(code: str, rule: CodesetRule, field: str, terminology: Terminology) -> None:
    if terminology.lookup(code) is None:
        named = f"{code} ({rule.term or rule.search})"
        raise terminology.missing(code, named, field=f"rules[{rule.id}].{field}")


def rule_matches(rule: CodesetRule, terminology: Terminology) -> frozenset[str]:
    """The codes a rule names: a concept (and its descendants when asked), one code, a search, the
    active concepts an ECL expression selects, or the active members of a refset."""
    if rule.ecl is not None or rule.refset is not None:
        # The ECL parser (and its grammar library) loads only for the rules that need it.
        from codesetlib.codesets.ecl.evaluate import evaluate_ecl
        from codesetlib.codesets.ecl.syntax import ConceptReference, MemberOf
    if rule.ecl is not None:
        return evaluate_ecl(rule.ecl, terminology, field=f"rules[{rule.id}].ecl")
    if rule.refset is not None:
        _known(rule.refset, rule, "refset", terminology)
        members = MemberOf(ConceptReference(rule.refset, rule.term))
        return evaluate_ecl(members, terminology, field=f"rules[{rule.id}].refset")
    if rule.search is not None:
        found = {c.code for c in terminology.search(rule.search)}
        if rule.within is not None:
            _known(rule.within, rule, "within", terminology)
            found &= terminology.descendants_of(rule.within) | {rule.within}
        return frozenset(found)
    code = rule.concept or rule.code
    _known(code, rule, "concept" if rule.concept else "code", terminology)
    if rule.concept and rule.descendants:
        return frozenset({code} | terminology.descendants_of(code))
    return frozenset({code})


def open_codeset_release(codeset: Codeset) -> Terminology:
    """The release a codeset names, refusing one of another coding system."""
    terminology = open_release(codeset.terminology_release)
    if terminology.system != codeset.coding_system:
        raise CodesetFormatError(
            f"release {codeset.terminology_release} is {terminology.system}, but the codeset's "
            f"coding_system is {codeset.coding_system}",
            field="terminology_release",
        )
    return terminology


def expand_rules(codeset: Codeset, terminology: Terminology | None = None) -> Expansion:
    """Apply the rules in order: an include adds its codes, an exclude removes them.

    The result is sorted by code and records which rule brought each code in, so that every code
    traces back to a rule. Deterministic: the same rules and release give the same rows.
    """
    terminology = terminology or open_codeset_release(codeset)
    brought_in: dict[str, str] = {}
    effects = []
    for rule in codeset.rules:
        matched = rule_matches(rule, terminology)
        if rule.action == "include":
            new = matched - brought_in.keys()
            brought_in.update(dict.fromkeys(sorted(new), rule.id))
            effects.append(RuleEffect(rule, matched, frozenset(new), frozenset()))
        else:
            gone = matched & brought_in.keys()
            for code in gone:
                del brought_in[code]
            effects.append(RuleEffect(rule, matched, frozenset(), frozenset(gone)))
    rows = []
    for code, rule in sorted(brought_in.items(), key=lambda item: code_sort_key(item[0])):
        concept = terminology.concept(code)
        rows.append(CodeRow(code=code, term=concept.term, rule=rule, active=concept.active))
    return Expansion(rows, effects, terminology.release.id)


def code_sort_key(code: str) -> tuple[int, str]:
    """Numeric codes in numeric order (SNOMED CT, dm+d), others (ICD-10) in text order."""
    return (int(code), "") if code.isdigit() else (0, code)
