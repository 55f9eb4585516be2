"""Reading ECL: what the grammar accepts, the canonical form it is written back in, and what it
refuses, with the line and column and what was expected there."""

from __future__ import annotations

import pytest

from codesetlib.codesets.ecl import EclError, format_ecl, parse_ecl
from codesetlib.codesets.ecl.syntax import (
    Attribute,
    Compound,
    ConceptReference,
    Hierarchy,
    MemberOf,
    Refined,
    Wildcard,
    concept_references,
)
from codesetlib.core.errors import CodesetError

# Written as users write them (spacing, case, long syntax), and as the kit writes them back.
CANONICAL = {
    "73211009": "73211009",
    "73211009 |Diabetes mellitus|": "73211009 |Diabetes mellitus|",
    "<<73211009|  Diabetes   mellitus |": "<< 73211009 |Diabetes mellitus|",
    "<  73211009": "< 73211009",
    "<! 73211009": "<! 73211009",
    "<<! 73211009": "<<! 73211009",
    ">73211009": "> 73211009",
    ">> 73211009": ">> 73211009",
    ">! 73211009": ">! 73211009",
    ">>! 73211009": ">>! 73211009",
    "*": "*",
    "^ 900000000000526001 |REPLACED BY association reference set|": (
        "^ 900000000000526001 |REPLACED BY association reference set|"
    ),
    "<< 73211009 minus << 44054006": "<< 73211009 MINUS << 44054006",
    "(<< 73211009) MINUS (<< 44054006)": "<< 73211009 MINUS << 44054006",
    "<< 73211009 or << 372130007 OR 4855003": "<< 73211009 OR << 372130007 OR 4855003",
    "<< 73211009 and << 4855003, << 44054006": "<< 73211009 AND << 4855003 AND << 44054006",
    "(<< 73211009 OR << 4855003) MINUS (<< 44054006 OR 8801005)": (
        "(<< 73211009 OR << 4855003) MINUS (<< 44054006 OR 8801005)"
    ),
    "<< (73211009 OR 372130007)": "<< (73211009 OR 372130007)",
    "^ (<< 900000000000526001)": "^ (<< 900000000000526001)",
    "<< ^ 900000000000526001": "<< ^ 900000000000526001",
    "<< (<< 73211009)": "<< (<< 73211009)",
    "^ (^ 900000000000526001)": "^ (^ 900000000000526001)",
    "<< 404684003 : 363698007 = << 39057004": "<< 404684003 : 363698007 = << 39057004",
    "<< 404684003: <<363698007 != (<< 39057004 OR 123037004)": (
        "<< 404684003 : << 363698007 != (<< 39057004 OR 123037004)"
    ),
    "<< 404684003 : 363698007 = 39057004 AND 116676008 = *": (
        "<< 404684003 : 363698007 = 39057004, 116676008 = *"
    ),
    "<< 404684003 : {363698007 = 39057004, 116676008 = 415582006}": (
        "<< 404684003 : { 363698007 = 39057004, 116676008 = 415582006 }"
    ),
    "<< 404684003 : (363698007 = 39057004 OR 116676008 = 415582006), * = 123037004": (
        "<< 404684003 : (363698007 = 39057004 OR 116676008 = 415582006), * = 123037004"
    ),
    "* : R 363698007 = 39057004": "* : R 363698007 = 39057004",
    "(<< 404684003 : 363698007 = 39057004) MINUS << 64572001": (
        "(<< 404684003 : 363698007 = 39057004) MINUS << 64572001"
    ),
    "/* diabetes */ << 73211009 /* and below */": "<< 73211009",
    "<< 73211009\n  MINUS\n  << 44054006": "<< 73211009 MINUS << 44054006",
    # The long syntax's words are read as the brief syntax's symbols.
    "descendantOrSelfOf 73211009 MINUS childOf 44054006": "<< 73211009 MINUS <! 44054006",
    "descendantOf 73211009 OR ancestorOrSelfOf 44054006 OR ancestorOf 4855003": (
        "< 73211009 OR >> 44054006 OR > 4855003"
    ),
    "childOrSelfOf 73211009 OR parentOf 44054006 OR parentOrSelfOf 4855003": (
        "<<! 73211009 OR >! 44054006 OR >>! 4855003"
    ),
    "memberOf 900000000000526001": "^ 900000000000526001",
    "ANY": "*",
    "<< 404684003 : reverseOf 363698007 NOT = 39057004": "<< 404684003 : R 363698007 != 39057004",
    "<< 404684003 : 363698007 <> 39057004": "<< 404684003 : 363698007 != 39057004",
}


