"""Statistical disclosure control for every aggregate the record shows.

Counts at or below a threshold are suppressed and the rest rounded to a base, so that no small number
of patients can be recognised from a published table. On by default; the settings travel with the
table so the record can state them.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

SUPPRESSED = "≤{threshold}"


class DisclosureSettings(BaseModel):
    """How aggregates are protected: suppress counts ≤ `threshold`, round the rest to `rounding`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    threshold: int = Field(default=7, ge=0)
    rounding: int = Field(default=5, ge=1)

    def describe(self) -> str:
        if not self.enabled:
            return "Disclosure control was switched OFF for this output: counts are exact."
        return (
            f"Counts of {self.threshold} or fewer are suppressed (shown as "
            f"'{SUPPRESSED.format(threshold=self.threshold)}'); other counts are rounded to the "
            f"nearest {self.rounding}."
        )


def protect_counts(
    table: pd.DataFrame, columns: list[str], settings: DisclosureSettings | None = None
) -> pd.DataFrame:
    """A copy of `table` with each count column suppressed and rounded as `settings` say.

    Protected columns become text so a suppressed cell reads as such rather than as a number.
    """
    settings = settings or DisclosureSettings()
    out = table.copy()
    if not settings.enabled:
        return out
    label = SUPPRESSED.format(threshold=settings.threshold)
    for column in columns:
        counts = out[column].astype("Int64")
        rounded = (counts / settings.rounding).round().astype("Int64") * settings.rounding
        shown = rounded.astype("string").where(counts > settings.threshold, label)
        out[column] = shown.where(counts > 0, "0")
    return out
