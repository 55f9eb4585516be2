"""One exception family for every user-facing error the kit raises.

Each error carries where it happened (a file, and a line, row or field when known) so that the CLI can
print one clear line and exit non-zero without a traceback. What the file system refuses is said in
words by `file_problem`, the same for every reader and writer.
"""

from __future__ import annotations

from pathlib import Path

# The reasons a user meets most often, said as a user would say them.
COMMON_FILE_PROBLEMS: tuple[tuple[type[OSError], str], ...] = (
    (FileNotFoundError, "file not found"),
    (IsADirectoryError, "is a folder, not a file"),
    (NotADirectoryError, "a folder on its path is a file"),
    (PermissionError, "permission denied"),
)


def file_problem(error: OSError, *, writing: bool = False) -> str:
    """Why a file could not be read (or, `writing`, written), in a user's words rather than Python's
    `[Errno n] ...`: a common reason as a user would say it, any other in the system's words."""
    common = next((words for kind, words in COMMON_FILE_PROBLEMS if isinstance(error, kind)), None)
    reason = error.strerror or str(error)
    if writing:
        return f"cannot write: {common or reason.lower()}"
    return common or f"cannot be read ({reason})"


class CodesetError(Exception):
    """A user error: bad input, an unknown name, a file that does not parse."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self.location_message())

    def location_message(self) -> str:
        """The message prefixed with `file:line: field:` where each is known."""
        where = ""
        if self.path:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        prefix = f"{where}: " if where else ""
        field = f"{self.field}: " if self.field else ""
        return f"{prefix}{field}{self.message}"

    def located(self, path: str | Path) -> CodesetError:
        """This error naming `path` when it names no file of its own: a rule's error is raised where
        the file is not known, and named by the file the rule is in by whoever read it."""
        if self.path is None:
            self.path = str(path)
            self.args = (self.location_message(),)
        return self


class CodesetFormatError(CodesetError):
    """A codeset file that is not valid YAML or does not match the codeset model."""


class CodesetNotFound(CodesetError):
    """A codeset id that names no folder under the codesets directory."""


class TerminologyError(CodesetError):
    """A terminology release that cannot be found or read."""


class UnknownCode(TerminologyError):
    """A code that is not in the terminology release."""


class DatasetError(CodesetError):
    """A dataset that is missing, malformed or lacks a required table or column."""


class CohortError(CodesetError):
    """A cohort definition that cannot run: bad dates, unknown codesets, missing columns."""


class StudyError(CodesetError):
    """A study configuration that is invalid or names something that does not exist."""
