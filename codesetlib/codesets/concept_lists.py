"""Concept lists that more than one part of the kit names, each written once.

A list that can be a codeset is one; these are the few that name the *parts* of a codeset's
definition, so that code elsewhere can say which rules they are: the teaching exercises grade a
learner's cancer codeset against them, and the North Central London reproduction's fault puts them
back into the cancer diagnosis codeset.
"""

from __future__ import annotations

# Non-melanoma skin cancer as the QOF cancer register leaves it out: basal cell, (cutaneous)
# squamous cell and basosquamous carcinoma of skin, and the Read-derived grouper that names only
# them. The cancer_diagnosis codeset excludes each with its descendants (rules R2-R5).
NON_MELANOMA_SKIN_CANCER: tuple[str, ...] = ("254701007", "254651007", "254702000", "269582000")
