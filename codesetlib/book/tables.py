"""Tables for the record as plain HTML: no index, count columns declared for the disclosure scan."""

from __future__ import annotations

import html

import pandas as pd


def html_table(table: pd.DataFrame, count_columns: tuple[str, ...] | list[str] = ()) -> str:
    """`table` as HTML without its index; `count_columns` are named for the disclosure scan."""
    text = table.to_html(index=False, border=0, classes="codeset-table", na_rep="", escape=True)
    if count_columns:
        declared = html.escape("|".join(count_columns))
        text = text.replace("<table ", f'<table data-count-columns="{declared}" ', 1)
    return text


def sql_block(sql: str, summary: str = "The SQL that ran") -> str:
    """SQL as a collapsible, escaped block (DuckDB syntax that highlighters do not know stays readable)."""
    return (
        f'<details class="codeset-sql"><summary>{html.escape(summary)}</summary>'
        f"<pre><code>{html.escape(sql)}</code></pre></details>"
    )