@pytest.mark.parametrize("text", CANONICAL)
def test_written_back_in_the_canonical_form_which_reads_back_to_itself(text: str) -> None:
    written = format_ecl(parse_ecl(text))
    assert written == CANONICAL[text]
    assert format_ecl(parse_ecl(written)) == written
    assert parse_ecl(written) == parse_ecl(text)


def test_the_tree_says_what_the_expression_means() -> None:
    tree = parse_ecl("(<< 73211009 |Diabetes| OR 4855003) MINUS ^ 900000000000526001")
    assert tree == Compound(
        "MINUS",
        (
            Compound(
                "OR",
                (
                    Hierarchy("<<", ConceptReference("73211009", "Diabetes")),
                    ConceptReference("4855003"),
                ),
            ),
            MemberOf(ConceptReference("900000000000526001")),
        ),
    )
    refined = parse_ecl("* : R 363698007 != 39057004")
    assert refined == Refined(
        Wildcard(),
        Attribute(ConceptReference("363698007"), "!=", ConceptReference("39057004"), reverse=True),
    )


def test_every_concept_is_named_with_where_it_is_written() -> None:
    tree = parse_ecl("<< 404684003 :\n  363698007 = << 39057004 |Lung|")
    found = [(r.code, r.term, r.line, r.column) for r in concept_references(tree)]
    assert found == [
        ("404684003", None, 1, 4),
        ("363698007", None, 2, 3),
        ("39057004", "Lung", 2, 18),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<< 73211009 OR << 4855003 AND << 44054006",
            "line 1, column 27: AND cannot follow here: AND and OR are not mixed without "
            "parentheses",
        ),
        (
            "<< 73211009 AND << 4855003\nOR << 44054006",
            "line 2, column 1: OR cannot follow here: AND and OR are not mixed without parentheses",
        ),
        (
            "<< 73211009 MINUS << 4855003 MINUS << 44054006",
            "line 1, column 30: MINUS cannot follow here: MINUS takes one expression on each side",
        ),
        (
            "<< 73211009 MINUS << 4855003 OR << 44054006",
            "line 1, column 30: OR cannot follow here: MINUS takes one expression on each side",
        ),
        (
            "<< 404684003 : 363698007 = 39057004 OR 116676008 = 415582006, 246075003 = 1",
            "line 1, column 61: AND cannot follow here: AND and OR are not mixed",
        ),
        (
            "<< 404684003 : [1..3] 363698007 = 39057004",
            "line 1, column 16: cardinality ([min..max]) and member field selection (^ [...]) "
            "are not supported",
        ),
        (
            "<< 404684003 : 1142135004 = #250",
            "line 1, column 29: concrete values (#) are not supported",
        ),
        ("<< 404684003 : 1142135004 >= #250", "line 1, column 27: numeric comparisons"),
        ('<< 404684003 : 363698007 = "lung"', "line 1, column 28: string values"),
        ("<< 404684003 : 363698007 = true", "line 1, column 28: boolean values"),
        ('<< 404684003 {{ term = "heart" }}', "line 1, column 14: filters ({{ ... }})"),
        ("<< 404684003 . 363698007", "line 1, column 14: dotted attributes (.)"),
        ("^ [referencedComponentId] 900000000000526001", "line 1, column 3: cardinality"),
        ("!!> 404684003", "line 1, column 1: top and bottom"),
        ("<< 12345", "line 1, column 4: expected one of a concept id, *, ^, (, found '12345'"),
        ("<< 404684003 ||", "line 1, column 14: a |term| between pipes is empty"),
        ("(<< 404684003", "line 1, column 14: expected ), found the end of the expression"),
        ("<< 404684003)", "line 1, column 13: expected the end of the expression, found ')'"),
        ("<< 404684003 AND", "line 1, column 17: expected one of a concept id"),
        ("", "line 1, column 1: expected one of a concept id"),
        (
            "<< 404684003 : { { 363698007 = 39057004 } }",
            "line 1, column 16: an attribute group holds attributes, not another group",
        ),
        ("<< 404684003 : (<< 363698007) = 39057004", "line 1, column 29: expected one of"),
    ],
)
def test_what_it_cannot_read_is_refused_where_it_is(text: str, message: str) -> None:
    with pytest.raises(EclError) as caught:
        parse_ecl(text)
    assert caught.value.message.startswith(message)
    assert isinstance(caught.value, CodesetError)  # shown as one line by the command, no traceback
    assert "\n" not in caught.value.message
