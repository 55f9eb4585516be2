"""Table 1: the cohort described by age band, sex, ethnicity, deprivation and practice or borough.

Each variable's categories add up to the cohort, so each is protected as a table with a margin:
small counts are suppressed, and a second cell with them so that the total does not give them back.
"""

from __future__ import annotations

import pandas as pd

from codesetlib.core.disclosure import DisclosureSettings, protect_table

DEFAULT_VARIABLES = {
    "Age band (years)": "age_band",
    "Sex": "sex",
    "Ethnicity": "ethnicity",
    "Deprivation (IMD quintile, 1 = most deprived)": "imd_quintile",
    "Borough": "borough",
}


def table_one(
    cohort: pd.DataFrame,
    variables: dict[str, str] | None = None,
    settings: DisclosureSettings | None = None,
) -> pd.DataFrame:
    """Variable, category, patients (protected text) and % of the cohort, for each variable given.

    Missing values are counted as `Not recorded`; variables whose column is absent are skipped.
    """
    settings = settings or DisclosureSettings()
    variables = variables or DEFAULT_VARIABLES
    parts = []
    for label, column in variables.items():
        if column not in cohort.columns:
            continue
        values = cohort[column].astype("object").where(cohort[column].notna(), "Not recorded")
        counts = values.astype(str).value_counts().sort_index().to_frame("patients")
        shown = protect_table(counts, settings)
        total = pd.to_numeric(shown.loc["Total", "patients"], errors="coerce")
        shown = shown.drop(index="Total")["patients"]
        percent = (100 * pd.to_numeric(shown, errors="coerce") / total).round(1)
        parts.append(
            pd.DataFrame(
                {
                    "Variable": label,
                    "Category": shown.index,
                    "Patients": shown.to_numpy(),
                    "%": percent.to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
