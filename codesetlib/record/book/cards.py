"""The card of each codeset in the record, every version's codes to download, and the overview.

A card is what a reviewer reads to judge a codeset: its metadata; its rules with the codes each
matched, added and removed; its codes grouped by the rule that brought them in, each rule's decision
stated once; the codes each exclusion removed; the decision log with terms; the lint findings; what
changed since the previous version and in other releases; and every version's codes as files that
other tools read.

The counts shown here are of codes in a terminology, not of people, so disclosure control does not
apply to them (and their column names are not ones the disclosure scan treats as counts). When usage
files are loaded (CODESET_USAGE_PATH), each code's national usage per year stands beside it: NHS
England's published aggregates, already rounded by NHS England, shown as published.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.codesets.diff import diff_releases, diff_versions
from codesetlib.codesets.expand import (
    Expansion,
    RuleEffect,
    code_sort_key,
    expand_rules,
    open_codeset_release,
)
from codesetlib.codesets.files import HISTORY_DIR, codes_csv_text, load_codeset, read_codes
from codesetlib.codesets.interchange import FORMATS, export_codeset
from codesetlib.codesets.lint import lint_codeset
from codesetlib.codesets.model import CodeRow, Codeset, ReviewerSignOff
from codesetlib.codesets.usage import describe, load_usage, usage_by_year
from codesetlib.codesets.versions import versions
from codesetlib.core.errors import CodesetError
from codesetlib.record.book.pages import _section, _table, write_page
from codesetlib.record.book.tables import html_table
from codesetlib.terminology import Terminology, available_releases, open_release

CARDS_DIR = "codesets"
DOWNLOADS_DIR = "downloads"
OVERVIEW_PAGE = "codesets_overview.md"
# The overview is included from book/codesets.md, so its links are relative to that page.
CARD_HREF = "generated/" + CARDS_DIR + "/{id}.html"
# Each download: its label on the card and the end of its file name, by format.
DOWNLOAD_FORMATS = {
    "codes": ("codes.csv", "codes.csv"),
    "opencodelists": ("OpenCodelists", "opencodelists.csv"),
    "ehrql": ("ehrQL", "ehrql.csv"),
    "atlas": ("ATLAS", "atlas.json"),
}


@dataclass(frozen=True)
class Download:
    """One version of a codeset in one format: the file written (relative to the cards folder, with
    `/` separators), or why that version cannot be given in that format."""

    version: str
    fmt: str
    path: str | None
    unavailable: str = ""

    @property
    def label(self) -> str:
        return DOWNLOAD_FORMATS[self.fmt][0]


def _paragraph(text: str) -> str:
    """Text from a codeset as an HTML paragraph, so Markdown never reinterprets what was written."""
    # A blank line would end the HTML block and hand the rest to Markdown, so white space is folded.
    return f'<p class="codeset-note">{html.escape(" ".join(text.split()))}</p>\n\n'


def _code_table(frame: pd.DataFrame, empty: str) -> str:
    """A table of codes that gives each term room for one line; a long decision wraps instead."""
    if not len(frame):
        return f"*{empty}*"
    widths = {"Code": "8em", "Term": "45%"}
    columns = "".join(
        f'<col style="width: {widths[c]}">' if c in widths else "<col>" for c in frame.columns
    )
    # The first '>' closes the <table> tag; the column widths go straight after it.
    return html_table(frame).replace(">", f"><colgroup>{columns}</colgroup>", 1)


def decisions_about(codeset: Codeset, about: str) -> list[str]:
    """Every recorded decision about a rule or a code, each in words."""
    return [
        f"{d.decision}: {d.rationale} ({d.by}, {d.date})"
        for d in codeset.decisions
        if d.about == about
    ]


def decision_for(codeset: Codeset, about: str, rule_id: str | None = None) -> str:
    """The recorded decision about a code (or else about the rule that brought it in), in words."""
    for key in (about, rule_id):
        found = decisions_about(codeset, key) if key is not None else []
        if found:
            return found[0]
    return ""


def metadata_frame(codeset: Codeset) -> pd.DataFrame:
    """Every metadata field of the codeset that has a value."""
    context = codeset.context_of_use
    rows = {
        "Id": codeset.id,
        "Version": codeset.version,
        "Status": codeset.status,
        "Category": codeset.category,
        "National cluster": codeset.cluster or "",
        "Coding system": codeset.coding_system,
        "Terminology release": codeset.terminology_release,
        "Clinical intent": codeset.clinical_intent or "",
        "Care setting": context.care_setting if context else "",
        "How it is queried": context.query if context else "",
        "Population": codeset.population or "",
        "Inclusion criteria": codeset.inclusion_criteria or "",
        "Exclusion criteria": codeset.exclusion_criteria or "",
        "Methodology": codeset.methodology or "",
        "Known limitations": codeset.known_limitations or "",
        "Authors": "; ".join(a.name + (f" ({a.role})" if a.role else "") for a in codeset.authors),
        "Reviewers": "; ".join(
            f"{r.name} ({r.role}, {r.date}, {'signed off' if r.signed_off else 'not signed off'})"
            for r in codeset.reviewers
        ),
        "References": "; ".join(codeset.references),
        "Content hash": codeset.published.content_hash if codeset.published else "(not published)",
    }
    return pd.DataFrame({"Field": list(rows), "Value": list(rows.values())})


def rules_frame(expansion: Expansion) -> pd.DataFrame:
    """The rules in order, with how many codes each matched in the release, added and removed."""
    return pd.DataFrame(
        [
            {
                "Rule": e.rule.id,
                "Action": e.rule.action,
                "Names": e.rule.target,
                "Why": e.rule.note or "",
                "Matched": len(e.matched),
                "Added": len(e.added),
                "Removed": len(e.removed),
            }
            for e in expansion.effects
        ]
    )


def removed_codes(effects: list[RuleEffect]) -> dict[str, dict[str, str]]:
    """For each exclude rule, the codes it removed and the rule that had brought each in."""
    brought_in: dict[str, str] = {}
    out: dict[str, dict[str, str]] = {}
    for effect in effects:
        for code in effect.added:
            brought_in[code] = effect.rule.id
        if effect.rule.action == "exclude":
            out[effect.rule.id] = {
                code: brought_in.pop(code)
                for code in sorted(effect.removed, key=code_sort_key)
                if code in brought_in
            }
    return out


def term_of(code: str, terminology: Terminology) -> str:
    concept = terminology.lookup(code)
    return concept.term if concept else f"(not in {terminology.release.id})"


def decision_log_frame(codeset: Codeset, terminology: Terminology) -> pd.DataFrame:
    """The decision log, each decision beside what it is about: a rule's target or a code's term."""

    def named(about: str) -> str:
        rule = codeset.rule(about)
        return rule.target if rule else term_of(about, terminology)

    return pd.DataFrame(
        [
            {
                "About": d.about,
                "Names": named(d.about),
                "Decision": d.decision,
                "Rationale": d.rationale,
                "By": d.by,
                "Date": str(d.date),
            }
            for d in codeset.decisions
        ]
    )


def _rule_decision(codeset: Codeset, rule_id: str) -> str:
    found = decisions_about(codeset, rule_id)
    return "Decision: " + " ".join(found) if found else "No decision is recorded about this rule."


def national_usage(codeset: Codeset, codes: list[CodeRow]) -> pd.DataFrame | None:
    """The codes' national usage as the card shows it, a `Usage <year>` column per loaded year
    indexed by code; None when no usage file of the codeset's coding system is loaded."""
    index = load_usage()
    if not index.loaded(codeset.coding_system):
        return None
    return usage_by_year([r.code for r in codes], codeset.coding_system, index).set_index("Code")


