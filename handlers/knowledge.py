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

import string
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.i18n import LANGUAGES, Translator
from bot.plan import DEFAULT_PLAN_PATH, LocalizedText, Plan, Section
from bot.search import Hit, Index

KB_DIR = DEFAULT_PLAN_PATH.parent

# Confidence = the IDF-weighted share of the question's words that the best phrasing has,
# tuned on the "dev" half of benchmarks/qa.tsv (python -m benchmarks.eligibility).
ANSWER_THRESHOLD = 0.45
# Inside a form the bar is higher: a wrong guess there interrupts someone filling it in.
IN_FORM_THRESHOLD = 0.75
SUGGESTIONS = 3
SUGGESTION_FLOOR = 0.25  # a topic sharing less of the question is not worth a button


# --- the data file ---------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phrasings(_Model):
    vi: list[Annotated[str, StringConstraints(min_length=2)]] = Field(min_length=1)
    en: list[Annotated[str, StringConstraints(min_length=2)]] = Field(default_factory=list)


class EntryData(_Model):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    sections: list[Section] = Field(min_length=1)
    topic: LocalizedText
    questions: Phrasings
    answer: LocalizedText


class KnowledgeFile(_Model):
    plan: str
    entries: list[EntryData] = Field(min_length=1)


class KnowledgeError(ValueError):
    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: invalid knowledge file:\n" + "\n".join(errors))


def kb_path(plan: Plan) -> Path:
    return KB_DIR / f"{plan.id}.kb.toml"


def read_file(path: Path) -> tuple[KnowledgeFile | None, list[str]]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [f"cannot read: {exc}"]
    try:
        return KnowledgeFile.model_validate(data), []
    except ValidationError as exc:
        where = (".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return None, [f"{w}: {e['msg']}" for w, e in zip(where, exc.errors(), strict=True)]


def check_file(path: Path, plan: Plan) -> list[str]:
    """Every problem of a knowledge file read against `plan`; [] when it is usable."""
    kb, errors = read_file(path)
    if kb is None:
        return errors
    if kb.plan != plan.id:
        errors.append(f"plan: the file is for {kb.plan!r}, the plan is {plan.id!r}")
    known = {s.ref for s in plan.sections}
    seen: set[str] = set()
    for i, entry in enumerate(kb.entries):
        if entry.id in seen:
            errors.append(f"entries[{i}].id: duplicate id {entry.id!r}")
        seen.add(entry.id)
        for ref in entry.sections:
            if ref not in known:
                errors.append(f"entries[{i}].sections: {ref!r} is not a section of the plan")
        for lang in LANGUAGES:
            template = entry.answer.get(lang)
            missing = placeholders(template) - set(plan_values(plan, Translator(lang)))
            for name in sorted(missing):
                errors.append(f"entries[{i}].answer.{lang}: unknown value {{{name}}}")
    return errors


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# --- the plan's values, ready to put in an answer ------------------------------------------

_LOWER_FIRST = {
    "vi": ("Tháng", "Trước", "Hoàn", "Từ", "Đại", "Các"),
    "en": ("Before", "To", "From", "By", "District", "The"),
}


def lower_first(text: str, lang: str) -> str:
    """ "Trước ngày 10/8/2017" -> "trước ngày 10/8/2017", for the middle of a sentence."""
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first in _LOWER_FIRST.get(lang, ()) else text


def plan_values(plan: Plan, t: Translator) -> dict[str, str]:
    """Every value an answer template may use, in the translator's language."""
    lang = t.lang

    def tr(text: LocalizedText) -> str:
        return text.get(lang)

    def bullets(lines: Sequence[str]) -> str:
        return "\n".join(f"• {line}" for line in lines)

    values: dict[str, str] = {
        "plan_title": tr(plan.title),
        "year": str(plan.year),
        "issuer": tr(plan.issuer),
        "region": tr(plan.region),
        "controller": tr(plan.controller),
        "unit_label": tr(plan.unit_label),
        "lead": tr(plan.implementation.lead),
        "partners": "; ".join(tr(p) for p in plan.implementation.partners),
        "participants": tr(plan.implementation.participants),
        "items": "\n".join(f"{i.number}. {tr(i.name)}" for i in plan.support_items),
        "items_count": str(len(plan.support_items)),
        "training_slots": str(plan.training_slots),
        "training_days": str(plan.training_days),
        "conditions": bullets([tr(c.text) for c in plan.conditions]),
        "priorities": "\n".join(f"{p.rank}. {tr(p.text)}" for p in plan.priorities),
        "prior_years": ", ".join(str(y) for y in plan.prior_years),
        "route": "\n".join(f"{r.number}. {tr(r.text)}" for r in plan.route),
        "registration_opens": t.date(plan.registration_opens),
        "registration_deadline": t.date(plan.registration_deadline),
        "timeline": "\n".join(
            f"{s.number}. {tr(s.title)} — {tr(s.period) if s.period else _span(t, s.start, s.end)}"
            for s in plan.timeline
        ),
        "contract_subject": tr(plan.contract.subject),
        "contract_parties": "; ".join(tr(p) for p in plan.contract.parties),
        "contract_before": t.date(plan.contract.liquidation_before),
        "rep_types": ", ".join(tr(r.name) for r in plan.representative_types),
        "budget": t.money(plan.budget.amount_vnd),
        "budget_source": tr(plan.budget.source),
        "budget_decision": plan.budget.decision,
        "legal_basis": bullets(
            [f"{b.ref} ({t.date(b.date)}): {tr(b.title)}" for b in plan.legal_basis]
        ),
        "purposes": bullets([tr(p.text) for p in plan.purposes]),
        "units_count": str(len(plan.units)),
        "units": ", ".join(u.display for u in plan.units),
    }
    period = plan.timeline[0].period
    values["registration_period"] = (
        tr(period) if period else _span(t, plan.registration_opens, plan.registration_deadline)
    )
    values["registration_period_lower"] = lower_first(values["registration_period"], lang)
    for item in plan.support_items:
        values[f"item_{item.code}"] = tr(item.name)
        values[f"item_{item.code}_number"] = str(item.number)
        values[f"item_{item.code}_detail"] = tr(item.detail) if item.detail else tr(item.name)
    for condition in plan.conditions:
        values[f"condition_{condition.code}"] = tr(condition.text)
    for priority in plan.priorities:
        values[f"priority_{priority.code}"] = tr(priority.text)
        values[f"priority_{priority.code}_rank"] = str(priority.rank)
    for step in plan.route:
        values[f"route_{step.number}"] = tr(step.text)
    for s in plan.timeline:
        period_text = tr(s.period) if s.period else _span(t, s.start, s.end)
        values[f"step{s.number}_title"] = tr(s.title)
        values[f"step{s.number}_period"] = period_text
        values[f"step{s.number}_period_lower"] = lower_first(period_text, lang)
        values[f"step{s.number}_start"] = t.date(s.start)
        values[f"step{s.number}_end"] = t.date(s.end)
        values[f"step{s.number}_lead"] = tr(s.lead)
        values[f"step{s.number}_partners"] = tr(s.partners)
    for duty in plan.responsibilities:
        values[f"party_{duty.code}"] = tr(duty.party)
        values[f"party_{duty.code}_lower"] = lower_first(tr(duty.party), lang)
        values[f"duties_{duty.code}"] = bullets([tr(d) for d in duty.duties])
        for n, text in enumerate(duty.duties, 1):
            values[f"duty_{duty.code}_{n}"] = tr(text)
    return values


def _span(t: Translator, start: date, end: date) -> str:
    return f"{t.date(start)} – {t.date(end)}"


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
