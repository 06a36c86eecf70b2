"""The knowledge file shipped beside a plan (`bot/plans/<plan id>.kb.toml`), as data.

Its models, reading and checking (for `langnghe-bot plan check`), and the plan's values an
answer template may use, formatted by babel in the reader's language.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.i18n import LANGUAGES, Translator, translator
from bot.plan import DEFAULT_PLAN_PATH, LocalizedText, Plan, Section

KB_DIR = DEFAULT_PLAN_PATH.parent


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


def lower_first(text: str, lang: str) -> str:
    """ "Trước ngày 10/8/2017" -> "trước ngày 10/8/2017", for the middle of a sentence.

    Which first words to lower is language data: the catalog's "words.lower_first".
    """
    first = text.split(" ", 1)[0]
    words = translator(lang)("words.lower_first").split("|")
    return text[0].lower() + text[1:] if first in words else text


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
