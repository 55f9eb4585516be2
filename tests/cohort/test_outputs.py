"""Attrition and Table 1 under disclosure control."""

from __future__ import annotations

import pandas as pd

from codesetlib.cohorts import CohortDefinition, DuckDBEngine
from codesetlib.cohorts.attrition import attrition_figure, protected_attrition
from codesetlib.cohorts.table1 import table_one
from codesetlib.core.disclosure import DisclosureSettings
from tests.spec import dataset
from tests.spec.attrition.test_steps import ATTRITION


def test_attrition_is_protected_and_drawn(tmp_path):
    engine = DuckDBEngine(dataset.write_tables(tmp_path))
    table = engine.attrition(CohortDefinition.model_validate(ATTRITION), dataset.CODESETS)
    shown = protected_attrition(table)
    assert set(shown["patients"]) == {"≤7"}
    figure = attrition_figure(shown, "Diabetes cohort")
    assert figure.axes[0].get_title() == "Diabetes cohort"
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "exclude metformin\nn = ≤7" in texts


def test_table_one_protects_each_variable_against_its_total():
    cohort = pd.DataFrame(
        {
            "sex": ["female"] * 30 + ["male"] * 25 + ["unknown"] * 3,
            "ethnicity": ["White"] * 40 + ["Asian"] * 12 + [None] * 6,
        }
    )
    table = table_one(
        cohort, {"Sex": "sex", "Ethnicity": "ethnicity"}, DisclosureSettings(rounding=1)
    )
    sex = table[table["Variable"] == "Sex"].set_index("Category")["Patients"]
    # 3 is suppressed; the next smallest (25) goes with it, or 58 − 30 − 25 would give it back.
    assert sex.to_dict() == {"female": "30", "male": "[c]", "unknown": "≤7"}
    ethnicity = table[table["Variable"] == "Ethnicity"].set_index("Category")
    assert ethnicity.loc["Not recorded", "Patients"] == "≤7"
    assert ethnicity.loc["White", "%"] == round(100 * 40 / 58, 1)
