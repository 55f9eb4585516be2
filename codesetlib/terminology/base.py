"""The interface every coding system offers: look-up, hierarchy, search and history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codesetlib.errors import TerminologyError, UnknownCode


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


class MalformedRelease(TerminologyError):
    """A release whose files do not parse or break a rule of their format; names file, line and field."""


class MissingReleaseFile(MalformedRelease):
    """A release folder that lacks a file its format requires."""


class HierarchyCycle(MalformedRelease):
    """An is-a hierarchy in which a concept is its own ancestor."""


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

    def normalise(self, code: str) -> str:
        """The form of `code` the release stores; systems with several written forms override it."""
        return code

    def concept(self, code: str) -> Concept:
        """The concept for `code`; raises UnknownCode when the release does not contain it."""
        found = self.lookup(code)
        if found is None:
            raise UnknownCode(f"code {code} is not in {self.release.id}")
        return found

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