def usage_note(codeset: Codeset, usage: pd.DataFrame | None) -> str:
    """What the usage columns hold and where they come from, said once above the codes."""
    if usage is None:
        return ""
    return (
        " National usage per year: " + describe(codeset.coding_system) + ". These are national "
        "aggregates published by NHS England and already rounded by it, not counts of this study's "
        "patients; a code a year's file does not list was used 0 times."
    )


def codes_by_rule(
    codeset: Codeset,
    codes: list[CodeRow],
    expansion: Expansion,
    usage: pd.DataFrame | None = None,
) -> str:
    """The codes under the include rule that brought them in, the rule's decision stated once, and
    each code's national usage per year when `usage` (from `national_usage`) is given."""
    effects = {e.rule.id: e for e in expansion.effects}
    groups: dict[str, list[CodeRow]] = {r.id: [] for r in codeset.rules if r.action == "include"}
    for row in codes:
        groups.setdefault(row.rule, []).append(row)
    out = []
    for rule_id, rows in groups.items():
        rule = codeset.rule(rule_id)
        if rule is None:
            intro = f"Rule {rule_id} is not among the codeset's rules (see the lint findings)."
        else:
            effect = effects[rule_id]
            intro = (
                f"{rule.target}: matched {len(effect.matched)}, added {len(effect.added)}. "
                + _rule_decision(codeset, rule_id)
            )
        table = pd.DataFrame(
            [
                {
                    "Code": r.code,
                    "Term": r.term,
                    "Active": "yes" if r.active else "no",
                    "Decision about the code": " ".join(decisions_about(codeset, r.code)),
                }
                | ({} if usage is None else usage.loc[r.code].to_dict())
                for r in rows
            ]
        )
        empty = "No code: every code it matches was brought in by an earlier rule."
        out.append(
            f"### Brought in by {rule_id}\n\n{_paragraph(intro)}{_code_table(table, empty)}\n"
        )
    return "\n".join(out)


