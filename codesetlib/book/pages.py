"""Pages the record generates from the repository: provenance, and the atomic write every page uses.

The codeset cards are in `codesetlib.book.cards`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from codesetlib.book.tables import html_table


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n\n"


def _table(frame: pd.DataFrame, empty: str) -> str:
    return html_table(frame) if len(frame) else f"*{empty}*"


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
