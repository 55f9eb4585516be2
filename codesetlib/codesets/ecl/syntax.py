"""ECL text to a syntax tree and back: `parse_ecl` reads an expression constraint, `format_ecl` writes
one in the kit's canonical form (brief syntax, upper-case operators, a term where one is known).

The grammar is `ecl.lark`, written from the specification's ABNF. What it leaves out, or what breaks
the ABNF, is refused as an `EclError` naming the line and column and what was expected there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Literal

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from codesetlib.core.errors import CodesetError

GRAMMAR = Path(__file__).with_name("ecl.lark")

Operator = Literal["<", "<<", "<!", "<<!", ">", ">>", ">!", ">>!"]
Comparison = Literal["=", "!="]


class EclError(CodesetError):
    """An expression constraint the kit cannot read: a syntax error, or ECL it does not evaluate."""


@dataclass(frozen=True)
class ConceptReference:
    """A concept by its id, with the term written beside it (if any) and where it was written."""

    code: str
    term: str | None = None
    line: int | None = field(default=None, compare=False)
    column: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Wildcard:
    """`*`: any concept."""


@dataclass(frozen=True)
class MemberOf:
    """`^ refset`: the referenced components of the reference set(s) the operand gives."""

    refset: Expression


@dataclass(frozen=True)
class Hierarchy:
    """A constraint operator (`<<`, `>!`, ...) applied to the concepts its operand gives."""

    operator: Operator
    operand: Expression


@dataclass(frozen=True)
class Compound:
    """Operands joined by AND, OR or MINUS (MINUS joins exactly two)."""

    operator: Literal["AND", "OR", "MINUS"]
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Attribute:
    """`name = value` (or `!=`); `reverse` (R) asks for the values of the attribute instead."""

    name: Expression
    comparison: Comparison
    value: Expression
    reverse: bool = False


@dataclass(frozen=True)
class AttributeGroup:
    """`{ ... }`: attributes that must hold within one relationship group."""

    refinement: Refinement


@dataclass(frozen=True)
class RefinementCompound:
    """Refinements joined by AND (or `,`) or by OR."""

    operator: Literal["AND", "OR"]
    operands: tuple[Refinement, ...]


@dataclass(frozen=True)
class Refined:
    """`focus : refinement`: the focus concepts that meet the refinement."""

    focus: Expression
    refinement: Refinement


Expression = ConceptReference | Wildcard | MemberOf | Hierarchy | Compound | Refined
Refinement = Attribute | AttributeGroup | RefinementCompound

OPERATORS: dict[str, Operator] = {
    "DESCENDANT_OF": "<",
    "DESCENDANT_OR_SELF_OF": "<<",
    "CHILD_OF": "<!",
    "CHILD_OR_SELF_OF": "<<!",
    "ANCESTOR_OF": ">",
    "ANCESTOR_OR_SELF_OF": ">>",
    "PARENT_OF": ">!",
    "PARENT_OR_SELF_OF": ">>!",
}

# What each terminal is, in a reader's words, for "expected ..." in messages.
TERMINAL_WORDS = {
    "CONCEPT_ID": "a concept id",
    "TERM": "a |term|",
    "WILDCARD": "*",
    "MEMBER_OF": "^",
    **{name: symbol for name, symbol in OPERATORS.items()},
    "AND": "AND",
    "OR": "OR",
    "MINUS": "MINUS",
    "REVERSE_FLAG": "R",
    "COMPARISON": "= or !=",
    "COLON": ":",
    "LPAR": "(",
    "RPAR": ")",
    "LBRACE": "{",
    "RBRACE": "}",
    "$END": "the end of the expression",
}

# ECL the grammar leaves out, recognised by how it starts where the parse stopped.
UNSUPPORTED = (
    ("{{", "filters ({{ ... }}) are not supported"),
    ("!!", "top and bottom (!!> and !!<) are not supported"),
    ("[", "cardinality ([min..max]) and member field selection (^ [...]) are not supported"),
    ("#", "concrete values (#) are not supported"),
    ('"', "string values are not supported"),
    (".", "dotted attributes (.) are not supported"),
    ("true", "boolean values are not supported"),
    ("false", "boolean values are not supported"),
)
CONNECTIVES = {"AND", "OR", "MINUS"}


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_ecl(text: str) -> Expression:
    """The syntax tree of the expression constraint `text`; an `EclError` says where it is wrong."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        return _ToSyntax().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, EclError):
            raise error.orig_exc from None
        raise