def codes_removed(codeset: Codeset, expansion: Expansion, terminology: Terminology) -> str:
    """For each exclude rule, its decision once and the codes it removed, with their terms."""
    kept = {row.code: row.rule for row in expansion.codes}
    out = []
    for rule_id, removed in removed_codes(expansion.effects).items():
        rule = codeset.rule(rule_id)
        effect = next(e for e in expansion.effects if e.rule.id == rule_id)
        intro = (
            f"{rule.target}: matched {len(effect.matched)}, removed {len(removed)}. "
            + _rule_decision(codeset, rule_id)
        )
        table = pd.DataFrame(
            [
                {
                    "Code": code,
                    "Term": term_of(code, terminology),
                    "Brought in by": by,
                    "Decision about the code": " ".join(decisions_about(codeset, code)),
                }
                | ({"Added back by": kept[code]} if code in kept else {})
                for code, by in removed.items()
            ]
        )
        empty = "No code: none of the codes it matches had been brought in by an earlier rule."
        out.append(f"### Removed by {rule_id}\n\n{_paragraph(intro)}{_code_table(table, empty)}\n")
    return "\n".join(out) if out else "*The codeset has no exclusion rule.*"


def downloads_list(downloads: list[Download], card_version: str) -> str:
    """Every version's files as MyST download links, newest version first."""
    if not downloads:
        return "*No download was written.*"
    by_version: dict[str, list[Download]] = {}
    for d in downloads:
        by_version.setdefault(d.version, []).append(d)
    lines = []
    for version in sorted(by_version, key=_version_key, reverse=True):
        links = [
            f"{{download}}`{d.label} <{d.path}>`"
            if d.path
            else f"{d.label} not available ({html.escape(d.unavailable)})"
            for d in by_version[version]
        ]
        here = " (this card)" if version == card_version else ""
        lines.append(f"- **{version}**{here}: " + " · ".join(links))
    return (
        "Each version's codes: `codes.csv` as the codeset records them, the OpenCodelists and "
        "ehrQL codelist CSVs, and an ATLAS concept set expression. A cell that a spreadsheet would "
        "run as a formula starts with an apostrophe.\n\n" + "\n".join(lines)
    )


