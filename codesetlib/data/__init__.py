"""Data the cohorts run on: the synthetic generator with its ground truth, and the dataset manifest
every reader checks."""
