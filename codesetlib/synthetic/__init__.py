"""Synthetic primary-care EHR data with a known ground truth."""

from codesetlib.synthetic.generate import SynthParams, generate_dataset, read_manifest

__all__ = ["SynthParams", "generate_dataset", "read_manifest"]
