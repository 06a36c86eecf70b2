"""The knowledge base: questions and answers written from the plan, and finding the answer.

Entries come from a data file shipped next to the plan (`bot/plans/<plan id>.kb.toml`) and
from the database (question–answer pairs Department staff added from their replies). An
answer is a template filled from the plan's own values — amounts and dates formatted by
babel in the reader's language — so another plan file changes the answers; every answer
ends with the plan sections it comes from.

Matching is `bot.search.Index` (BM25 over folded syllables and their pairs, shorthand and
typos repaired), built once per plan and set of staff entries, never per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from bot.i18n import Translator
from bot.knowledge_file import (
    KnowledgeError,
    KnowledgeFile,
    check_file,
    kb_path,
    plan_values,
    read_file,
)
from bot.plan import Plan
from bot.search import Hit, Index

# Confidence = the IDF-weighted share of the question's words that the best phrasing has,
# tuned on the "dev" half of benchmarks/qa.tsv (python -m benchmarks.eligibility).
ANSWER_THRESHOLD = 0.45
# Inside a form the bar is higher: a wrong guess there interrupts someone filling it in.
IN_FORM_THRESHOLD = 0.75
SUGGESTIONS = 3
SUGGESTION_FLOOR = 0.25  # a topic sharing less of the question is not worth a button


# --- entries and the index ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One question–answer pair: from the data file, or added by staff (`staff` set)."""

    id: str
    sections: tuple[str, ...]
    topic: dict[str, str]
    questions: tuple[str, ...]
    answer: dict[str, str]  # language -> template (a staff entry: its one language)
    staff: StaffInfo | None = None

    def text(self, lang: str, values: dict[str, str]) -> str:
        template = self.answer.get(lang) or next(iter(self.answer.values()))
        if self.staff is not None:
            return template  # typed by a person: no placeholders
        return template.format(**values)

    def topic_in(self, lang: str) -> str:
        return self.topic.get(lang) or next(iter(self.topic.values()))


@dataclass(frozen=True)
class StaffInfo:
    answered_on: date
    language: str


@dataclass(frozen=True)
class Match:
    entry: Entry | None  # the answer, when confident
    confidence: float
    suggestions: tuple[Entry, ...] = ()  # the closest topics, best first
    hits: tuple[Hit, ...] = field(default=(), repr=False)


class KnowledgeBase:
    """The entries of one plan (plus staff entries) and their index."""

    def __init__(self, plan: Plan, entries: Sequence[Entry]) -> None:
        self.plan = plan
        self.entries = {entry.id: entry for entry in entries}
        places = [s for unit in plan.units for s in unit.spellings]
        self.index = Index([(e.id, q) for e in entries for q in e.questions], neutral=places)
        self._values: dict[str, dict[str, str]] = {}
        self._extended: tuple[object, KnowledgeBase] | None = None

    @cached_property
    def file_entries(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries.values() if e.staff is None)

    def values(self, lang: str) -> dict[str, str]:
        if lang not in self._values:
            self._values[lang] = plan_values(self.plan, Translator(lang))
        return self._values[lang]

    def answer(self, entry: Entry, lang: str) -> str:
        return entry.text(lang, self.values(lang))

    def match(self, question: str, *, threshold: float = ANSWER_THRESHOLD) -> Match:
        hits = tuple(self.index.search(question, limit=SUGGESTIONS + 2))
        if not hits:
            return Match(None, 0.0)
        best = hits[0]
        confidence = best.coverage
        entry = self.entries[best.key] if confidence >= threshold else None
        suggestions = tuple(
            self.entries[h.key] for h in hits[:SUGGESTIONS] if h.coverage >= SUGGESTION_FLOOR
        )
        return Match(entry, confidence, suggestions, hits)

    def extended(self, version: object, load: Callable[[], Sequence[Entry]]) -> KnowledgeBase:
        """This base plus staff entries; rebuilt only when `version` changes."""
        if self._extended is None or self._extended[0] != version:
            self._extended = (version, KnowledgeBase(self.plan, [*self.file_entries, *load()]))
        return self._extended[1]


def entries_from(kb: KnowledgeFile) -> list[Entry]:
    return [
        Entry(
            id=e.id,
            sections=tuple(e.sections),
            topic={"vi": e.topic.vi, "en": e.topic.en},
            questions=(e.topic.vi, e.topic.en, *e.questions.vi, *e.questions.en),
            answer={"vi": e.answer.vi, "en": e.answer.en},
        )
        for e in kb.entries
    ]


_BASES: dict[int, tuple[Plan, KnowledgeBase]] = {}


def for_plan(plan: Plan) -> KnowledgeBase:
    """The knowledge base of a plan, built once (its file: bot/plans/<plan id>.kb.toml).

    A plan without a knowledge file gets an empty base: every question goes to staff.
    """
    cached = _BASES.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    path = kb_path(plan)
    entries: list[Entry] = []
    if path.exists():
        errors = check_file(path, plan)
        kb, read_errors = read_file(path)
        if errors or kb is None:
            raise KnowledgeError(path, errors or read_errors)
        entries = entries_from(kb)
    base = KnowledgeBase(plan, entries)
    if len(_BASES) > 16:  # tests build many apps; a process serves one or two plans
        _BASES.clear()
    _BASES[id(plan)] = (plan, base)
    return base


def load(path: Path, plan: Plan) -> KnowledgeBase:
    """A knowledge base from a given file (benchmarks, checks)."""
    kb, errors = read_file(path)
    if kb is None:
        raise KnowledgeError(path, errors)
    return KnowledgeBase(plan, entries_from(kb))


def staff_entry(
    entry_id: int, question: str, answer: str, language: str, answered_on: date
) -> Entry:
    return Entry(
        id=f"staff_{entry_id}",
        sections=(),
        topic={language: question[:60]},
        questions=(question,),
        answer={language: answer},
        staff=StaffInfo(answered_on, language),
    )
