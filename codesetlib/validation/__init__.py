"""Validation of a codeset: accuracy against a known truth, and what real data show without one
(usage, orphan codes, trends, anomalies, release drift), with the tables the record shows."""
