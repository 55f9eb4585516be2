"""Fit hierarchy rules to a flat list of codes, so that a list exchanged without its definition comes
back as a few reviewable rules rather than one rule per code.

A flat list (an OpenCodelists or ehrQL CSV, an ATLAS set without descendants, a FHIR ValueSet's
concepts) says which codes, not why. `fit_codes` proposes the fewest rules it can find that give
exactly those codes in a release: include X with its descendants where X's descendants are in the
list, exclude Y with its descendants for a hole none of whose codes are in the list (a single code
for a hole that has listed codes below it), and single codes for what is left. The choice is a greedy
set cover over the hierarchy: each step takes the concept whose include saves the most rules once the
exclusions it needs are counted. The rules are then expanded and compared with the list, so a fit is
exact by construction and checked, never assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from codesetlib.codesets.expand import code_sort_key, rule_matches
from codesetlib.codesets.model import CodesetRule
from codesetlib.terminology import Terminology


@dataclass(frozen=True)
class Fit:
    """The rules proposed for a list of codes, and what the list held that rules cannot give."""

    rules: list[CodesetRule]
    release: str
    codes: frozenset[str]
    expanded: frozenset[str]
    not_in_release: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Whether the rules, expanded in the release, give exactly the codes of the list it holds."""
        return self.expanded == self.codes

    def counts(self) -> dict[str, int]:
        """How many rules of each kind the fit proposes."""
        return {
            "include with descendants": sum(
                r.action == "include" and r.concept is not None for r in self.rules
            ),
            "include single code": sum(
                r.action == "include" and r.code is not None for r in self.rules
            ),
            "exclude": sum(r.action == "exclude" for r in self.rules),
        }

    def summary(self) -> list[str]:
        """The fit in words, one line each, as `codeset import` prints it."""
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.counts().items() if n)
        lines = [
            f"fitted {len(self.codes)} code(s) in {self.release} with {len(self.rules)} rule(s)"
            f" ({kinds}); expanding them gives "
            + ("exactly the list" if self.exact else "a different list")
        ]
        if self.inactive:
            lines.append(
                f"{len(self.inactive)} code(s) inactive in {self.release}, kept as single codes: "
                + _shown(self.inactive)
            )
        if self.not_in_release:
            lines.append(
                f"{len(self.not_in_release)} code(s) not in {self.release}, left out: "
                + _shown(self.not_in_release)
            )
        return lines

    def as_dict(self) -> dict:
        return {
            "release": self.release,
            "codes": len(self.codes),
            "rules": [r.model_dump(mode="json", exclude_none=True) for r in self.rules],
            "exact": self.exact,
            "inactive": self.inactive,
            "not_in_release": self.not_in_release,
        }


def _shown(codes: list[str], limit: int = 5) -> str:
    return ", ".join(codes[:limit]) + (
        f" and {len(codes) - limit} more" if len(codes) > limit else ""
    )


class _Hierarchy:
    """The sub- and super-concept sets a fit asks about, each computed once."""

    def __init__(self, terminology: Terminology, wanted: frozenset[str]) -> None:
        self.terminology = terminology
        self.wanted = wanted
        self._below: dict[str, frozenset[str]] = {}

    def self_and_below(self, code: str) -> frozenset[str]:
        found = self._below.get(code)
        if found is None:
            found = self._below[code] = frozenset({code}) | self.terminology.descendants_of(code)
        return found

    def clean(self, code: str) -> bool:
        """Whether nothing at or below `code` is wanted, so it can be excluded with descendants."""
        return not (self.self_and_below(code) & self.wanted)

    def exclusions(self, holes: frozenset[str]) -> tuple[list[str], list[str]]:
        """The fewest exclusions that remove `holes` (codes not wanted) and nothing wanted: the
        top-most holes with nothing wanted below them, excluded with descendants, and each hole that
        has wanted codes below it, excluded alone."""
        with_descendants, alone = [], []
        for code in holes:
            if not self.clean(code):
                alone.append(code)
            elif not any(p in holes and self.clean(p) for p in self.terminology.parents(code)):
                with_descendants.append(code)
        return sorted(with_descendants, key=code_sort_key), sorted(alone, key=code_sort_key)


def _rule_count(holes: frozenset[str], hierarchy: _Hierarchy) -> int:
    with_descendants, alone = hierarchy.exclusions(holes)
    return len(with_descendants) + len(alone)


