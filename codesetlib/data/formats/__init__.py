"""The kit's dataset in other standard shapes: an OMOP CDM 5.4 (`omop.write_omop`) and the tables
of ehrQL's core schema (`ehrql.write_ehrql`), each converted from a generated dataset by streaming
its Parquet tables (see `codesetlib/data/synthetic/SCHEMA.md`, "Other formats")."""

from codesetlib.data.formats.ehrql import write_ehrql
from codesetlib.data.formats.omop import write_omop
from codesetlib.data.formats.output import FormatWritten

__all__ = ["FormatWritten", "write_ehrql", "write_omop"]
