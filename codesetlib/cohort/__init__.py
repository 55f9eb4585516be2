"""Cohorts from codesets: the definition (data) kept apart from the engine that runs it."""

from codesetlib.cohort.definition import CodeCohort
from codesetlib.cohort.duckdb_engine import DuckDBEngine

__all__ = ["CodeCohort", "DuckDBEngine"]