def _syntax_error(text: str, error: UnexpectedInput) -> EclError:
    found = getattr(error, "token", None)
    found_type = getattr(found, "type", None)
    line, column = error.line, error.column
    if isinstance(error, UnexpectedEOF) or found_type == "$END" or line is None or line < 1:
        line, column = _end_position(text)
    where = f"line {line}, column {column}"
    position = _offset(text, error)
    rest = text[position:] if position is not None else ""
    order = list(TERMINAL_WORDS)
    names = _expected(error)
    expected = _words(
        sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))
    )
    if position is not None and text[:position].rstrip().endswith("{{"):
        rest = "{{"
    for start, problem in UNSUPPORTED:
        if rest[: len(start)].lower() == start:
            return EclError(f"{where}: {problem} (expected {expected})")
    if "COMPARISON" in names and rest[:1] in ("<", ">"):
        return EclError(f"{where}: numeric comparisons are not supported (expected {expected})")
    if found_type in CONNECTIVES:
        if found_type != "MINUS" and names & {"AND", "OR"}:
            reason = "AND and OR are not mixed without parentheses"
        else:
            reason = "MINUS takes one expression on each side, and is not mixed with AND or OR"
        return EclError(
            f"{where}: {found_type} cannot follow here: {reason}; put parentheses around the "
            f"expressions it joins (expected {expected})"
        )
    shown = _shown(rest) if rest else "the end of the expression"
    return EclError(f"{where}: expected {expected}, found {shown}")


def _expected(error: UnexpectedInput) -> set[str]:
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    return set(getattr(error, "expected", ()) or ())


def _words(names: list[str]) -> str:
    words = list(dict.fromkeys(TERMINAL_WORDS.get(name, name) for name in names))
    if not words:
        return "nothing more"
    return words[0] if len(words) == 1 else "one of " + ", ".join(words)


def _offset(text: str, error: UnexpectedInput) -> int | None:
    if isinstance(error, UnexpectedEOF):
        return len(text)
    token = getattr(error, "token", None)
    if token is not None and getattr(token, "type", None) == "$END":
        return len(text)
    position = getattr(token, "start_pos", None)
    if position is None:
        position = getattr(error, "pos_in_stream", None)
    return position


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _shown(rest: str) -> str:
    word = rest.split()[0] if rest.split() else rest
    return repr(word[:20])


def _position(token: lark.Token) -> str:
    return f"line {token.line}, column {token.column}"


class _ToSyntax(lark.Transformer):
    """The parse tree as the syntax tree's dataclasses."""

    def sub_expression_constraint(self, items: list) -> Expression:
        operator: Operator | None = None
        if items and isinstance(items[0], _OperatorMark):
            operator = items.pop(0).operator
        expression = items[-1]
        if len(items) == 2:
            expression = MemberOf(expression)
        return expression if operator is None else Hierarchy(operator, expression)

    def constraint_operator(self, items: list[lark.Token]) -> _OperatorMark:
        return _OperatorMark(OPERATORS[items[0].type])

    def member_of(self, items: list[lark.Token]) -> str:
        return "^"

    def concept_reference(self, items: list[lark.Token]) -> ConceptReference:
        code = items[0]
        term = None
        if len(items) > 1:
            term = " ".join(items[1][1:-1].split())
            if not term:
                raise EclError(f"{_position(items[1])}: a |term| between pipes is empty")
        return ConceptReference(str(code), term, code.line, code.column)

    def wildcard(self, items: list[lark.Token]) -> Wildcard:
        return Wildcard()

    def refined_expression_constraint(self, items: list) -> Refined:
        return Refined(items[0], items[1])

    def conjunction_expression_constraint(self, items: list) -> Compound:
        return Compound("AND", tuple(i for i in items if not isinstance(i, lark.Token)))

    def disjunction_expression_constraint(self, items: list) -> Compound:
        return Compound("OR", tuple(i for i in items if not isinstance(i, lark.Token)))

    def exclusion_expression_constraint(self, items: list) -> Compound:
        return Compound("MINUS", (items[0], items[2]))

    def conjunction_refinement(self, items: list) -> RefinementCompound:
        return RefinementCompound("AND", tuple(i for i in items if not isinstance(i, lark.Token)))

    def disjunction_refinement(self, items: list) -> RefinementCompound:
        return RefinementCompound("OR", tuple(i for i in items if not isinstance(i, lark.Token)))

    @lark.v_args(meta=True)
    def attribute_group(self, meta, items: list) -> AttributeGroup:
        if _holds_group(items[0]):
            raise EclError(
                f"line {meta.line}, column {meta.column}: an attribute group holds attributes, "
                "not another group"
            )
        return AttributeGroup(items[0])

    def attribute(self, items: list) -> Attribute:
        reverse = isinstance(items[0], lark.Token) and items[0].type == "REVERSE_FLAG"
        name, comparison, value = items[1:] if reverse else items
        return Attribute(name, "=" if str(comparison) == "=" else "!=", value, reverse)

    def attribute_name(self, items: list) -> Expression:
        operator = items.pop(0).operator if isinstance(items[0], _OperatorMark) else None
        name = Wildcard() if items[0].type == "WILDCARD" else self.concept_reference(items)
        return name if operator is None else Hierarchy(operator, name)


