"""Pages the record generates from the repository: provenance, and the atomic write every page uses.

The codeset cards are in `codesetlib.record.book.cards`.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from codesetlib.core.atomic import write_text
from codesetlib.record.book.tables import html_table


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n\n"


def _table(frame: pd.DataFrame, empty: str) -> str:
    return html_table(frame) if len(frame) else f"*{empty}*"


def write_page(path: Path, text: str) -> Path:
    """Write a generated page atomically, leaving an unchanged page untouched (for fast rebuilds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    return write_text(path, text)


def _code(value: object) -> str:
    """A value to copy whole (a hash, a parameter), escaped, in a <code> the stylesheet wraps
    anywhere rather than clipping."""
    return f'<code class="provenance-value">{html.escape(str(value))}</code>'


def _provenance_table(rows: list[dict[str, str]]) -> str:
    """Rows whose values are HTML already (text escaped, values to copy in `_code`) as a table."""
    frame = pd.DataFrame(rows)
    return frame.to_html(index=False, border=0, classes="codeset-table", escape=False)


def provenance_page(manifest: dict) -> str:
    """The provenance manifest as a page: what this build was made from, every hash whole and every
    parameter shown. It shows nothing that differs between two builds of the same inputs (when they
    ran, how long each notebook took, whether it was reused), so such builds give the same page."""
    text = html.escape
    git = manifest["git"]
    commit = _code(git["commit"]) + (" (with uncommitted changes)" if git["dirty"] else "")
    build = [
        {"Item": "Study", "Value": _code(manifest["study"])},
        {"Item": "Commit", "Value": commit},
        {"Item": "Python", "Value": text(manifest["python"])},
        {"Item": "Seed", "Value": _code(manifest["seed"])},
        {"Item": "Index date", "Value": _code(manifest["index_date"])},
        {"Item": "Disclosure control", "Value": text(manifest["disclosure"])},
    ]
    dataset = manifest["dataset"]
    dataset_section = (
        _source_section(dataset) if "source" in dataset else _generated_section(dataset)
    )
    codesets = [
        {
            "Codeset": text(k),
            "Version": text(v["version"]),
            "Release": text(v["release"]),
            "Content hash": _code(v["content_hash"]),
        }
        for k, v in manifest["codesets"].items()
    ]
    notebooks = "".join(
        f"### {text(name)}\n\n"
        + _provenance_table(
            [
                {"Item": "Notebook", "Value": _code(run["path"])},
                {"Item": "Inputs hash", "Value": _code(run["inputs_hash"])},
                *(
                    {"Item": f"Parameter {text(k)}", "Value": _code(repr(v))}
                    for k, v in sorted(run["parameters"].items())
                ),
            ]
        )
        + "\n\n"
        for name, run in manifest["notebooks"].items()
    )
    packages = [
        {"Package": text(k), "Version": text(v)} for k, v in sorted(manifest["packages"].items())
    ]
    return (
        "# Provenance\n\nWhat this build of the record was made from: the same inputs build the "
        "same pages. The manifest is also written to `generated/provenance.json`, with how long "
        "each notebook took and whether it was run again or reused.\n\n"
        + _section("Build", _provenance_table(build))
        + dataset_section
        + _section("Codesets", _provenance_table(codesets))
        + _section(
            "Notebooks",
            "Each notebook's inputs hash covers the content of everything it reads: the notebook, "
            "its parameters, the files and folders they name (cohort files, reference tables, "
            "calibrations, the codesets with every archived version), the study's settings, the "
            "codesets' content hashes, the dataset's manifest, the Python and package versions, "
            "and the kit's source with the releases it ships. A notebook whose inputs hash is "
            "unchanged is not run again. Each ran with the parameters listed, as Python "
            "values.\n\n" + notebooks,
        )
        + _section("Packages", _provenance_table(packages))
    )


def _generated_section(dataset: dict) -> str:
    """The provenance of a generated dataset: its manifest, parameters, input files and tables."""
    text = html.escape
    about = [
        {"Item": "Folder", "Value": _code(dataset["path"])},
        {"Item": "Manifest SHA-256", "Value": _code(dataset["manifest_sha256"])},
        {"Item": "Schema version", "Value": text(str(dataset["schema_version"]))},
    ]
    parameters = [
        {"Parameter": text(name), "Value": "not set" if value is None else _code(value)}
        for name, value in sorted(dataset["parameters"].items())
    ]
    inputs = [
        {"Input": text(name), "File": _code(entry["path"]), "SHA-256": _code(entry["sha256"])}
        for name, entry in dataset["inputs"].items()
    ]
    tables = [
        {"Table": text(name), "SHA-256": _code(sha256)}
        for name, sha256 in dataset["tables"].items()
    ]
    return _section(
        "Dataset",
        "The synthetic dataset, generated from the parameters and files below; its manifest "
        "records them with a hash of each table it wrote.\n\n"
        + _provenance_table(about)
        + "\n\n### Generator parameters\n\n"
        + _provenance_table(parameters)
        + "\n\n### Input files\n\n"
        + _provenance_table(inputs)
        + "\n\n### Tables\n\n"
        + _provenance_table(tables),
    )


def _source_section(dataset: dict) -> str:
    """The provenance of a source the study read as it is: where, what kind, its files' hashes (a
    database is fixed by its counts instead) and its tables' rows as the record may show them."""
    text = html.escape
    about = [
        {"Item": "Source", "Value": _code(dataset["source"])},
        {"Item": "Kind", "Value": text(dataset["kind"])},
        *(
            {"Item": text(str(k).replace("_", " ")), "Value": text(str(v))}
            for k, v in sorted(dataset.get("details", {}).items())
            if k != "kind" and isinstance(v, str | int | float)
        ),
    ]
    tables = [
        {
            "Table": text(name),
            "Rows": text(str(entry["rows_shown"])),
            "First date": text(str(entry.get("first") or "")),
            "Last date": text(str(entry.get("last") or "")),
        }
        for name, entry in sorted(dataset["tables"].items())
    ]
    files = dataset.get("files")
    fixed = (
        "### Files\n\n"
        + _provenance_table(
            [{"File": _code(name), "SHA-256": _code(sha)} for name, sha in sorted(files.items())]
        )
        if files
        else "A database has no files to hash: the run cache takes it as unchanged while its "
        "tables' rows and date spans are."
    )
    notes = dataset.get("notes") or ["none"]
    return _section(
        "Dataset",
        "Data the study read as they are, through the kit's data-source layer.\n\n"
        + _provenance_table(about)
        + "\n\n### Tables\n\n"
        + _provenance_table(tables)
        + "\n\n### Left out on the way in\n\n"
        + "\n".join(f"- {text(note)}" for note in notes)
        + "\n\n"
        + fixed,
    )
