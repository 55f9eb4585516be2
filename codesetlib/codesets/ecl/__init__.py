"""SNOMED CT Expression Constraint Language (ECL): read it, evaluate it against a release, and turn
codesets into ECL and back.

- `syntax`: the grammar (`ecl.lark`, from the specification's ABNF) and the syntax tree; what the kit
  does not evaluate is refused as an `EclError` naming its line and column.
- `evaluate`: the active codes an expression selects in a `Terminology`.
- `convert`: a codeset as one expression (`codeset_ecl`), one expression as rules or a new codeset
  (`rules_from_ecl`, `codeset_from_ecl`), and the ECL export and import (`export_ecl`, `import_ecl`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codesetlib.codesets.ecl.evaluate import EclEvaluator, evaluate_ecl
from codesetlib.codesets.ecl.syntax import EclError, format_ecl, parse_ecl

if TYPE_CHECKING:
    from codesetlib.codesets.ecl.convert import (
        codeset_ecl,
        codeset_from_ecl,
        export_ecl,
        import_ecl,
        rules_from_ecl,
    )

__all__ = [
    "EclError",
    "EclEvaluator",
    "codeset_ecl",
    "codeset_from_ecl",
    "evaluate_ecl",
    "export_ecl",
    "format_ecl",
    "import_ecl",
    "parse_ecl",
    "rules_from_ecl",
]

# The codeset model checks a rule's ECL with `syntax`, and `convert` builds on the model: `convert` is
# imported when one of its names is first asked for, so that importing the model does not need it.
_CONVERT = {"codeset_ecl", "codeset_from_ecl", "export_ecl", "import_ecl", "rules_from_ecl"}


def __getattr__(name: str) -> Any:
    if name in _CONVERT:
        return getattr(importlib.import_module("codesetlib.codesets.ecl.convert"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