def codeset_card(folder: Path, downloads: list[Download] | None = None) -> str:
    """The codeset's page: metadata, downloads, rules, codes by rule, removals, decisions, lint and
    diffs. `downloads` are the files `write_downloads` wrote, linked from the page."""
    codeset = load_codeset(folder)
    codes = read_codes(folder)
    terminology = open_codeset_release(codeset)
    expansion = expand_rules(codeset, terminology)
    parts = [f"(codeset-{codeset.id})=\n# {codeset.title}\n\n{codeset.purpose}\n\n"]
    parts.append(_section("Metadata", html_table(metadata_frame(codeset))))
    parts.append(_section("Downloads", downloads_list(downloads or [], codeset.version)))
    parts.append(
        _section(
            "Rules",
            "Applied in order: an include adds the codes it matches that no earlier rule added; "
            "an exclude removes the codes it matches from those earlier rules added. Each rule's "
            "decision is stated once, with its codes below.\n\n"
            + html_table(rules_frame(expansion)),
        )
    )
    usage = national_usage(codeset, codes)
    parts.append(
        _section(
            f"Codes ({len(codes)})",
            f"Expanded in {codeset.terminology_release}, grouped by the rule that brought each "
            "code in. A decision about one code is on its row."
            + usage_note(codeset, usage)
            + "\n\n"
            + codes_by_rule(codeset, codes, expansion, usage),
        )
    )
    parts.append(
        _section(
            "Codes removed by exclusions",
            "Each exclusion with the codes it took out of what earlier rules had added.\n\n"
            + codes_removed(codeset, expansion, terminology),
        )
    )
    parts.append(
        _section(
            "Decision log",
            _table(decision_log_frame(codeset, terminology), "No decisions recorded."),
        )
    )
    findings = pd.DataFrame(
        [
            {"Severity": f.severity, "Check": f.check, "Finding": f.message, "Fix": f.fix}
            for f in lint_codeset(folder)
        ]
    )
    parts.append(_section("Lint findings", _table(findings, "None: the codeset lints clean.")))
    parts.append(_section("Changes since the previous version", _version_changes(folder, codeset)))
    parts.append(_section("The same rules in other releases", _release_changes(codeset)))
    return "".join(parts)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def codeset_root(folder: Path) -> Path:
    """The codeset's own folder, given the folder of any of its versions."""
    return folder.parent.parent if folder.parent.name == HISTORY_DIR else folder


def version_folders(folder: Path) -> dict[str, Path]:
    """Every version of the codeset, oldest first: those archived in history/, then the current."""
    root = codeset_root(folder)
    found = {v: root / HISTORY_DIR / v for v in versions(root)}
    found[load_codeset(root).version] = root
    return found


def _version_changes(folder: Path, codeset: Codeset) -> str:
    earlier = [
        v for v in version_folders(folder) if _version_key(v) < _version_key(codeset.version)
    ]
    if not earlier:
        return "*This is the first version.*"
    previous = load_codeset(version_folders(folder)[earlier[-1]])
    diff = diff_versions(previous, codeset)
    rules = "".join(f"- rule added: {r}\n" for r in diff.rules_added)
    rules += "".join(f"- rule removed: {r}\n" for r in diff.rules_removed)
    changes = pd.DataFrame(
        [
            {"Code": c.code, "Term": c.term, "Change": c.change, "Cause": c.cause}
            for c in diff.changes
        ]
    )
    return f"From {diff.old} to {diff.new}.\n\n{rules}\n" + _table(changes, "No code changed.")


def _release_changes(codeset: Codeset) -> str:
    current = open_codeset_release(codeset)
    others = [
        r
        for r in available_releases().values()
        if r.system == current.system
        and r.edition == current.release.edition
        and r.id != current.release.id
    ]
    if not others:
        return "*No other release of this edition is available.*"
    out = []
    for release in sorted(others, key=lambda r: r.version):
        drift = diff_releases(codeset, current, open_release(release.id))
        rows = [
            {"Code": c, "Term": t, "Change": "new in the expansion"} for c, t in drift.new_codes
        ]
        rows += [
            {"Code": c, "Term": t, "Change": "left the expansion"} for c, t in drift.dropped_codes
        ]
        rows += [
            {
                "Code": c,
                "Term": t,
                "Change": "inactivated: "
                + (
                    "; ".join(f"{k} {', '.join(v)}" for k, v in targets.items()) or "no replacement"
                ),
            }
            for c, t, targets in drift.inactivated
        ]
        out.append(
            f"**{current.release.id} → {release.id}**\n\n"
            + _table(pd.DataFrame(rows), "No change.")
        )
    return "\n\n".join(out)


