"""A Sphinx extension for the record: each page loads each script once.

sphinx-thebe (which Jupyter Book always loads) registers its configuration script once per read of
the environment, so a page could declare `THEBE_JS_URL` twice and log an error in the browser. Keeping
the first of identical scripts leaves every page's behaviour as it was, without the error.
"""

from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # A script given only by its body has filename None or "", depending on who added it.
    return (
        getattr(script, "filename", str(script)) or "",
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def keep_first_of_each_script(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Drop repeated scripts from the page's script list."""
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    # Run after the theme and other extensions have added their scripts.
    app.connect("html-page-context", keep_first_of_each_script, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
