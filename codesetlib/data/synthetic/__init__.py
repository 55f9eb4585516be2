"""Synthetic primary-care EHR data with a known ground truth (see SCHEMA.md).

The generator is imported when first asked for, so that reading a dataset's manifest does not load
it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codesetlib.data.synthetic.generate import generate_dataset, read_manifest
    from codesetlib.data.synthetic.params import SynthParams, load_params

__all__ = ["SynthParams", "generate_dataset", "load_params", "read_manifest"]

_HOMES = {
    "generate_dataset": "codesetlib.data.synthetic.generate",
    "read_manifest": "codesetlib.data.synthetic.generate",
    "SynthParams": "codesetlib.data.synthetic.params",
    "load_params": "codesetlib.data.synthetic.params",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