def version_files(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """One version's downloads as text by format, and why any format could not be made.

    `codes.csv` is the version's own file; the other formats come from expanding its rules, as
    `codeset export` does.
    """
    codeset = load_codeset(folder)
    # Both writers escape cells a spreadsheet would run as formulas (codesetlib.core.csvfiles).
    files = {"codes": codes_csv_text(read_codes(folder))}
    unavailable = {}
    try:
        expansion = expand_rules(codeset)
    except CodesetError as exc:
        return files, dict.fromkeys(FORMATS, exc.message)
    for fmt in FORMATS:
        try:
            text = export_codeset(codeset, expansion, fmt)
        except CodesetError as exc:
            unavailable[fmt] = exc.message
            continue
        files[fmt] = text
    return files, unavailable


def download_name(codeset_id: str, version: str, fmt: str) -> str:
    """A file name that says what the file holds, so downloads of several versions never collide."""
    return f"{codeset_id}-{version}-{DOWNLOAD_FORMATS[fmt][1]}"


def write_downloads(folder: Path, cards: Path) -> list[Download]:
    """Write every version of the codeset in `folder` in every format under `cards`/downloads/."""
    codeset_id = load_codeset(codeset_root(folder)).id
    downloads = []
    for version, version_folder in version_folders(folder).items():
        files, unavailable = version_files(version_folder)
        for fmt in DOWNLOAD_FORMATS:
            if fmt in files:
                name = download_name(codeset_id, version, fmt)
                relative = f"{DOWNLOADS_DIR}/{codeset_id}/{version}/{name}"
                write_page(cards / relative, files[fmt])
                downloads.append(Download(version, fmt, relative))
            else:
                downloads.append(Download(version, fmt, None, unavailable[fmt]))
    return downloads


def _sign_off(review: ReviewerSignOff) -> str:
    # The card gives each reviewer's role; the overview keeps to who signed off and when.
    signed = "signed off" if review.signed_off else "not signed off"
    return f"{review.name}, {signed} {review.date}"


def overview_frame(folders: dict[str, Path]) -> pd.DataFrame:
    """One row per codeset of the study, at the version it uses, computed from its files."""
    rows = []
    for codeset_id, folder in folders.items():
        codeset = load_codeset(folder)
        rows.append(
            {
                "Codeset": codeset_id,
                "Title": codeset.title,
                "Version": codeset.version,
                "Status": codeset.status,
                "Codes": len(read_codes(folder)),
                "Reviewers": "; ".join(_sign_off(r) for r in codeset.reviewers) or "none",
            }
        )
    return pd.DataFrame(rows)


def overview_page(folders: dict[str, Path]) -> str:
    """The overview table of the study's codesets, each id linked to its card."""
    text = html_table(overview_frame(folders))
    for codeset_id in folders:
        # Ids are lower-case letters, digits and underscores, so they need no escaping.
        href = CARD_HREF.format(id=codeset_id)
        text = text.replace(
            f"<td>{codeset_id}</td>", f'<td><a href="{href}">{codeset_id}</a></td>', 1
        )
    return text + "\n"


def _remove_stale_downloads(downloads: Path, kept: set[Path]) -> None:
    """Delete download files the kit wrote that no codeset of the study gives any more."""
    if not downloads.is_dir():
        return
    for path in sorted(downloads.rglob("*"), reverse=True):
        if path.is_file() and path not in kept:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def write_cards(folders: dict[str, Path], generated: Path) -> list[Path]:
    """A card per codeset of the study (and none for codesets it does not use), each version's
    downloads, and the overview page; returns the cards written."""
    cards = generated / CARDS_DIR
    for stale in cards.glob("*.md") if cards.is_dir() else []:
        if stale.stem not in folders:
            stale.unlink()
    written, kept = [], set()
    for codeset_id, folder in folders.items():
        downloads = write_downloads(folder, cards)
        kept |= {cards / d.path for d in downloads if d.path}
        written.append(write_page(cards / f"{codeset_id}.md", codeset_card(folder, downloads)))
    _remove_stale_downloads(cards / DOWNLOADS_DIR, kept)
    write_page(generated / OVERVIEW_PAGE, overview_page(folders))
    return written
