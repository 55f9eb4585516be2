"""Cohorts from codesets: the definition (data) kept apart from the engines that run it.

`model` holds the definition, `dates` its date arithmetic, `plan` compiles it to an Ibis plan,
`checks` refuses what cannot run; each engine lives in its own module.
"""

from codesetlib.cohorts.dates import Offset, add_offset, age_on
from codesetlib.cohorts.definition import CodeCohort
from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine
from codesetlib.cohorts.engines.pandas_reference import PandasReference
from codesetlib.cohorts.load import load_definition
from codesetlib.cohorts.model import (
    CodesetCodes,
    CohortDefinition,
    CohortRule,
    Criterion,
    IndexDate,
    Population,
    ValueFlag,
    Window,
    between,
    ever_before,
    within_after,
    within_before,
)

__all__ = [
    "CodeCohort",
    "CodesetCodes",
    "CohortDefinition",
    "CohortRule",
    "Criterion",
    "DuckDBEngine",
    "IndexDate",
    "Offset",
    "PandasReference",
    "Population",
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
