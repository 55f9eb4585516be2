"""The `codeset` command: build, inspect and check codesets, generate data and run studies.

Exit codes: 0 success, 1 findings (e.g. `check` found drift), 2 a user error, printed as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from codesetlib.codeset import codeset_dir, load_codeset, read_codes, write_codes
from codesetlib.errors import CodesetError
from codesetlib.expand import expand_rules
from codesetlib.synthetic import SynthParams, generate_dataset

EXIT_OK, EXIT_FINDINGS, EXIT_USER_ERROR = 0, 1, 2


def _folder(args: argparse.Namespace) -> Path:
    path = Path(args.codeset)
    if (path / "codeset.yaml").is_file():
        return path
    return codeset_dir(Path(args.codesets_dir), args.codeset)


def cmd_show(args: argparse.Namespace) -> int:
    codeset = load_codeset(_folder(args))
    if args.json:
        print(codeset.model_dump_json(indent=2))
        return EXIT_OK
    print(f"{codeset.title} ({codeset.id} {codeset.version}, {codeset.status})")
    print(f"release: {codeset.terminology_release}")
    print(f"purpose: {codeset.purpose}")
    for rule in codeset.rules:
        scope = "and descendants" if rule.descendants else "only"
        print(f"  {rule.id}: {rule.action} {rule.concept} |{rule.term}| {scope}")
    return EXIT_OK


def cmd_expand(args: argparse.Namespace) -> int:
    folder = _folder(args)
    expansion = expand_rules(load_codeset(folder))
    if args.write:
        path = write_codes(folder, expansion.codes)
        print(f"wrote {len(expansion.codes)} codes to {path}", file=sys.stderr)
    if args.json:
        print(json.dumps([row.model_dump() for row in expansion.codes], indent=2))
    elif not args.write:
        for row in expansion.codes:
            print(f"{row.code}\t{row.term}\t{row.rule}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    folder = _folder(args)
    expected = {r.code: r for r in expand_rules(load_codeset(folder)).codes}
    recorded = {r.code: r for r in read_codes(folder)}
    added = sorted(expected.keys() - recorded.keys(), key=int)
    removed = sorted(recorded.keys() - expected.keys(), key=int)
    changed = sorted(c for c in expected.keys() & recorded.keys() if expected[c] != recorded[c])
    for code in added:
        print(
            f"{folder}/codes.csv: missing {code} |{expected[code].term}| (rule {expected[code].rule})"
        )
    for code in removed:
        print(f"{folder}/codes.csv: {code} is not in the expansion of the rules")
    for code in changed:
        print(f"{folder}/codes.csv: {code} differs from the expansion: {expected[code]}")
    if added or removed or changed:
        print(f"{folder}: codes.csv differs from the rules; run `codeset expand --write {folder}`")
        return EXIT_FINDINGS
    print(f"{folder}: codes.csv matches the rules ({len(expected)} codes)")
    return EXIT_OK


def cmd_synth(args: argparse.Namespace) -> int:
    params = SynthParams(patients=args.patients, seed=args.seed, practices=args.practices)
    manifest = generate_dataset(params, Path(args.out))
    rows = ", ".join(f"{k} {v['rows']}" for k, v in manifest["tables"].items())
    print(f"wrote {args.out}: {rows}")
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from codesetlib.pipeline import ensure_dataset
    from codesetlib.study import load_study

    study_path = Path(args.study)
    out = ensure_dataset(load_study(study_path), study_path.resolve().parent)
    print(out)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from codesetlib.pipeline import run_study  # heavy imports only when running a study

    index = run_study(Path(args.study), codeset=args.codeset)
    print(index.resolve())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeset", description=__doc__)
    parser.add_argument(
        "--codesets-dir", default="codesets", help="folder holding one folder per codeset"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str):
        cmd = sub.add_parser(name, help=help, description=help)
        cmd.set_defaults(func=func)
        return cmd

    show = add("show", cmd_show, "Show a codeset's metadata and rules.")
    show.add_argument("codeset", help="a codeset id or folder")
    show.add_argument("--json", action="store_true", help="machine-readable output")

    expand = add("expand", cmd_expand, "Expand a codeset's rules into codes against its release.")
    expand.add_argument("codeset", help="a codeset id or folder")
    expand.add_argument("--write", action="store_true", help="write the codes to codes.csv")
    expand.add_argument("--json", action="store_true", help="machine-readable output")

    check = add(
        "check", cmd_check, "Fail (exit 1) when codes.csv differs from the rules' expansion."
    )
    check.add_argument("codeset", help="a codeset id or folder")

    synth = add("synth", cmd_synth, "Generate a synthetic primary-care dataset.")
    synth.add_argument("--patients", type=int, default=2000)
    synth.add_argument("--practices", type=int, default=10)
    synth.add_argument("--seed", type=int, default=42)
    synth.add_argument("--out", required=True, help="output folder")

    data = add("data", cmd_data, "Generate the study's dataset unless it is up to date.")
    data.add_argument("study", help="the study file, e.g. study.yaml")

    run = add("run", cmd_run, "Run a study: data, notebooks and the book.")
    run.add_argument("study", help="the study file, e.g. study.yaml")
    run.add_argument("--codeset", help="run the study's notebooks for this codeset instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CodesetError as exc:
        print(f"codeset: error: {exc.location_message()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(k) for k in first["loc"])
        print(f"codeset: error: {field}: {first['msg']}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("codeset: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
