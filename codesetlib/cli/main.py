"""The `codeset` command: build, inspect, lint, version and exchange codesets; make data; run studies.

Exit codes: 0 success, 1 findings (lint warnings or errors, `check` drift), 2 a user error, printed as
one line naming the file, line and field; 130 and 143 when stopped by SIGINT or SIGTERM (what was
being written is removed, so running again resumes); 141 when the reader of the output went away
(`codeset expand ID | head`), as for POSIX tools killed by SIGPIPE. `--json` gives machine-readable
output.

No command replaces a path the kit did not write: `synth` and `data` replace only an empty folder or a
dataset folder the kit wrote, `export` no existing file, `schema` only a schema it wrote, unless
`--force` is given; `new` and `import` never replace a codeset folder, and `export` and `schema` never
write into one. What is replaced is replaced whole.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from codesetlib.core.errors import CodesetError, file_problem

if TYPE_CHECKING:
    from pydantic import ValidationError

    from codesetlib.codesets.expand import Expansion
    from codesetlib.codesets.model import Codeset

# Each command imports what it uses when it runs (the codeset model with pydantic, terminologies
# with DuckDB, pandas, Ibis), so that `codeset --help` and a parser error start at once;
# tests/test_cli_start.py holds the parser to that.

EXIT_OK, EXIT_FINDINGS, EXIT_USER_ERROR = 0, 1, 2
# A process stopped by signal N exits with 128 + N, as the shell reports it.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.codesets_dir)


def _folder(args: argparse.Namespace, name: str | None = None) -> Path:
    name = name or args.codeset
    path = Path(name)
    if (path / "codeset.yaml").is_file():
        return path
    from codesetlib.codesets.files import codeset_dir

    return codeset_dir(_root(args), name)


def _emit(args: argparse.Namespace, data: object, lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        for line in lines:
            print(line)


def cmd_show(args: argparse.Namespace) -> int:
    from codesetlib.codesets.files import load_codeset

    codeset = load_codeset(_folder(args))
    lines = [
        f"{codeset.title} ({codeset.id} {codeset.version}, {codeset.status})",
        f"release: {codeset.terminology_release}",
        f"purpose: {codeset.purpose}",
        *(f"  {rule.id}: {rule.action} {rule.target}" for rule in codeset.rules),
    ]
    data = codeset.model_dump(mode="json")
    if args.usage:
        from codesetlib.cli.usage import add_usage

        add_usage(_folder(args), codeset, data, lines)
    _emit(args, data, lines)
    return EXIT_OK


def _expanded(folder: Path) -> tuple[Codeset, Expansion]:
    """The codeset in `folder` and its expansion; an error in a rule names the file it is in."""
    from codesetlib.codesets.expand import expand_rules
    from codesetlib.codesets.files import CODESET_FILE, load_codeset

    codeset = load_codeset(folder)
    try:
        return codeset, expand_rules(codeset)
    except CodesetError as exc:
        raise exc.located(folder / CODESET_FILE) from None


def cmd_expand(args: argparse.Namespace) -> int:
    from codesetlib.codesets.files import write_codes

    folder = _folder(args)
    _, expansion = _expanded(folder)
    if args.write:
        path = write_codes(folder, expansion.codes)
        print(f"wrote {len(expansion.codes)} codes to {path}", file=sys.stderr)
        return EXIT_OK
    rows = [row.model_dump() for row in expansion.codes]
    _emit(args, rows, [f"{r.code}\t{r.term}\t{r.rule}" for r in expansion.codes])
    return EXIT_OK


def _lint_targets(args: argparse.Namespace) -> list[Path]:
    from codesetlib.codesets.files import available_codesets, codeset_dir

    if not args.codesets:
        return [codeset_dir(_root(args), c) for c in available_codesets(_root(args))]
    # `codeset lint codesets/*` names the folder's other files too (README.md, the schema): say so.
    for name in args.codesets:
        if Path(name).is_file():
            print(f"codeset: skipped {name}: a file, not a codeset folder", file=sys.stderr)
    return [_folder(args, name) for name in args.codesets if not Path(name).is_file()]


def _run_lint(args: argparse.Namespace, checks: set[str] | None) -> int:
    from tqdm import tqdm

    from codesetlib.codesets.lint import codes_by_codeset, lint_codeset

    folders = _lint_targets(args)
    others = codes_by_codeset(_root(args))
    findings, unreadable = [], 0
    for folder in tqdm(
        folders, desc="linting", unit="codeset", disable=len(folders) < 5, file=sys.stderr
    ):
        try:
            found = lint_codeset(folder, others)
        except CodesetError as exc:
            # One codeset that cannot be read is reported, and must not hide the others' findings.
            tqdm.write(f"codeset: error: {exc.location_message()}", file=sys.stderr)
            unreadable += 1
            continue
        findings += [f for f in found if checks is None or f.check in checks]
    serious = [f for f in findings if f.severity != "info"]
    summary = f"{len(folders)} codeset(s): {len(serious)} finding(s), {len(findings) - len(serious)} note(s)"
    if unreadable:
        summary += f"; {unreadable} could not be read (see the errors above)"
    _emit(args, [f.as_dict() for f in findings], [*(f.line() for f in findings), summary])
    if unreadable:
        return EXIT_USER_ERROR
    return EXIT_FINDINGS if serious else EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    return _run_lint(args, None)


def cmd_check(args: argparse.Namespace) -> int:
    """Drift and immutability only, of every version in history/ too: what CI must refuse."""
    return _run_lint(
        args,
        {
            "codes-drift",
            "published-edited",
            "inactive-code",
            "code-not-in-release",
            "bad-code",
            "history-edited",
            "history-unpublished",
            "history-misplaced",
            "version-not-later",
        },
    )


def _compare(args: argparse.Namespace) -> int:
    """`codeset diff A B`: the codes of any two codesets or versions, side by side."""
    from codesetlib.codesets.diff import compare_codesets, version_folder
    from codesetlib.codesets.files import load_codeset

    if args.from_version or args.to_version or args.release:
        raise CodesetError(
            "--from, --to and --release compare versions of one codeset; to compare two, name "
            "each (with @version for an archived one, e.g. diabetes@1.0.0)"
        )
    a, b = (load_codeset(version_folder(_root(args), name)) for name in (args.codeset, args.other))
    found = compare_codesets(a, b)
    lines = [f"A: {found.a}", f"B: {found.b}", *(f"  note: {n}" for n in found.notes)]
    lines += [f"  only in A  {c} |{t}|" for c, t in found.only_in_a]
    lines += [f"  only in B  {c} |{t}|" for c, t in found.only_in_b]
    lines += [f"  in both    {c} |{t}|" for c, t in found.in_both]
    _emit(args, found.as_dict(), [*lines, found.summary()])
    return EXIT_FINDINGS if found.differs else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from codesetlib.codesets.diff import diff_releases, diff_versions, version_folder
    from codesetlib.codesets.expand import open_codeset_release
    from codesetlib.codesets.files import load_codeset
    from codesetlib.terminology import open_release

    if args.other:
        return _compare(args)
    name, _, at = args.codeset.rpartition("@") if "@" in args.codeset else (args.codeset, "", "")
    if at and args.to_version:
        raise CodesetError(f"{args.codeset} names a version and so does --to; name it once")
    version = args.to_version or at
    current = version_folder(_root(args), f"{name}@{version}" if version else name)
    if args.release:
        codeset = load_codeset(current)
        drift = diff_releases(codeset, open_codeset_release(codeset), open_release(args.release))
        lines = [f"{drift.codeset}: {drift.old_release} → {drift.new_release}"]
        lines += [f"  new      {c} |{t}|" for c, t in drift.new_codes]
        lines += [f"  dropped  {c} |{t}|" for c, t in drift.dropped_codes]
        for code, term, targets in drift.inactivated:
            said = "; ".join(f"{k} {', '.join(v)}" for k, v in targets.items()) or "no replacement"
            lines.append(f"  inactive {code} |{term}| → {said}")
        _emit(args, drift.as_dict(), lines)
        changed = drift.new_codes or drift.dropped_codes or drift.inactivated
        return EXIT_FINDINGS if changed else EXIT_OK
    if not args.from_version:
        raise CodesetError(
            "name the older version with --from, a second codeset to compare with, or a release "
            "with --release"
        )
    old = load_codeset(version_folder(_root(args), f"{name}@{args.from_version}"))
    new = load_codeset(current)
    diff = diff_versions(old, new)
    lines = [f"{diff.old} → {diff.new}"]
    lines += [f"  rule added   {r}" for r in diff.rules_added]
    lines += [f"  rule removed {r}" for r in diff.rules_removed]
    lines += [f"  {c.change:<7} {c.code} |{c.term}| ({c.cause})" for c in diff.changes]
    _emit(args, diff.as_dict(), lines)
    return EXIT_FINDINGS if diff.changes else EXIT_OK


def cmd_bump(args: argparse.Namespace) -> int:
    from codesetlib.codesets.versions import bump

    version = bump(_folder(args), args.part)
    print(
        f"{args.codeset}: now at {version} (a draft, not yet signed off); "
        "the previous version is archived in history/"
    )
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from codesetlib.codesets.versions import publish

    digest = publish(_folder(args))
    print(f"{args.codeset}: published with content hash {digest}")
    return EXIT_OK


def _free_folder(args: argparse.Namespace) -> Path:
    """The folder a new codeset will take, refused when the id is not one or something is there
    already: a codeset folder holds reviewed history the kit cannot write again, so it is never
    replaced (there is no --force for it)."""
    from codesetlib.codesets.model import CODESET_ID

    if not args.id:
        raise CodesetError("the codeset id is empty", field="id")
    if not re.match(CODESET_ID, args.id):
        raise CodesetError(
            f"'{args.id}' is not a codeset id: use lower-case letters, digits and _, "
            "starting with a letter or digit",
            field="id",
        )
    root = _root(args)
    if root.exists() and not root.is_dir():
        raise CodesetError(
            "is not a folder: --codesets-dir names the folder of codesets", path=root
        )
    folder = root / args.id
    if folder.exists() or folder.is_symlink():
        raise CodesetError(
            "exists already; a codeset folder is never replaced: choose another id, or remove "
            "the folder yourself",
            path=folder,
        )
    return folder


def _write_new_codeset(folder: Path, codeset, terminology) -> None:
    """Write a new codeset's yaml and its expansion into a hidden folder, then put it in place whole:
    a failure leaves no folder behind."""
    from codesetlib.codesets.expand import expand_rules
    from codesetlib.codesets.files import write_codes
    from codesetlib.codesets.interchange import write_codeset
    from codesetlib.core import atomic

    codes = expand_rules(codeset, terminology).codes
    with atomic.folder_written_whole(folder) as staging:
        write_codeset(staging, codeset)
        write_codes(staging, codes)
        if folder.exists() or folder.is_symlink():  # made while this one was written
            raise CodesetError("exists already; a codeset folder is never replaced", path=folder)


def cmd_new(args: argparse.Namespace) -> int:
    from codesetlib.codesets.interchange import new_codeset
    from codesetlib.codesets.model import CodesetRule
    from codesetlib.terminology import open_release

    folder = _free_folder(args)
    terminology = open_release(args.release)
    concept = terminology.concept(args.concept)
    rule = CodesetRule(id="R1", action="include", concept=concept.code, term=concept.term)
    codeset = new_codeset(
        args.id,
        title=args.title,
        coding_system=terminology.system,
        release=args.release,
        rules=[rule],
        author=args.author,
        purpose=args.purpose,
    )
    _write_new_codeset(folder, codeset, terminology)
    print(f"created {folder}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from codesetlib.codesets.interchange import import_codelist, new_codeset

    folder = _free_folder(args)
    source = Path(args.file)
    got = import_codelist(source, args.format, args.release, column=args.column)
    terminology = got.terminology
    codeset = new_codeset(
        args.id,
        title=args.title or got.metadata.get("title") or args.id,
        coding_system=terminology.system,
        release=terminology.release.id,
        rules=got.rules,
        author=args.author,
        source=f"{source.name} ({args.format})",
        purpose=got.metadata.get("purpose")
        or f"Imported from {source.name}; state the purpose before review.",
        metadata=got.metadata,
    )
    _write_new_codeset(folder, codeset, terminology)
    for line in got.report():
        print(line)
    print(f"imported {len(got.rules)} rule(s) into {folder}")
    return EXIT_OK


def _shown(path: Path) -> Path:
    """`path` relative to the current folder where it lies below it, as a user would name it."""
    with contextlib.suppress(ValueError):
        return path.relative_to(Path.cwd())
    return path


def _codeset_folder_holding(path: Path) -> Path | None:
    """The outermost codeset folder (one with a codeset.yaml) that `path` lies in, if any."""
    from codesetlib.codesets.files import CODESET_FILE

    for whole in (Path(os.path.abspath(path)), path.resolve()):
        for folder in reversed(whole.parents):
            if (folder / CODESET_FILE).is_file():
                return _shown(folder)
    return None


def _check_out_file(
    out: str, force: bool, not_owned: Callable[[Path], str | None] | None = None
) -> Path:
    """The file `--out` names, refused when it lies in a codeset folder (even with --force: a
    codeset's files change only through expand --write, bump and publish), is a folder, has no
    folder to go in, or is a file the kit did not write and --force is not given."""
    from codesetlib.core import atomic

    path = Path(out)
    folder = _codeset_folder_holding(path)
    if folder is not None:
        raise CodesetError(
            f"is inside the codeset folder {folder}; write exports and schemas outside codeset "
            "folders (a codeset's own files change through expand --write, bump and publish)",
            path=path,
        )
    if path.is_dir():
        raise CodesetError("is a folder; --out names the file to write", path=path)
    atomic.check_file_target(path)
    atomic.refuse_existing(path, force=force, not_owned=not_owned, replace_with="the output")
    return path


def _not_a_codeset_schema(path: Path) -> str | None:
    """None when `path` holds a JSON Schema of codeset.yaml (as `codeset schema` writes)."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        schema = None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict) and schema.get("title") == "Codeset" and "rules" in properties:
        return None
    return "exists and is not a codeset schema the kit wrote"


def _write_or_print(out: Path | None, text: str) -> None:
    """Write `text` to `out` whole, or to standard output when no file is named."""
    if out is not None:
        from codesetlib.core import atomic

        atomic.write_text(out, text)
    else:
        sys.stdout.write(text)


def cmd_export(args: argparse.Namespace) -> int:
    from codesetlib.codesets.interchange import export_codeset

    out = _check_out_file(args.out, args.force) if args.out else None
    codeset, expansion = _expanded(_folder(args))
    if args.format == "fhir":
        from codesetlib.codesets.fhir import export_fhir

        notes: list[str] = []
        text = export_fhir(
            codeset,
            expansion,
            base_url=args.base_url,
            snomed_module=args.snomed_module,
            notes=notes,
        )
        for note in notes:
            print(f"codeset: note: {note}", file=sys.stderr)
    elif args.format == "ecl":
        from codesetlib.codesets.ecl import export_ecl

        text = export_ecl(codeset, expansion)
    else:
        text = export_codeset(codeset, expansion, args.format)
    _write_or_print(out, text)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from codesetlib.codesets.model import Codeset

    out = _check_out_file(args.out, args.force, _not_a_codeset_schema) if args.out else None
    text = json.dumps(Codeset.model_json_schema(), indent=2) + "\n"
    _write_or_print(out, text)
    return EXIT_OK


def cmd_synth(args: argparse.Namespace) -> int:
    from codesetlib.cli.synth import run

    return run(args)


def cmd_cohort(args: argparse.Namespace) -> int:
    from codesetlib.cli.cohort import run_cohort

    return run_cohort(args)


def cmd_measure(args: argparse.Namespace) -> int:
    from codesetlib.cli.cohort import run_measure

    return run_measure(args)


def cmd_data(args: argparse.Namespace) -> int:
    from codesetlib.record.pipeline import ensure_dataset, study_data
    from codesetlib.record.study import load_study

    study_path = Path(args.study)
    study, root = load_study(study_path), study_path.resolve().parent
    if study.dataset.source is not None:
        # Nothing to generate: the source is opened and described, which checks that it reads.
        tables = study_data(study, root).described["tables"]
        counts = ", ".join(f"{name} {entry['rows']:,} rows" for name, entry in tables.items())
        print(f"{study.dataset.source}: {counts}")
        return EXIT_OK
    print(ensure_dataset(study, root, force=args.force, regenerate_damaged=True))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from codesetlib.record.pipeline import run_study  # heavy imports only when running a study

    print(run_study(Path(args.study), codeset=args.codeset).resolve())
    return EXIT_OK


def cmd_pdf(args: argparse.Namespace) -> int:
    from codesetlib.record.book.pdf import build_pdf  # heavy imports only when printing

    print(build_pdf(Path(args.book).resolve()))
    return EXIT_OK


def cmd_student_release(args: argparse.Namespace) -> int:
    from codesetlib.teaching.course import write_student_release

    print(write_student_release(args.target, force=args.force))
    return EXIT_OK


def cmd_teaching_edition(args: argparse.Namespace) -> int:
    from codesetlib.terminology.teaching_edition.build import (
        SHIPPED_RELEASES,
        build_dmd_releases,
        build_snomedct_releases,
    )

    out = Path(args.out_dir) if args.out_dir else SHIPPED_RELEASES
    for folder in build_snomedct_releases(out) + build_dmd_releases(out):
        print(folder)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codeset", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--codesets-dir", default="codesets", help="folder of codesets (default: codesets)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str, json_out: bool = False
    ):
        cmd = sub.add_parser(name, help=help, description=help)
        cmd.set_defaults(func=func)
        if json_out:
            cmd.add_argument("--json", action="store_true", help="machine-readable output")
        return cmd

    new = add("new", cmd_new, "Start a codeset from one concept and its descendants.")
    new.add_argument("id", help="the new codeset's id (its folder name)")
    new.add_argument("--concept", required=True, help="the concept to include with its descendants")
    new.add_argument("--title", required=True)
    new.add_argument("--purpose", required=True, help="what the codeset is for")
    new.add_argument("--author", required=True)
    new.add_argument(
        "--release", default="snomedct-teaching-20240401", help="terminology release id"
    )

    show = add("show", cmd_show, "Show a codeset's metadata and rules.", json_out=True)
    show.add_argument("codeset", help="a codeset id or folder")
    show.add_argument(
        "--usage", action="store_true", help="national usage per code and year (CODESET_USAGE_PATH)"
    )

    expand = add(
        "expand", cmd_expand, "Expand a codeset's rules into codes against its release.", True
    )
    expand.add_argument("codeset", help="a codeset id or folder")
    expand.add_argument("--write", action="store_true", help="write the codes to codes.csv")

    lint = add(
        "lint", cmd_lint, "Lint codesets (all when none is named); exit 1 on findings.", True
    )
    lint.add_argument("codesets", nargs="*", help="codeset ids or folders")

    check = add(
        "check",
        cmd_check,
        "Fail when codes.csv drifts from the rules or a published version was edited.",
        True,
    )
    check.add_argument("codesets", nargs="*", help="codeset ids or folders")

    diff = add(
        "diff",
        cmd_diff,
        "Compare two codesets (A B, each ID or folder, @version for an archived one), two versions "
        "of one (--from, --to), or its rules across two releases (--release).",
        True,
    )
    diff.add_argument("codeset", help="a codeset id or folder, e.g. diabetes or diabetes@1.0.0")
    diff.add_argument("other", nargs="?", help="a second codeset to compare the first with")
    diff.add_argument("--from", dest="from_version", help="the older version (an archived one)")
    diff.add_argument("--to", dest="to_version", help="the newer version (default: current)")
    diff.add_argument("--release", help="compare the rules in this release instead")

    bump = add("bump", cmd_bump, "Archive the current version and start the next as a draft.")
    bump.add_argument("codeset", help="a codeset id or folder")
    bump.add_argument("--part", choices=["major", "minor", "patch"], default="minor")

    publish = add(
        "publish", cmd_publish, "Publish the current version, recording its content hash."
    )
    publish.add_argument("codeset", help="a codeset id or folder")

    imp = add("import", cmd_import, "Import a codelist from another tool as a new draft codeset.")
    imp.add_argument("file", help="the file to import")
    imp.add_argument(
        "--format",
        required=True,
        choices=["opencodelists", "ehrql", "atlas", "fhir", "ecl"],
        help="a flat list (or a ValueSet's concepts) is fitted with the fewest hierarchy rules",
    )
    imp.add_argument("--id", required=True, help="the new codeset's id")
    imp.add_argument("--title")
    imp.add_argument("--author", required=True)
    imp.add_argument(
        "--release",
        help="terminology release id (default: the one a FHIR ValueSet's version names, else "
        "snomedct-teaching-20240401)",
    )
    imp.add_argument("--column", default="code", help="the code column (ehrql format)")

    exp = add("export", cmd_export, "Export a codeset for another tool.")
    exp.add_argument("codeset", help="a codeset id or folder")
    exp.add_argument(
        "--format", required=True, choices=["opencodelists", "ehrql", "atlas", "fhir", "ecl"]
    )
    exp.add_argument(
        "--base-url",
        default="https://example.org/fhir/ValueSet",
        help="fhir: where the ValueSet's url lives, <base-url>/<id> (the default is a placeholder: "
        "set your own)",
    )
    exp.add_argument(
        "--snomed-module",
        help="fhir: the SNOMED CT edition's module id, for an edition the kit does not know",
    )
    exp.add_argument("--out", help="file to write (default: standard output)")
    exp.add_argument("--force", action="store_true", help="replace the --out file if it exists")

    schema = add("schema", cmd_schema, "Write the JSON Schema of codeset.yaml.")
    schema.add_argument("--out", help="file to write (default: standard output)")
    schema.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it is not a schema the kit wrote",
    )

    from codesetlib.cli.synth import add_arguments

    add_arguments(add("synth", cmd_synth, "Generate a synthetic primary-care dataset."))

    from codesetlib.cli import ecl

    ecl.add_arguments(
        add("ecl", ecl.run, "Print the concepts an ECL expression selects in a release.")
    )

    from codesetlib.cli.cohort import add_cohort_arguments, add_measure_arguments

    add_cohort_arguments(
        add("cohort", cmd_cohort, "Run a cohort definition on a data source; print its attrition.")
    )
    add_measure_arguments(
        add("measure", cmd_measure, "Run a measure of a cohort on a data source, protected.")
    )

    data = add("data", cmd_data, "Generate the study's dataset unless it is up to date.")
    data.add_argument("study", help="the study file, e.g. study.yaml")
    data.add_argument(
        "--force",
        action="store_true",
        help="replace the dataset folder even if it is not a dataset the kit wrote",
    )

    run = add("run", cmd_run, "Run a study: data, notebooks and the book.")
    run.add_argument("study", help="the study file, e.g. study.yaml")
    run.add_argument("--codeset", help="run the study's notebooks for this codeset instead")

    pdf = add("pdf", cmd_pdf, "Print a built methods record to one PDF, figures included.")
    pdf.add_argument("book", nargs="?", default="book", help="the book folder (default: book)")

    release = add(
        "student-release",
        cmd_student_release,
        "Write the folder students receive: the course's exercises and data, no solutions.",
    )
    release.add_argument(
        "target", nargs="?", default="build/student-release", help="the folder to write"
    )
    release.add_argument(
        "--force", action="store_true", help="replace a folder the kit did not write"
    )

    teaching = add(
        "teaching-edition",
        cmd_teaching_edition,
        "Rebuild the teaching SNOMED CT and dm+d releases from their reviewed sources.",
    )
    teaching.add_argument(
        "out_dir", nargs="?", help="where to write them (default: the releases the kit ships)"
    )
    return parser


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM: the command unwinds as from Ctrl-C, so each write in progress removes its
    temporary file or folder on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Stopped` while a command runs, even where SIGINT was ignored
    (a shell starts background jobs so), and put the previous handlers back afterwards. A second
    signal while the first unwinds is ignored so the clean-up finishes (SIGKILL still stops it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _quiet_stdout() -> None:
    """Send what is left of standard output to /dev/null, so that its flush at exit cannot fail
    again on the closed pipe."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _user_error(exc: CodesetError) -> int:
    print(f"codeset: error: {exc.location_message()}", file=sys.stderr)
    return EXIT_USER_ERROR


@contextlib.contextmanager
def _warnings_shown() -> Iterator[None]:
    """Show a release folder skipped on the search path as one `codeset: warning:` line, once.

    The terminology package (DuckDB, pandas) is not imported for this: a `ReleaseSkipped` can only
    have been raised once it was, so its class is looked up then, and the filter that shows it
    whatever -W says matches its message, which always begins so."""
    show_others = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        base = sys.modules.get("codesetlib.terminology.base")
        if base is not None and issubclass(category, base.ReleaseSkipped):
            print(f"codeset: warning: {message}", file=sys.stderr)
        else:
            show_others(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.filterwarnings("default", message="skipped release folder ", category=UserWarning)
        warnings.showwarning = show
        yield


def _validation_error() -> type[ValidationError] | tuple[()]:
    """pydantic's ValidationError when pydantic has been imported; none can have been raised when it
    has not, and importing it only to catch it would cost every command its start."""
    pydantic = sys.modules.get("pydantic")
    return pydantic.ValidationError if pydantic is not None else ()


def _out_of_memory() -> type[Exception] | tuple[()]:
    """DuckDB's out-of-memory error when DuckDB has been imported (as `_validation_error`)."""
    duckdb = sys.modules.get("duckdb")
    return duckdb.OutOfMemoryException if duckdb is not None else ()


def _out_of_memory_error(exc: Exception, args: argparse.Namespace) -> int:
    """A query that did not fit in DuckDB's memory limit and could not spill: what the limit was
    and what to change, without DuckDB's own advice on settings the user cannot reach."""
    reason = str(exc).splitlines()[0]
    limit = getattr(args, "memory_limit", None)
    limit_text = f"--memory-limit {limit}" if limit else "DuckDB's default memory limit"
    print(
        f"codeset: error: the query ran out of memory within {limit_text} ({reason}); raise "
        "--memory-limit, or run with fewer --threads",
        file=sys.stderr,
    )
    return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _stopped_by_signals(), _warnings_shown():
            code = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
            return code
    except CodesetError as exc:
        return _user_error(exc)
    except _validation_error() as exc:
        first = exc.errors()[0]
        field = ".".join(str(k) for k in first["loc"])
        print(f"codeset: error: {field}: {first['msg']}", file=sys.stderr)
        return EXIT_USER_ERROR
    except _out_of_memory() as exc:
        return _out_of_memory_error(exc, args)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        # A file the user named could not be read (missing, a folder, no permission): say which.
        if exc.filename is None:
            raise
        return _user_error(CodesetError(file_problem(exc), path=exc.filename))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(
            f"codeset: stopped by {signal.Signals(signum).name}; what it was writing was removed",
            file=sys.stderr,
        )
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
