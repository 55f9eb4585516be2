"""Pages the record generates from the repository: a card per codeset, the study, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from codesetlib.book.tables import html_table
from codesetlib.codeset import Codeset, load_codeset, read_codes
from codesetlib.diff import diff_releases, diff_versions
from codesetlib.expand import open_codeset_release
from codesetlib.lint import lint_codeset
from codesetlib.terminology import available_releases, open_release
from codesetlib.versions import versions


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n\n"


def _table(frame: pd.DataFrame, empty: str) -> str:
    return html_table(frame) if len(frame) else f"*{empty}*"


def decision_for(codeset: Codeset, about: str, rule_id: str | None = None) -> str:
    """The recorded decision about a code (or else about the rule that brought it in), in words."""
    for key in (about, rule_id):
        for decision in codeset.decisions:
            if key is not None and decision.about == key:
                return f"{decision.decision}: {decision.rationale} ({decision.by}, {decision.date})"
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


def codeset_card(folder: Path) -> str:
    """The codeset's page: metadata, rules with decisions, decision log, codes, lint and diffs."""
    codeset = load_codeset(folder)
    codes = read_codes(folder)
    parts = [f"(codeset-{codeset.id})=\n# {codeset.title}\n\n{codeset.purpose}\n\n"]
    parts.append(_section("Metadata", html_table(metadata_frame(codeset))))
    rules = pd.DataFrame(
        [
            {
                "Rule": r.id,
                "Action": r.action,
                "Names": r.target,
                "Why": r.note or "",
                "Decision": decision_for(codeset, r.id),
            }
            for r in codeset.rules
        ]
    )
    parts.append(_section("Rules", "Applied in order.\n\n" + html_table(rules)))
    log = pd.DataFrame(
        [
            {
                "About": d.about,
                "Decision": d.decision,
                "Rationale": d.rationale,
                "By": d.by,
                "Date": str(d.date),
            }
            for d in codeset.decisions
        ]
    )
    parts.append(_section("Decision log", _table(log, "No decisions recorded.")))
    rows = pd.DataFrame(
        [
            {
                "Code": r.code,
                "Term": r.term,
                "Rule": r.rule,
                "Active": "yes" if r.active else "no",
                "Decision": decision_for(codeset, r.code, r.rule),
            }
            for r in codes
        ]
    )
    parts.append(
        _section(
            f"Codes ({len(codes)})",
            f"Expanded in {codeset.terminology_release}.\n\n" + html_table(rows),
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


def _version_changes(folder: Path, codeset: Codeset) -> str:
    history = versions(folder)
    if not history:
        return "*This is the first version.*"
    previous = load_codeset(folder / "history" / history[-1])
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


def write_page(path: Path, text: str) -> Path:
    """Write a generated page atomically, leaving an unchanged page untouched (for fast rebuilds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def provenance_page(manifest: dict) -> str:
    """The provenance manifest as a page: what this build was made from."""
    summary = pd.DataFrame(
        [
            {
                "Item": "Commit",
                "Value": f"{manifest['git']['commit']}{' (with uncommitted changes)' if manifest['git']['dirty'] else ''}",
            },
            {"Item": "Python", "Value": manifest["python"]},
            {"Item": "Seed", "Value": str(manifest["seed"])},
            {
                "Item": "Dataset",
                "Value": f"{manifest['dataset']['path']} (manifest sha256 {manifest['dataset']['manifest_sha256'][:16]}…)",
            },
            {"Item": "Disclosure control", "Value": manifest["disclosure"]},
        ]
    )
    codesets = pd.DataFrame(
        [
            {
                "Codeset": k,
                "Version": v["version"],
                "Release": v["release"],
                "Content hash": v["content_hash"],
            }
            for k, v in manifest["codesets"].items()
        ]
    )
    notebooks = pd.DataFrame(
        [
            {
                "Notebook": k,
                "Inputs hash": v["inputs_hash"][:16] + "…",
                "Run": "re-executed" if v["executed"] else "cached",
                "Seconds": f"{v['seconds']:.1f}",
                "Parameters": json.dumps(v["parameters"], sort_keys=True),
            }
            for k, v in manifest["notebooks"].items()
        ]
    )
    packages = pd.DataFrame(
        [{"Package": k, "Version": v} for k, v in sorted(manifest["packages"].items())]
    )
    return (
        "# Provenance\n\nWhat this build of the record was made from. The same manifest is written to "
        "`generated/provenance.json`.\n\n"
        + _section("Build", html_table(summary))
        + _section("Codesets", html_table(codesets))
        + _section("Notebooks", html_table(notebooks))
        + _section("Packages", html_table(packages))
    )
