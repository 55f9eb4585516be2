"""Teaching materials: a codeset builder behind the builder notebook, and graded "spot the error" exercises.

`counts` loads a dataset's events once and counts patients per code; `builder` holds the state of a
codeset being built (rules, decisions, the codes they give); `widgets` only wires ipywidgets to the
builder; `exercises` grades a learner's fix of each flawed codeset from the terminology.
"""

from codesetlib.core.errors import CodesetError


class BuilderError(CodesetError):
    """A builder action that cannot be done: an unknown rule, a codeset with no rules, a bad name."""


__all__ = ["BuilderError"]
