"""The interface every coding system offers: look-up, hierarchy, search and history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codesetlib.core.errors import TerminologyError, UnknownCode


@dataclass(frozen=True)
class Release:
    """The identity of one release of a coding system: which system, which edition, which date."""

    system: str
    edition: str
    version: str
    path: Path

    @property
    def id(self) -> str:
        """A stable identifier such as `snomedct-teaching-20240401`, used by codesets to pin a release."""
        return f"{self.system}-{self.edition.lower()}-{self.version}"


@dataclass(frozen=True)
class Concept:
    """One code of a release with its preferred term and whether it is active in that release."""

    code: str
    term: str
    active: bool
    system: str
    release: str
    fully_specified_name: str | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One dated change to a concept: its status (`change` is `active` or `inactive`), or a historical
    association to `target` (`change` is e.g. `REPLACED_BY`) made or, `withdrawn`, taken back."""

    date: str
    change: str
    target: str | None = None
    withdrawn: bool = False


class MalformedRelease(TerminologyError):
    """A release whose files do not parse or break a rule of their format; names file, line and field."""


class MissingReleaseFile(MalformedRelease):
    """A release folder that lacks a file its format requires."""


class HierarchyCycle(MalformedRelease):
    """An is-a hierarchy in which a concept is its own ancestor."""


class InvalidIdentifier(TerminologyError):
    """A code that cannot be a code of the coding system at all (wrong form or check digit)."""


class ReleaseSkipped(UserWarning):
    """A folder on the release search path that looks like a release but cannot be opened."""


class Terminology(ABC):
    """A loaded release of a coding system. Subclasses load one system's release format."""

    release: Release

    @property
    def system(self) -> str:
        return self.release.system

    @abstractmethod
    def lookup(self, code: str) -> Concept | None:
        """The concept for `code`, or None when the release does not contain it."""

    @abstractmethod
    def parents(self, code: str) -> frozenset[str]:
        """Direct parents of `code` through active is-a relationships."""

    @abstractmethod
    def children(self, code: str) -> frozenset[str]:
        """Direct children of `code` through active is-a relationships."""

    @abstractmethod
    def search(self, text: str, *, include_inactive: bool = False) -> list[Concept]:
        """Concepts whose terms or synonyms contain every word of `text` (case-insensitive)."""

    @abstractmethod
    def replacements(self, code: str) -> dict[str, frozenset[str]]:
        """For an inactive concept, its historical associations: association name → target codes."""

    @abstractmethod
    def codes(self) -> Iterable[str]:
        """Every code in the release, active or not."""

    @abstractmethod
    def code_problem(self, code: str) -> str | None:
        """Why `code` is not a well-formed code of this coding system (None when it is)."""

    def refsets(self) -> dict[str, str]:
        """The reference sets of the release, refset id → its term; systems without refsets have none."""
        return {}

    def refset_members(self, refset_id: str) -> frozenset[str]:
        """The active members of a reference set; a release without that refset is an error."""
        raise TerminologyError(f"{self.release.id} has no reference set {refset_id}")

    def with_attribute(self, types: Iterable[str], values: Iterable[str]) -> frozenset[str]:
        """Concepts with an active relationship of one of `types` to one of `values` (for ECL
        refinements); systems without attribute relationships have none."""
        return frozenset()

    def attribute_values(self, codes: Iterable[str], types: Iterable[str]) -> frozenset[str]:
        """The destinations of the active relationships of one of `types` from `codes` (ECL's dotted
        and reverse forms); systems without attribute relationships have none."""
        return frozenset()

    def inactivated_on(self, code: str) -> str | None:
        """The date (YYYYMMDD) from which `code` has been inactive, None for an active or unknown code
        or a system that does not say."""
        return None

    def history(self, code: str) -> list[HistoryEvent]:
        """The dated changes to `code` the release records, oldest first (empty where it records none)."""
        return []

    def normalise(self, code: str) -> str:
        """The form of `code` the release stores; systems with several written forms override it."""
        return code

    def concept(self, code: str) -> Concept:
        """The concept for `code`; raises InvalidIdentifier for a code of the wrong form (a bad check
        digit is a typing error, not a missing concept) and UnknownCode when the release lacks it."""
        found = self.lookup(code)
        if found is None:
            raise self.missing(code)
        return found

    def missing(
        self, code: str, named: str | None = None, *, field: str | None = None
    ) -> TerminologyError:
        """The error for a code the release does not hold, saying whether it could be a code at all;
        `named` is how the message names the code (e.g. with the term a rule gives it)."""
        problem = self.code_problem(code)
        if problem is not None:
            return InvalidIdentifier(
                f"{code} is not a valid {self.system} code: {problem}", field=field
            )
        return UnknownCode(f"{named or 'code ' + code} is not in {self.release.id}", field=field)

    def descendants_of(self, code: str) -> frozenset[str]:
        """Every concept below `code` in the is-a hierarchy (transitive, all parents followed)."""
        return self._walk(code, self.children)

    def ancestors_of(self, code: str) -> frozenset[str]:
        """Every concept above `code` in the is-a hierarchy (transitive, all parents followed)."""
        return self._walk(code, self.parents)

    def _walk(self, code: str, step) -> frozenset[str]:
        self.concept(code)
        seen: set[str] = set()
        queue = deque([code])
        while queue:
            for nxt in step(queue.popleft()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        seen.discard(code)
        return frozenset(seen)
