"""Read a cohort definition from YAML, so that errors name its file, line and field."""

from __future__ import annotations

from pathlib import Path

from codesetlib.cohorts.model import CohortDefinition
from codesetlib.core.errors import CohortError
from codesetlib.core.yamlfile import read_yaml, validate_yaml


def load_definition(path: str | Path) -> CohortDefinition:
    """The definition in `path`, validated; it remembers its file and lines for later errors."""
    path = Path(path)
    definition = validate_yaml(path, CohortDefinition, CohortError)
    _, tree = read_yaml(path, CohortError)
    return definition.located(path, tree)
