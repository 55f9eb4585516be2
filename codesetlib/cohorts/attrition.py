"""The attrition of a cohort: patients after each step, as a protected table and a flow chart."""

from __future__ import annotations

import textwrap

import pandas as pd
from matplotlib.figure import Figure

from codesetlib.core.disclosure import DisclosureSettings, protect_counts


def protected_attrition(
    table: pd.DataFrame, settings: DisclosureSettings | None = None
) -> pd.DataFrame:
    """The attrition table with patients and exclusions suppressed and rounded."""
    return protect_counts(table, ["patients", "excluded"], settings)


def attrition_figure(table: pd.DataFrame, title: str = "Cohort attrition") -> Figure:
    """A flow chart: one box per step with the patients remaining, exclusions to the side."""
    steps = len(table)
    figure = Figure(figsize=(7, 1.2 * steps + 0.6))
    axes = figure.add_subplot()
    axes.set(xlim=(0, 10), ylim=(-steps, 0.8), title=textwrap.fill(title, 64))
    axes.axis("off")
    box = {"boxstyle": "round", "facecolor": "white", "edgecolor": "black"}
    for i, row in enumerate(table.itertuples()):
        y = -i
        axes.text(
            3.5, y, f"{row.description}\nn = {row.patients}", ha="center", va="center", bbox=box
        )
        if i:
            axes.annotate(
                "", xy=(3.5, y + 0.3), xytext=(3.5, y + 0.7), arrowprops={"arrowstyle": "->"}
            )
            axes.text(
                8, y + 0.5, f"excluded: {row.excluded}", ha="center", va="center", fontsize="small"
            )
    figure.tight_layout()
    return figure
