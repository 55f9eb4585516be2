"""Expand a codeset's ordered rules into codes against the terminology release it names."""

from __future__ import annotations

from dataclasses import dataclass

from codesetlib.codeset import CodeRow, Codeset, Rule
from codesetlib.errors import UnknownCode
from codesetlib.terminology import Terminology, open_release


@dataclass(frozen=True)
class RuleEffect:
    """What one rule did during expansion: the codes it matched, added and removed."""

    rule: Rule
    matched: int
    added: int
    removed: int


@dataclass(frozen=True)
class Expansion:
    """The codes a codeset's rules give in a release, and the effect of each rule."""

    codes: list[CodeRow]
    effects: list[RuleEffect]
    release: str


def rule_matches(rule: Rule, terminology: Terminology) -> set[str]:
    """The codes a rule names: its concept and, when asked, every descendant."""
    try:
        terminology.concept(rule.concept)
    except UnknownCode:
        raise UnknownCode(
            f"concept {rule.concept} ({rule.term}) is not in {terminology.release.id}",
            field=f"rules[{rule.id}].concept",
        ) from None
    matched = {rule.concept}
    if rule.descendants:
        matched |= terminology.descendants_of(rule.concept)
    return matched


def expand_rules(codeset: Codeset, terminology: Terminology | None = None) -> Expansion:
    """Apply the rules in order: an include adds its codes, an exclude removes them.

    The result is sorted by code and records which rule brought each code in, so that every code
    traces back to a rule.
    """
    terminology = terminology or open_release(codeset.terminology_release)
    brought_in: dict[str, str] = {}
    effects = []
    for rule in codeset.rules:
        matched = rule_matches(rule, terminology)
        if rule.action == "include":
            new = matched - brought_in.keys()
            brought_in.update(dict.fromkeys(sorted(new), rule.id))
            effects.append(RuleEffect(rule, len(matched), len(new), 0))
        else:
            gone = matched & brought_in.keys()
            for code in gone:
                del brought_in[code]
            effects.append(RuleEffect(rule, len(matched), 0, len(gone)))
    rows = [
        CodeRow(code=code, term=terminology.concept(code).term, rule=rule)
        for code, rule in sorted(brought_in.items(), key=lambda item: int(item[0]))
    ]
    return Expansion(rows, effects, terminology.release.id)