def _choose_includes(targets: frozenset[str], hierarchy: _Hierarchy) -> list[str]:
    """Greedy set cover: concepts to include with descendants, the best saving first."""
    terminology = hierarchy.terminology
    active = {c for c in targets if terminology.concept(c).active}
    # Candidates are the listed concepts and the parents of listed ones (a parent can be included
    # and then excluded alone when all its children's subtrees are listed but it is not).
    candidates = set(active)
    for code in active:
        candidates |= terminology.parents(code)
    chosen: list[str] = []
    covered: frozenset[str] = frozenset()
    holes: frozenset[str] = frozenset()
    exclusion_rules = 0
    while True:
        best: tuple[tuple[int, int, int, str], str, frozenset[str], int] | None = None
        for code in candidates:
            below = hierarchy.self_and_below(code)
            new = len((below & targets) - covered)
            if new == 0:
                continue
            after = holes | (below - targets)
            extra = _rule_count(after, hierarchy) - exclusion_rules if after != holes else 0
            saving = new - 1 - extra
            # A concept with nothing unlisted below it is worth a rule even when it saves none
            # (a leaf): the rule then covers what a later release adds below it.
            if saving < 0 or (saving == 0 and extra > 0):
                continue
            # Ties go to the fewer exclusions, then the larger concept, then the code, so that the
            # same list always gives the same rules.
            key = (saving, -extra, len(below), code)
            if best is None or key > best[0]:
                best = (key, code, after, extra)
        if best is None:
            break
        _, code, holes, extra = best
        exclusion_rules += extra
        chosen.append(code)
        covered |= hierarchy.self_and_below(code) & targets
        candidates.discard(code)
    return _without_redundant(chosen, targets, hierarchy)


def _without_redundant(
    chosen: list[str], targets: frozenset[str], hierarchy: _Hierarchy
) -> list[str]:
    """Drop an include whose listed codes the other includes cover, unless that takes more
    exclusions than it saves (a concept chosen early can be subsumed by one chosen later)."""

    def rule_count(includes: list[str]) -> int:
        below = frozenset().union(*(hierarchy.self_and_below(c) for c in includes))
        return len(includes) + _rule_count(below - targets, hierarchy)

    kept = list(chosen)
    for code in sorted(chosen, key=lambda c: (len(hierarchy.self_and_below(c)), c)):
        others = [c for c in kept if c != code]
        by_others = frozenset().union(*(hierarchy.self_and_below(c) for c in others))
        if hierarchy.self_and_below(code) & targets <= by_others and rule_count(
            others
        ) <= rule_count(kept):
            kept = others
    return kept


def fit_codes(codes: Iterable[str], terminology: Terminology) -> Fit:
    """Propose the fewest hierarchy rules that give exactly `codes` in `terminology`.

    Codes are taken in the form the release stores them; a code the release does not hold cannot be
    given by any rule and is reported in `not_in_release`; an inactive code has no place in the
    hierarchy and is kept as a single code, reported in `inactive`."""
    listed: dict[str, None] = {}
    not_in_release: list[str] = []
    for raw in codes:
        code = terminology.normalise(raw.strip())
        if terminology.lookup(code) is None:
            if code not in not_in_release:
                not_in_release.append(code)
            continue
        listed.setdefault(code)
    targets = frozenset(listed)
    inactive = sorted((c for c in targets if not terminology.concept(c).active), key=code_sort_key)
    hierarchy = _Hierarchy(terminology, targets)
    includes = sorted(_choose_includes(targets, hierarchy), key=code_sort_key)
    covered = frozenset().union(*(hierarchy.self_and_below(c) for c in includes))
    with_descendants, alone = hierarchy.exclusions(covered - targets)
    singles = sorted(targets - covered, key=code_sort_key)
    rules: list[CodesetRule] = []

    def add(action: str, code: str, descendants: bool, note: str) -> None:
        concept = terminology.concept(code)
        target = {"concept": code} if descendants else {"code": code}
        rules.append(
            CodesetRule.model_validate(
                {
                    "id": f"R{len(rules) + 1}",
                    "action": action,
                    **target,
                    "term": concept.term,
                    "note": note,
                }
            )
        )

    for code in includes:
        n = len(hierarchy.self_and_below(code) & targets)
        add("include", code, True, f"Fitted: gives {n} listed code(s) with its descendants.")
    for code in singles:
        why = (
            "inactive in the release" if code in inactive else "its descendants are not all listed"
        )
        add("include", code, False, f"Fitted: a listed code alone ({why}).")
    for code in with_descendants:
        add("exclude", code, True, "Fitted: not listed, nor is anything below it.")
    for code in alone:
        add("exclude", code, False, "Fitted: not listed, though codes below it are.")
    return Fit(
        rules=rules,
        release=terminology.release.id,
        codes=targets,
        expanded=expand_fitted(rules, terminology),
        not_in_release=not_in_release,
        inactive=inactive,
    )


def expand_fitted(rules: list[CodesetRule], terminology: Terminology) -> frozenset[str]:
    """The codes ordered rules give in `terminology`, as `expand_rules` applies them."""
    found: set[str] = set()
    for rule in rules:
        matched = rule_matches(rule, terminology)
        if rule.action == "include":
            found |= matched
        else:
            found -= matched
    return frozenset(found)
