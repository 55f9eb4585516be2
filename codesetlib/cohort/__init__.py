"""Cohorts from codesets: the definition (data) kept apart from the engines that run it.

`model` holds the definition, `dates` its date arithmetic, `plan` compiles it to an Ibis plan,
`checks` refuses what cannot run; each engine lives in its own module.
"""

from codesetlib.cohort.dates import Offset, add_offset, age_on
from codesetlib.cohort.definition import CodeCohort
from codesetlib.cohort.duckdb_engine import DuckDBEngine
from codesetlib.cohort.load import load_definition
from codesetlib.cohort.model import (
    CodesetCodes,
    CohortDefinition,
    Criterion,
    IndexDate,
    Population,
    Rule,
    ValueFlag,
    Window,
    between,
    ever_before,
    within_after,
    within_before,
)
from codesetlib.cohort.pandas_reference import PandasReference

__all__ = [
    "CodeCohort",
    "CodesetCodes",
    "CohortDefinition",
    "Criterion",
    "DuckDBEngine",
    "IndexDate",
    "Offset",
    "PandasReference",
    "Population",
    "Rule",
    "ValueFlag",
    "Window",
    "add_offset",
    "age_on",
    "between",
    "ever_before",
    "load_definition",
    "within_after",
    "within_before",
]
