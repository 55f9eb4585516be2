"""Evaluate an expression constraint against a terminology release: the codes it selects.

As the specification says, an expression is evaluated against the active components of the release
and the active members of its reference sets, so a concept the expression names, or a refset member,
that is inactive in the release is left out of the result, and counted in
`EclEvaluator.inactive_left_out` so that what is left out can be said. Inside the expression it still
counts, so that `<< X MINUS Y` takes Y away whatever its status. The hierarchy is the release's active
is-a relationships: in SNOMED CT an inactive concept has none, so nothing reaches it (the kit's dm+d
keeps an invalid product in its hierarchy, and there it is reached, as a codeset's concept rule reaches
it). A concept the release does not hold is an error naming where the expression names it.

Every step is a set operation on what the terminology answers (`descendants_of`, `ancestors_of`,
`children`, `parents`, `refset_members`, `with_attribute`, `attribute_values`): `<< X MINUS << Y` is
two walks of the hierarchy and one set difference, with no loop over the release. Only the wildcard
on its own (`*`, `* MINUS X`, `< *`) visits every concept, since it asks for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from codesetlib.codesets.ecl.syntax import (
    Attribute,
    AttributeGroup,
    Compound,
    ConceptReference,
    EclError,
    Expression,
    Hierarchy,
    MemberOf,
    Refined,
    Refinement,
    RefinementCompound,
    Wildcard,
    format_ecl,
    parse_ecl,
)
from codesetlib.core.errors import CodesetError
from codesetlib.terminology import Terminology


class _Every:
    """Every active concept of the release, kept unmaterialised until something needs the list."""


EVERY = _Every()
Selection = frozenset[str] | _Every


class EclEvaluator:
    """Evaluates expressions against one release; `field` names where an expression came from (a
    rule's `ecl`) in errors. `inactive_left_out` gathers the inactive concepts met on the way."""

    def __init__(self, terminology: Terminology, *, field: str | None = None) -> None:
        self.terminology = terminology
        self.field = field
        self.inactive_left_out: set[str] = set()
        self._inactive_met: set[str] = set()

    def evaluate(self, expression: str | Expression) -> frozenset[str]:
        """The codes `expression` selects, less the inactive concepts it names or whose refsets
        hold them (those are added to `inactive_left_out`)."""
        try:
            tree = parse_ecl(expression) if isinstance(expression, str) else expression
        except EclError as error:
            raise EclError(error.message, field=self.field) from None
        selected = self._materialise(self._select(tree))
        left_out = selected & self._inactive_met
        self.inactive_left_out |= left_out
        return selected - left_out if left_out else selected

    # What each kind of expression selects.

    def _select(self, expression: Expression) -> Selection:
        if isinstance(expression, ConceptReference):
            return self._self(expression)
        if isinstance(expression, Wildcard):
            return EVERY
        if isinstance(expression, MemberOf):
            return self._members(expression.refset)
        if isinstance(expression, Hierarchy):
            return self._hierarchy(expression)
        if isinstance(expression, Compound):
            return self._compound(expression)
        focus = self._select(expression.focus)
        refined = self._refinement(expression.refinement, focus)
        return refined if isinstance(focus, _Every) else focus & refined

    def _self(self, reference: ConceptReference) -> frozenset[str]:
        concept = self._known(reference)
        if not concept.active:
            self._inactive_met.add(concept.code)
        return frozenset({concept.code})

    def _known(self, reference: ConceptReference):
        concept = self.terminology.lookup(reference.code)
        if concept is None:
            named = f"{reference.code} |{reference.term}|" if reference.term else reference.code
            error = self.terminology.missing(reference.code, named, field=self.field)
            raise type(error)(f"{_where(reference)}{error.message}", field=self.field)
        return concept

    def _compound(self, compound: Compound) -> Selection:
        parts = [self._select(e) for e in compound.operands]
        if compound.operator == "MINUS":
            left, right = parts
            if isinstance(right, _Every):
                return frozenset()
            return self._materialise(left) - right
        concrete = [p for p in parts if not isinstance(p, _Every)]
        if compound.operator == "OR":
            return EVERY if len(concrete) < len(parts) else frozenset().union(*concrete)
        if not concrete:
            return EVERY
        return frozenset.intersection(*concrete)

    def _hierarchy(self, expression: Hierarchy) -> Selection:
        operand = self._select(expression.operand)
        operator = expression.operator
        if isinstance(operand, _Every):
            # The closure of everything is everything; strictly below (above) it is every concept
            # with a parent (a child).
            if operator in ("<<", ">>", "<<!", ">>!"):
                return EVERY
            step = self.terminology.parents if operator[0] == "<" else self.terminology.children
            return frozenset(c for c in self._materialise(EVERY) if step(c))
        walks: dict[str, Callable[[str], frozenset[str]]] = {
            "<": self.terminology.descendants_of,
            ">": self.terminology.ancestors_of,
            "<!": self.terminology.children,
            ">!": self.terminology.parents,
        }
        walk = walks[_base(operator)]
        with_self = operator in ("<<", ">>", "<<!", ">>!")
        if len(operand) == 1:
            # The usual case, one concept: its walk as the terminology gives it, without a copy.
            (code,) = operand
            return walk(code) | operand if with_self else walk(code)
        found: set[str] = set()
        transitive = "!" not in operator
        # A concept already found below (above) another of the operand needs no walk of its own.
        for code in sorted(operand):
            if transitive and code in found:
                continue
            found |= walk(code)
        if with_self:
            found |= operand
        return frozenset(found)

    def _members(self, refset: Expression) -> frozenset[str]:
        if isinstance(refset, ConceptReference):
            concept = self._known(refset)
            try:
                members = self.terminology.refset_members(concept.code)
            except CodesetError as error:
                raise type(error)(f"{_where(refset)}{error.message}", field=self.field) from None
            return self._note_inactive(members)
        chosen = self._select(refset)
        refsets = set(self.terminology.refsets())
        if not isinstance(chosen, _Every):
            refsets &= chosen
        found = frozenset().union(*(self.terminology.refset_members(r) for r in sorted(refsets)))
        return self._note_inactive(found)

    # Refinements: what concepts meet a refinement, among `focus` (which `!=` and R need).

    def _refinement(self, refinement: Refinement, focus: Selection) -> frozenset[str]:
        if isinstance(refinement, Attribute):
            return self._attribute(refinement, focus)
        if isinstance(refinement, AttributeGroup):
            if _joins_with_and(refinement.refinement):
                raise EclError(
                    f"{{ {format_ecl_refinement(refinement.refinement)} }}: attributes that must "
                    "share one relationship group are not evaluated (the terminology gives no "
                    "relationship groups); without the braces each attribute may be in any group",
                    field=self.field,
                )
            # One attribute, or attributes joined by OR, holds in one group exactly when it holds.
            return self._refinement(refinement.refinement, focus)
        parts = [self._refinement(r, focus) for r in refinement.operands]
        if refinement.operator == "OR":
            return frozenset().union(*parts)
        return frozenset.intersection(*parts)

    def _attribute(self, attribute: Attribute, focus: Selection) -> frozenset[str]:
        types = self._ends(self._select(attribute.name))
        values = self._select(attribute.value)
        terminology = self.terminology
        if not attribute.reverse:
            if attribute.comparison == "=":
                return terminology.with_attribute(types, self._ends(values))
            # At least one attribute of the type whose value is not among the values.
            held = terminology.attribute_values(self._ends(focus), types)
            return terminology.with_attribute(types, held - self._ends_set(values))
        if attribute.comparison == "=":
            return terminology.attribute_values(self._ends(values), types)
        # The values of the attribute on concepts that are not among the values.
        sources = terminology.with_attribute(types, self._ends(focus))
        return terminology.attribute_values(sources - self._ends_set(values), types)

    # Sets.

    def _ends(self, selection: Selection) -> Iterable[str]:
        """Codes to match the ends of relationships against: for every concept, every code, since an
        active relationship joins active concepts only (no look-up of each is needed)."""
        return self.terminology.codes() if isinstance(selection, _Every) else selection

    def _ends_set(self, selection: Selection) -> frozenset[str]:
        ends = self._ends(selection)
        return ends if isinstance(ends, frozenset) else frozenset(ends)

    def _materialise(self, selection: Selection) -> frozenset[str]:
        if not isinstance(selection, _Every):
            return selection
        return self._active(self.terminology.codes())

    def _active(self, codes: Iterable[str]) -> frozenset[str]:
        """The codes of active concepts among `codes` (a look-up each, so only for what must be)."""
        found = set()
        for code in codes:
            concept = self.terminology.lookup(code)
            if concept is not None and concept.active:
                found.add(code)
        return frozenset(found)

    def _note_inactive(self, codes: frozenset[str]) -> frozenset[str]:
        """`codes` as they are, with the inactive among them noted, to be left out of the result."""
        self._inactive_met.update(set(codes) - self._active(codes))
        return codes


def _base(operator: str) -> str:
    """The walk an operator takes: `<<` and `<` walk the descendants, `<<!` and `<!` the children."""
    return operator[0] + ("!" if operator.endswith("!") else "")


def _where(reference: ConceptReference) -> str:
    if reference.line is None:
        return ""
    return f"line {reference.line}, column {reference.column}: "


def _joins_with_and(refinement: Refinement) -> bool:
    if isinstance(refinement, RefinementCompound):
        return refinement.operator == "AND" or any(_joins_with_and(r) for r in refinement.operands)
    return False


def format_ecl_refinement(refinement: Refinement) -> str:
    """A refinement as ECL, for messages."""
    text = format_ecl(Refined(Wildcard(), refinement))
    return text.removeprefix("* : ")


def evaluate_ecl(
    expression: str | Expression, terminology: Terminology, *, field: str | None = None
) -> frozenset[str]:
    """The active codes of `terminology` that `expression` selects (see the module's description)."""
    return EclEvaluator(terminology, field=field).evaluate(expression)
