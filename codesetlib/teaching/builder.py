"""The state of a codeset being built by hand: search, browse, rules, decisions, codes and counts.

`CodesetBuilder` is a plain class so that everything the builder notebook does can be tested without a
browser or a kernel; the widgets in `codesetlib.teaching.widgets` only call its methods and show the
tables it returns. Codes come from `expand_rules`, the same expansion every codeset in the kit uses, and
a saved draft is an ordinary codeset folder (`codeset.yaml` + `codes.csv`).

Whatever a learner asks that cannot be done (an unknown or inactive concept, a rule that would change
nothing, a draft without an id, a title or a purpose) is refused with a `BuilderError` saying why in
words, and leaves the draft as it was.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
from pydantic import ValidationError

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.files import CODES_FILE, CODESET_FILE, load_codeset, write_codes
from codesetlib.codesets.interchange import new_codeset, write_codeset
from codesetlib.codesets.model import CODESET_ID, CodeRow, Codeset, CodesetRule, Decision
from codesetlib.codesets.usage import load_usage, usage_by_year
from codesetlib.core import atomic
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.errors import CodesetError
from codesetlib.core.paths import resolve
from codesetlib.record.codeset_review_page import rules_table
from codesetlib.teaching import BuilderError
from codesetlib.teaching.counts import PatientCounter
from codesetlib.terminology import Concept, Terminology, open_release

Action = Literal["include", "exclude"]
DecisionKind = Literal["include", "exclude", "review"]
COUNT_COLUMNS = ["Patients", "Events"]
DEFAULT_AUTHOR = "Codeset builder user"
DRAFT_PURPOSE = "Draft built in the codeset builder; state the codeset's purpose before review."


def rule_from(**fields: Any) -> CodesetRule:
    """A rule from its fields, refusing one the codeset model refuses in words (never a traceback)."""
    action = fields.get("action")
    if action not in get_args(Action):
        raise BuilderError(f"'{action}' is not a rule action: a rule includes or excludes")
    try:
        return CodesetRule(**fields)
    except ValidationError as exc:
        raise BuilderError(f"cannot make that rule: {in_words(exc)}") from None


def in_words(exc: ValidationError) -> str:
    """The first problem of a model's validation, as `field: what is wrong` without pydantic's links."""
    first = exc.errors()[0]
    field = ".".join(str(k) for k in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def missing_details(codeset_id: str, title: str, purpose: str) -> list[str]:
    """Which of a draft's id, title and purpose are blank, in words ("an id", "a title", ...)."""
    given = {"an id": codeset_id, "a title": title, "a purpose": purpose}
    return [name for name, value in given.items() if not (value or "").strip()]


def require_details(codeset_id: str, title: str, purpose: str) -> None:
    """Refuse a draft whose id, title or purpose is blank, naming each that is, or whose id is not
    a codeset id (so that it names a folder inside the drafts folder, never one elsewhere)."""
    missing = missing_details(codeset_id, title, purpose)
    if missing:
        raise BuilderError(
            f"a draft is saved with an id, a title and a purpose: give it {and_list(missing)}"
        )
    check_codeset_id(codeset_id)


def check_codeset_id(codeset_id: str) -> None:
    """Refuse what is not a codeset id, saying what one is."""
    if not re.fullmatch(CODESET_ID, codeset_id):
        raise BuilderError(
            f"'{codeset_id}' is not a codeset id: use lower-case letters, digits and "
            "underscores, starting with a letter or a digit (e.g. lung_cancer_draft)"
        )


