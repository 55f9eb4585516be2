"""Tables for the record as plain HTML: no index, count and derived columns declared for the scan."""

from __future__ import annotations

import html
import json

import pandas as pd


def html_table(
    table: pd.DataFrame,
    count_columns: tuple[str, ...] | list[str] = (),
    reference_columns: tuple[str, ...] | list[str] = (),
) -> str:
    """`table` as HTML without its index, with what the disclosure scan needs to check it.

    `count_columns` (and the frame's `attrs["count_columns"]`) are counts under control; the frame's
    `attrs["derived"]` says how each derived column follows from counts in its row (see
    `codesetlib.core.disclosure.Derived`); `reference_columns` hold figures not computed from the study's
    data (published values), which the scan leaves alone.
    """
    text = table.to_html(index=False, border=0, classes="codeset-table", na_rep="", escape=True)
    counts = [*count_columns, *table.attrs.get("count_columns", [])]
    attributes = []
    if counts:
        attributes.append(f'data-count-columns="{html.escape("|".join(dict.fromkeys(counts)))}"')
    derived = table.attrs.get("derived", {})
    if derived:
        declared = {column: d.as_json() for column, d in derived.items() if column in table}
        attributes.append(f'data-derived="{html.escape(json.dumps(declared, sort_keys=True))}"')
    references = [*reference_columns, *table.attrs.get("reference_columns", [])]
    if references:
        attributes.append(f'data-reference-columns="{html.escape("|".join(references))}"')
    if attributes:
        text = text.replace("<table ", f"<table {' '.join(attributes)} ", 1)
    return text


def sql_block(sql: str, summary: str = "The SQL that ran") -> str:
    """SQL as a collapsible, escaped block (DuckDB syntax that highlighters do not know stays readable)."""
    return (
        f'<details class="codeset-sql"><summary>{html.escape(summary)}</summary>'
        f"<pre><code>{html.escape(sql)}</code></pre></details>"
    )
