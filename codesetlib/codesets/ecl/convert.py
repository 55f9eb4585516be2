"""A codeset as one ECL expression, and one ECL expression as a codeset's rules.

`codeset_ecl` writes a codeset's ordered rules as one expression constraint that selects the same
codes in any release: a run of includes is ORed, a run of excludes is MINUSed from what came before,
so `include A, include B, exclude C` is `A OR B MINUS C` written with the parentheses ECL asks for:
`(<< A |a| OR << B |b|) MINUS << C |c|`. Every concept carries its term. A search rule has no ECL the
kit evaluates, so it is written as the concepts it matches in a given release (and so stands for that
release only). Evaluated, the expression gives the codeset's active codes: a `code` rule that names an
inactive code keeps it in the codeset's expansion, but ECL selects active concepts only.

`rules_from_ecl` reads one expression back as rules: `<< X` is X with its descendants, `X` is X alone,
`^ X` the members of refset X, what an OR joins is included rule by rule and what MINUS takes away is
excluded rule by rule; anything else becomes one `ecl` rule. Written back by `codeset_ecl`, the rules
give the same expression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from codesetlib.codesets.ecl.syntax import (
    Compound,
    ConceptReference,
    EclError,
    Expression,
    Hierarchy,
    MemberOf,
    format_ecl,
    parse_ecl,
)
from codesetlib.codesets.expand import Expansion, code_sort_key, rule_matches
from codesetlib.codesets.interchange import new_codeset
from codesetlib.codesets.model import Codeset, CodesetRule
from codesetlib.core.errors import CodesetError, CodesetFormatError
from codesetlib.core.textfiles import read_text
from codesetlib.terminology import Terminology, open_release

# Coding systems whose codes are SNOMED CT identifiers (dm+d's are, in the UK drug extension).
ECL_SYSTEMS = ("snomedct", "dmd")
Action = Literal["include", "exclude"]


def codeset_ecl(codeset: Codeset, terminology: Terminology | None = None) -> str:
    """The codeset's rules as one ECL expression (see the module's description). A search rule needs
    `terminology`, the release whose matches it is written as."""
    if codeset.coding_system not in ECL_SYSTEMS:
        raise CodesetFormatError(
            f"ECL selects SNOMED CT concepts; a {codeset.coding_system} codeset cannot be written "
            "as ECL",
            field="coding_system",
        )
    runs: list[tuple[Action, list[Expression]]] = []
    for rule in codeset.rules:
        expression = _rule_expression(rule, terminology)
        if expression is None:
            continue
        if runs and runs[-1][0] == rule.action:
            runs[-1][1].append(expression)
        else:
            runs.append((rule.action, [expression]))
    # An exclude before any include takes nothing away.
    while runs and runs[0][0] == "exclude":
        runs.pop(0)
    if not runs:
        raise CodesetFormatError(
            f"codeset {codeset.id} includes nothing, and ECL has no expression for no concepts",
            field="rules",
        )
    whole = _any_of(runs[0][1])
    for action, expressions in runs[1:]:
        if action == "include":
            whole = _any_of([whole, *expressions])
        else:
            whole = Compound("MINUS", (whole, _any_of(expressions)))
    return format_ecl(whole)


def _rule_expression(rule: CodesetRule, terminology: Terminology | None) -> Expression | None:
    """What one rule selects, as ECL; None for a search that matches nothing."""
    if rule.ecl is not None:
        return parse_ecl(rule.ecl)
    if rule.refset is not None:
        return MemberOf(ConceptReference(rule.refset, rule.term))
    if rule.search is not None:
        if terminology is None:
            raise CodesetFormatError(
                f"rule {rule.id} selects by search, which ECL cannot say: give the release whose "
                "matches it is written as",
                field=f"rules[{rule.id}]",
            )
        found = sorted(rule_matches(rule, terminology), key=code_sort_key)
        if not found:
            return None
        return _any_of([ConceptReference(c, terminology.concept(c).term) for c in found])
    code = rule.concept or rule.code or ""  # a rule that does not search names one of them
    reference = ConceptReference(code, rule.term)
    return Hierarchy("<<", reference) if rule.concept and rule.descendants else reference


def _any_of(expressions: list[Expression]) -> Expression:
    """The expressions ORed, one level deep (OR is associative, so nested ORs are flattened)."""
    flat: list[Expression] = []
    for expression in expressions:
        if isinstance(expression, Compound) and expression.operator == "OR":
            flat.extend(expression.operands)
        else:
            flat.append(expression)
    return flat[0] if len(flat) == 1 else Compound("OR", tuple(flat))


def rules_from_ecl(expression: str, terminology: Terminology | None = None) -> list[CodesetRule]:
    """Rules that select what `expression` selects (see the module's description).

    Each concept a rule names gives its term for review: the release's preferred term when
    `terminology` is given (which must then hold every such concept), else the |term| the expression
    writes beside it."""
    steps = _steps(parse_ecl(expression))
    return [
        _rule(f"R{n}", action, part, terminology) for n, (action, part) in enumerate(steps, start=1)
    ]


def _steps(expression: Expression) -> list[tuple[Action, Expression]]:
    """The expression as ordered include and exclude steps with the same result."""
    if isinstance(expression, Compound) and expression.operator == "MINUS":
        left, right = expression.operands
        return [*_steps(left), *(("exclude", part) for part in _disjuncts(right))]
    if isinstance(expression, Compound) and expression.operator == "OR":
        # The first operand may itself be steps: (A MINUS B) OR C is include A, exclude B, include C.
        # A later one may not, since what it excludes must not reach the operands before it.
        first, *rest = expression.operands
        later = [part for operand in rest for part in _disjuncts(operand)]
        return [*_steps(first), *(("include", part) for part in later)]
    return [("include", expression)]


def _disjuncts(expression: Expression) -> list[Expression]:
    if isinstance(expression, Compound) and expression.operator == "OR":
        return [part for operand in expression.operands for part in _disjuncts(operand)]
    return [expression]


def _rule(
    rule_id: str, action: Action, part: Expression, terminology: Terminology | None
) -> CodesetRule:
    if (
        isinstance(part, Hierarchy)
        and part.operator == "<<"
        and isinstance(part.operand, ConceptReference)
    ):
        code, term = _named(part.operand, terminology)
        return CodesetRule(id=rule_id, action=action, concept=code, term=term)
    if isinstance(part, ConceptReference):
        code, term = _named(part, terminology)
        return CodesetRule(id=rule_id, action=action, code=code, term=term)
    if isinstance(part, MemberOf) and isinstance(part.refset, ConceptReference):
        code, term = _named(part.refset, terminology)
        return CodesetRule(id=rule_id, action=action, refset=code, term=term)
    return CodesetRule(id=rule_id, action=action, ecl=format_ecl(part))


def _named(reference: ConceptReference, terminology: Terminology | None) -> tuple[str, str]:
    where = f"line {reference.line}, column {reference.column}: " if reference.line else ""
    if terminology is not None:
        concept = terminology.lookup(reference.code)
        if concept is None:
            missing = terminology.missing(reference.code)
            raise type(missing)(f"{where}{missing.message}")
        return concept.code, concept.term
    if not reference.term:
        raise EclError(
            f"{where}{reference.code} has no |term|: give each concept its term, or a release to "
            "take the terms from"
        )
    return reference.code, reference.term


def codeset_from_ecl(
    expression: str,
    terminology: Terminology,
    *,
    codeset_id: str,
    title: str,
    author: str,
    purpose: str | None = None,
) -> Codeset:
    """A new draft codeset on `terminology` whose rules are `expression`'s (`rules_from_ecl`), with
    a decision asking for their review."""
    return new_codeset(
        codeset_id,
        title=title,
        coding_system=terminology.system,
        release=terminology.release.id,
        rules=rules_from_ecl(expression, terminology),
        author=author,
        purpose=purpose or "Imported from an ECL expression; state the purpose before review.",
        source="an ECL expression",
    )


def export_ecl(codeset: Codeset, expansion: Expansion) -> str:
    """The codeset as an ECL file's text (`codeset export --format ecl`): one expression and a line
    end. A search rule is written as what it matches in the expansion's release."""
    searches = any(rule.search is not None for rule in codeset.rules)
    terminology = open_release(expansion.release) if searches else None
    return codeset_ecl(codeset, terminology) + "\n"


def import_ecl(path: Path, terminology: Terminology) -> list[CodesetRule]:
    """The rules of the ECL expression in file `path` (`codeset import --format ecl`); an error
    names the file and where in it the expression is wrong."""
    text = read_text(path, CodesetFormatError)
    try:
        return rules_from_ecl(text, terminology)
    except CodesetError as error:
        raise error.located(path) from None
