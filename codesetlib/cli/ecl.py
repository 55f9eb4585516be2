"""The `codeset ecl` subcommand: the concepts an ECL expression selects in a release.

`codeset ecl "<< 73211009 |Diabetes mellitus|" --release snomedct-teaching-20250401` prints each
active concept the expression selects, `code<TAB>term`, in code order; `--json` prints them as a
list of objects. A line on standard error counts them and names any inactive concept the expression
met and left out, so that the list on standard output stays only codes.
"""

from __future__ import annotations

import argparse
import json
import sys

DEFAULT_RELEASE = "snomedct-teaching-20240401"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help='an ECL expression, e.g. "<< 73211009 |Diabetes|"')
    parser.add_argument(
        "--release", default=DEFAULT_RELEASE, help=f"terminology release id ({DEFAULT_RELEASE})"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from codesetlib.codesets.ecl import EclEvaluator
    from codesetlib.codesets.expand import code_sort_key
    from codesetlib.terminology import open_release

    terminology = open_release(args.release)
    evaluator = EclEvaluator(terminology, field="expression")
    codes = sorted(evaluator.evaluate(args.expression), key=code_sort_key)
    rows = [{"code": code, "term": terminology.concept(code).term} for code in codes]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['code']}\t{row['term']}")
    summary = f"{len(rows)} concept(s) in {terminology.release.id}"
    left_out = sorted(evaluator.inactive_left_out, key=code_sort_key)
    if left_out:
        shown = ", ".join(left_out[:5]) + (", ..." if len(left_out) > 5 else "")
        summary += f"; {len(left_out)} inactive concept(s) left out ({shown})"
    print(summary, file=sys.stderr)
    return 0
