"""Page titles that name their subject: a parameterised notebook says what it is about once it knows.

A notebook run twice with different parameters would otherwise give two pages of the same title. The
notebook calls `page_title` when it has loaded its subject; after the run, `apply_page_title` puts that
title in the page's first heading (which the book uses for the navigation and the browser tab) and
drops the marker output.
"""

from __future__ import annotations

import json
from pathlib import Path

MARKER = "codesetlib_page_title"


def page_title(title: str) -> None:
    """Mark the title of the page this notebook becomes (an output with no visible content)."""
    from IPython.display import display

    display({"text/markdown": ""}, raw=True, metadata={MARKER: title})


def apply_page_title(path: Path) -> str | None:
    """Set the first heading of an executed notebook to the title it marked; return the title."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    title = None
    for cell in notebook["cells"]:
        outputs = cell.get("outputs", [])
        kept = [o for o in outputs if MARKER not in o.get("metadata", {})]
        for output in outputs:
            title = output.get("metadata", {}).get(MARKER, title)
        if len(kept) != len(outputs):
            cell["outputs"] = kept
    if title is None:
        return None
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = "".join(cell["source"]).split("\n")
        if lines and lines[0].startswith("# "):
            lines[0] = f"# {title}"
            cell["source"] = "\n".join(lines)
            break
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return title
