"""Synthetic primary-care EHR data with a known ground truth (see SCHEMA.md)."""

from codesetlib.data.synthetic.generate import generate_dataset, read_manifest
from codesetlib.data.synthetic.params import SynthParams, load_params

__all__ = ["SynthParams", "generate_dataset", "load_params", "read_manifest"]