@dataclass(frozen=True)
class _OperatorMark:
    operator: Operator


def _holds_group(refinement: Refinement) -> bool:
    if isinstance(refinement, AttributeGroup):
        return True
    if isinstance(refinement, RefinementCompound):
        return any(_holds_group(r) for r in refinement.operands)
    return False


def format_ecl(expression: Expression) -> str:
    """`expression` in the kit's canonical brief syntax: `format_ecl(parse_ecl(format_ecl(e)))` is
    `format_ecl(e)`, so an expression written by the kit reads back to itself."""
    if isinstance(expression, ConceptReference):
        return f"{expression.code} |{expression.term}|" if expression.term else expression.code
    if isinstance(expression, Wildcard):
        return "*"
    if isinstance(expression, MemberOf):
        return f"^ {_focus(expression.refset, ConceptReference | Wildcard)}"
    if isinstance(expression, Hierarchy):
        return f"{expression.operator} {_focus(expression.operand, ConceptReference | Wildcard | MemberOf)}"
    if isinstance(expression, Compound):
        return f" {expression.operator} ".join(_operand(e) for e in expression.operands)
    return f"{_operand(expression.focus)} : {_format_refinement(expression.refinement)}"


def _focus(expression: Expression, bare: type | UnionType) -> str:
    """What an operator applies to: a concept (or `^` a concept, after a constraint operator) as it
    is, anything else in parentheses."""
    text = format_ecl(expression)
    return text if isinstance(expression, bare) else f"({text})"


def _operand(expression: Expression) -> str:
    """An expression where ECL wants a sub-expression: compound and refined ones in parentheses."""
    text = format_ecl(expression)
    return f"({text})" if isinstance(expression, Compound | Refined) else text


def _format_refinement(refinement: Refinement) -> str:
    if isinstance(refinement, Attribute):
        reverse = "R " if refinement.reverse else ""
        name = format_ecl(refinement.name)
        return f"{reverse}{name} {refinement.comparison} {_operand(refinement.value)}"
    if isinstance(refinement, AttributeGroup):
        return f"{{ {_format_refinement(refinement.refinement)} }}"
    joiner = ", " if refinement.operator == "AND" else " OR "
    return joiner.join(
        f"({_format_refinement(r)})" if isinstance(r, RefinementCompound) else _format_refinement(r)
        for r in refinement.operands
    )


def concept_references(expression: Expression | Refinement) -> list[ConceptReference]:
    """Every concept the expression names, in the order it names them (with repeats)."""
    if isinstance(expression, ConceptReference):
        return [expression]
    if isinstance(expression, Wildcard):
        return []
    if isinstance(expression, MemberOf):
        return concept_references(expression.refset)
    if isinstance(expression, Hierarchy):
        return concept_references(expression.operand)
    if isinstance(expression, Compound | RefinementCompound):
        return [r for e in expression.operands for r in concept_references(e)]
    if isinstance(expression, Refined):
        return [*concept_references(expression.focus), *concept_references(expression.refinement)]
    if isinstance(expression, AttributeGroup):
        return concept_references(expression.refinement)
    return [*concept_references(expression.name), *concept_references(expression.value)]