def and_list(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def why_not_a_builder_draft(folder: Path) -> str | None:
    """None when `folder` holds only a draft codeset (its `codeset.yaml` and `codes.csv`) named by the
    folder, as the builder saves one; otherwise why it is not one, so that it is never replaced."""
    if not folder.is_dir() or folder.is_symlink():
        return "exists and is not a folder"
    others = sorted(p.name for p in folder.iterdir() if p.name not in (CODESET_FILE, CODES_FILE))
    if others:
        return f"holds files the builder did not write ({', '.join(others[:3])})"
    try:
        codeset = load_codeset(folder)
    except CodesetError:
        return "holds no codeset the builder can read"
    if codeset.status != "draft" or codeset.id != folder.name:
        return f"holds a codeset that is not a draft named {folder.name}"
    return None


def concepts_table(concepts: Iterable[Concept]) -> pd.DataFrame:
    """Concepts as a table: code, term, fully specified name and whether active, with their
    national usage per year when usage files of their coding system are loaded."""
    concepts = list(concepts)
    table = pd.DataFrame(
        [
            {
                "Code": c.code,
                "Term": c.term,
                "Fully specified name": c.fully_specified_name or "",
                "Active": "yes" if c.active else "no",
            }
            for c in concepts
        ],
        columns=["Code", "Term", "Fully specified name", "Active"],
    )
    return with_national_usage(table, concepts[0].system) if concepts else table


def with_national_usage(table: pd.DataFrame, system: str) -> pd.DataFrame:
    """`table` with a `Usage <year>` column per loaded year of `system`, matched on its `Code`
    column: NHS England's published national counts (`codesetlib.codesets.usage`), shown as
    published and not protected again; `table` as it was when no usage file of `system` is loaded."""
    index = load_usage()
    if not index.loaded(system) or not len(table):
        return table
    return table.merge(usage_by_year(table["Code"], system, index), on="Code", how="left")


class CodesetBuilder:
    """A draft codeset: ordered rules over one terminology release, decisions, and live counts.

    `counter` (optional) counts the patients each code finds in a dataset; without it the builder
    still gives codes but no counts.
    """

    def __init__(
        self,
        terminology: Terminology,
        counter: PatientCounter | None = None,
        *,
        author: str = DEFAULT_AUTHOR,
        disclosure: DisclosureSettings | None = None,
        rules: Iterable[CodesetRule] = (),
        decisions: Iterable[Decision] = (),
    ) -> None:
        self.terminology = terminology
        self.counter = counter
        self.author = author
        self.disclosure = disclosure or DisclosureSettings()
        self.rules: list[CodesetRule] = list(rules)
        self.decisions: list[Decision] = list(decisions)
        self.selected: Concept | None = None
        self._last_rule_number = 0
        # Folders this builder saved: saving again replaces them; any other folder is never replaced.
        self.saved: set[Path] = set()

    @classmethod
    def open(
        cls,
        release: str,
        dataset_dir: str | Path | None = None,
        *,
        index_date: str | dt.date | None = None,
        **options,
    ) -> CodesetBuilder:
        """A builder on the release with id `release`, counting patients in `dataset_dir` if given."""
        counter = PatientCounter.from_dataset(dataset_dir, index_date) if dataset_dir else None
        return cls(open_release(release), counter, **options)

    @classmethod
    def from_codeset(
        cls, codeset: Codeset, counter: PatientCounter | None = None
    ) -> CodesetBuilder:
        """A builder that starts from an existing codeset's release, rules and decisions."""
        return cls(
            open_release(codeset.terminology_release),
            counter,
            rules=codeset.rules,
            decisions=codeset.decisions,
        )

    # Browsing the terminology.

    def search(self, text: str, limit: int = 50) -> list[Concept]:
        """Active concepts whose terms contain every word of `text`, by term, at most `limit`."""
        if len(text.strip()) < 2:
            return []
        found = sorted(self.terminology.search(text), key=lambda c: c.term.lower())
        return found[:limit]

    def select(self, code: str) -> Concept:
        """Make `code` the selected concept (the one parents, children and rules default to)."""
        self.selected = self.terminology.concept(code.strip())
        return self.selected

    def concept(self, code: str | None = None) -> Concept:
        """The concept `code`, or the selected one; refuses when neither is given."""
        if code is not None:
            return self.terminology.concept(code.strip())
        if self.selected is None:
            raise BuilderError("no concept is selected: search for one and select it first")
        return self.selected

    def parents(self, code: str | None = None) -> list[Concept]:
        """Direct parents of `code` (default: the selected concept), by term."""
        return self._concepts(self.terminology.parents(self.concept(code).code))

    def children(self, code: str | None = None) -> list[Concept]:
        """Direct children of `code` (default: the selected concept), by term."""
        return self._concepts(self.terminology.children(self.concept(code).code))

    def _concepts(self, codes: Iterable[str]) -> list[Concept]:
        return sorted((self.terminology.concept(c) for c in codes), key=lambda c: c.term.lower())

    # Rules and decisions.

    def include(
        self, code: str | None = None, descendants: bool = True, note: str | None = None
    ) -> CodesetRule:
        """Add a rule including `code` (default: the selected concept), with its descendants or not."""
        return self._concept_rule("include", code, descendants, note)

    def exclude(
        self, code: str | None = None, descendants: bool = True, note: str | None = None
    ) -> CodesetRule:
        """Add a rule excluding `code` (default: the selected concept), with its descendants or not."""
        return self._concept_rule("exclude", code, descendants, note)

    def include_search(
        self, text: str, within: str | None = None, note: str | None = None
    ) -> CodesetRule:
        """Add a rule including active concepts whose terms contain every word of `text`.

        `within` limits the search to a concept and its descendants.
        """
        return self._search_rule("include", text, within, note)

    def exclude_search(
        self, text: str, within: str | None = None, note: str | None = None
    ) -> CodesetRule:
        """Add a rule excluding active concepts whose terms contain every word of `text`."""
        return self._search_rule("exclude", text, within, note)

    def _concept_rule(
        self, action: Action, code: str | None, descendants: bool, note: str | None
    ) -> CodesetRule:
        concept = self.concept(code)
        if action == "include" and not concept.active:
            raise BuilderError(self._inactive(concept))
        rule = rule_from(
            id=self.next_rule_id(),
            action=action,
            concept=concept.code,
            term=concept.term,
            descendants=descendants,
            note=note or None,
        )
        return self._add(rule)

    def _inactive(self, concept: Concept) -> str:
        targets = self.terminology.replacements(concept.code)
        instead = "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(targets.items()))
        return f"{concept.code} |{concept.term}| is inactive in {self.terminology.release.id}: " + (
            f"include its replacement instead ({instead})" if instead else "find a current one"
        )

    def _search_rule(
        self, action: Action, text: str, within: str | None, note: str | None
    ) -> CodesetRule:
        text = " ".join(text.split())
        if len(text) < 2:
            raise BuilderError("a search rule needs at least two characters to search for")
        within = self.concept(within).code if within else None
        rule = rule_from(
            id=self.next_rule_id(), action=action, search=text, within=within, note=note or None
        )
        return self._add(rule)

    def _add(self, rule: CodesetRule) -> CodesetRule:
        """Add `rule` at the end, refusing (and leaving the rules as they were) one that would change
        nothing: a search that finds no concept, an include of codes already included, an exclude of
        codes that are not included. `codeset lint` warns of such rules in a saved codeset."""
        self.rules.append(rule)
        try:
            effect = self.expansion().effects[-1]
        except CodesetError:
            self.rules.pop()
            raise
        if not (effect.added or effect.removed):
            self.rules.pop()
            raise BuilderError(self._no_effect(rule, bool(effect.matched)))
        self._last_rule_number = int(rule.id[1:])
        return rule

    def _no_effect(self, rule: CodesetRule, matched: bool) -> str:
        what = f"{rule.action} {rule.target}"
        if not matched:
            return f"{what} would change nothing: the search finds no active concept"
        if rule.action == "include":
            return f"{what} would change nothing: its codes are already included"
        if not any(r.action == "include" for r in self.rules):
            return f"{what} would change nothing: nothing is included yet to exclude it from"
        return (
            f"{what} would change nothing: none of its codes is in the codeset "
            "(it is not included, or is already excluded)"
        )

    def next_rule_id(self) -> str:
        """`R<n>`, n one more than any rule number used so far: a removed rule's id is not reused,
        so a decision written about it cannot come to mean another rule."""
        numbers = [int(m.group(1)) for r in self.rules if (m := re.fullmatch(r"R(\d+)", r.id))]
        return f"R{max(*numbers, self._last_rule_number, 0) + 1}"

    def rule(self, rule_id: str) -> CodesetRule:
        """The rule with id `rule_id`; refuses an unknown id, naming those there are."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        known = ", ".join(r.id for r in self.rules) or "none"
        raise BuilderError(f"no rule {rule_id} (rules: {known})")

    def remove_rule(self, rule_id: str) -> CodesetRule:
        """Remove a rule, and the decisions about it."""
        rule = self.rule(rule_id)
        self.rules.remove(rule)
        self.decisions = [d for d in self.decisions if d.about != rule_id]
        return rule

    def decide(
        self,
        rule_id: str,
        rationale: str,
        decision: DecisionKind | None = None,
        *,
        today: dt.date | None = None,
    ) -> Decision:
        """Record why a rule is as it is (replacing an earlier decision about it).

        The decision defaults to the rule's own action; pass "review" to mark it as still open.
        """
        rule = self.rule(rule_id)
        if not rationale.strip():
            raise BuilderError(f"a decision about {rule_id} needs a rationale")
        if decision is not None and decision not in get_args(DecisionKind):
            raise BuilderError(
                f"'{decision}' is not a decision: decide to include, exclude or review {rule_id}"
            )
        recorded = Decision(
            about=rule.id,
            decision=decision or rule.action,
            rationale=rationale.strip(),
            by=self.author,
            date=today or dt.date.today(),
        )
        self.decisions = [d for d in self.decisions if d.about != rule_id] + [recorded]
        return recorded

    def decision(self, rule_id: str) -> Decision | None:
        """The decision recorded about `rule_id`, if any."""
        return next((d for d in self.decisions if d.about == rule_id), None)

    # What the rules give.

    def expansion(self) -> Expansion:
        """The rules expanded in the builder's release (no rules: no codes)."""
        if not self.rules:
            return Expansion([], [], self.terminology.release.id)
        return expand_rules(self.to_codeset("draft"), self.terminology)

    def codes(self) -> list[CodeRow]:
        """The codes the rules give, in code order, each with the rule that brought it in."""
        return self.expansion().codes

    def patients_per_code(self, protected: bool = True) -> pd.DataFrame:
        """Code, term, rule, patients and events for each code; under disclosure control by default.

        Without a dataset the count columns are absent.
        """
        rows = self.codes()
        table = pd.DataFrame(
            {
                "Code": [r.code for r in rows],
                "Term": [r.term for r in rows],
                "Rule": [r.rule for r in rows],
            }
        )
        table = with_national_usage(table, self.terminology.system)
        if self.counter is None:
            return table
        counts = self.counter.per_code(table["Code"])
        table["Patients"] = counts["patients"].to_numpy()
        table["Events"] = counts["events"].to_numpy()
        # Most-used codes first; ties stay in code order, as the expansion gives them.
        table = table.sort_values("Patients", ascending=False, kind="stable").reset_index(drop=True)
        return protect_counts(table, COUNT_COLUMNS, self.disclosure) if protected else table

    def patient_count(self) -> int | None:
        """Distinct patients any code of the codeset finds (None without a dataset)."""
        if self.counter is None:
            return None
        return self.counter.patients(row.code for row in self.codes())

    def summary(self) -> pd.DataFrame:
        """One row: rules, codes, and the patients found under disclosure control."""
        table = pd.DataFrame(
            {
                "Release": [self.terminology.release.id],
                "Rules": [len(self.rules)],
                "Codes": [len(self.codes())],
            }
        )
        found = self.patient_count()
        if found is None:
            return table
        table["Patients found"] = [found]
        return protect_counts(table, ["Patients found"], self.disclosure)

    def rules_table(self) -> pd.DataFrame:
        """Each rule in order with what it did, and the decision recorded about it."""
        if not self.rules:
            return pd.DataFrame(columns=["Rule", "Action", "Names", "Codes matched", "Decision"])
        table = rules_table(self.expansion())
        table["Decision"] = [self._decision_text(r.id) for r in self.rules]
        return table

    def _decision_text(self, rule_id: str) -> str:
        found = self.decision(rule_id)
        return f"{found.decision}: {found.rationale}" if found else ""

    # Saving.

    def to_codeset(
        self,
        codeset_id: str,
        *,
        title: str | None = None,
        purpose: str | None = None,
        category: str = "other",
    ) -> Codeset:
        """The draft as a codeset (format v1, version 0.1.0, status draft).

        A blank title or purpose takes a placeholder here, for a look at the draft; `save` refuses
        them."""
        if not self.rules:
            raise BuilderError("a codeset needs at least one rule: include a concept first")
        check_codeset_id(codeset_id)
        try:
            draft = new_codeset(
                codeset_id,
                title=(title or "").strip() or codeset_id.replace("_", " ").capitalize(),
                coding_system=self.terminology.system,
                release=self.terminology.release.id,
                rules=self.rules,
                author=self.author,
                purpose=(purpose or "").strip() or DRAFT_PURPOSE,
            )
            return Codeset.model_validate(
                {**draft.model_dump(), "decisions": self.decisions, "category": category}
            )
        except ValidationError as exc:
            raise BuilderError(f"cannot make the codeset: {in_words(exc)}") from None

    def save_draft(
        self,
        drafts_dir: str | Path,
        codeset_id: str,
        *,
        title: str,
        purpose: str,
        category: str = "other",
    ) -> Path:
        """Save the draft as `drafts_dir/<codeset_id>/`, refusing a blank id, title or purpose (naming
        each that is missing) or an id that is not one before anything else."""
        require_details(codeset_id.strip(), title, purpose)
        return self.save(
            resolve(drafts_dir) / codeset_id.strip(),
            title=title,
            purpose=purpose,
            category=category,
        )

    def save(
        self,
        folder: str | Path,
        *,
        title: str,
        purpose: str,
        category: str = "other",
        replace: bool = False,
    ) -> Path:
        """Write the draft as a codeset folder (`codeset.yaml` + `codes.csv`) named by its id, whole
        or not at all; returns the folder.

        A blank title or purpose is refused. An existing folder is replaced only when it holds nothing
        but a draft of that id, and this builder saved it or `replace` is given; never otherwise.
        """
        folder = resolve(folder)
        require_details(folder.name, title, purpose)
        codeset = self.to_codeset(folder.name, title=title, purpose=purpose, category=category)
        self._refuse_to_replace(folder, replace)
        codes = expand_rules(codeset, self.terminology).codes
        with atomic.folder_written_whole(folder) as staging:
            write_codeset(staging, codeset)
            write_codes(staging, codes)
            self._refuse_to_replace(folder, replace)  # made while this one was written
        self.saved.add(folder)
        return folder

    def _refuse_to_replace(self, folder: Path, replace: bool) -> None:
        if not (folder.exists() or folder.is_symlink()):
            return
        reason = why_not_a_builder_draft(folder)
        if reason is not None:
            raise BuilderError(f"{reason}; choose another id", path=folder)
        if not (replace or folder in self.saved):
            raise BuilderError(
                "a draft with this id was saved before (perhaps by someone else); choose another id",
                path=folder,
            )
