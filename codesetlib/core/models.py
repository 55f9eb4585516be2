"""The base of every model the kit reads from a user's file: strict and immutable.

A key the model does not know is refused rather than ignored, so that a misspelt field (`decsions:`)
is an error naming it instead of a setting silently lost; and a model once read cannot be changed in
place, so what was validated is what is used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that refuses unknown fields and is frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
