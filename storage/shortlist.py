"""The shortlist: forwarded registrations ranked by the plan's order of priority (II.4).

A pure function of the registrations and the plan. The plan file says which rules apply
and in what order (its `priorities`, by rank); this module only knows what each rule's
code means:

- ``prior_years``: the district registered the village in one of the plan's
  `prior_years` (2014, 2015, 2016 in 2017).
- ``all_items``: the village asks for every support item of the plan.
- ``spread``: a fair spread across reviewing units.

How they combine. The yes/no rules ranked before ``spread`` split the list into tiers,
compared rule by rule in rank order: meeting the rank-1 rule beats anything that does
not, then rank 2 decides, and so on (with the 2017 plan: tier 1 both, tier 2 prior years
only, tier 3 all items only, tier 4 neither). Within a tier, ``spread`` is a
round-robin across units: candidates are taken in rounds, one per unit per round; within
a round, units holding fewer places higher up the list go first, then the candidate
forwarded earlier, then the lower code. Yes/no rules ranked after ``spread`` (none in
2017) order each unit's own queue. Without ``spread``, a tier is ordered by date
forwarded, then code.

Eligible (II.3, III.4): forwarded by the district, with a recognition decision and a
representative that is a legal entity. The first `training_slots` ranked villages that
asked for the training item hold the training places (II.2).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage import export
from storage.models import Registration

if TYPE_CHECKING:
    from bot.i18n import Translator
    from bot.plan import Plan, Priority, SupportItem

SPREAD = "spread"
TRAINING_ITEM = "training"  # the support item whose places are limited (II.2)
_NEVER = datetime.max.replace(tzinfo=UTC)


def _prior_years(r: Registration, plan: Plan) -> bool:
    return bool(set(r.prior_years) & set(plan.prior_years))


def _all_items(r: Registration, plan: Plan) -> bool:
    return {item.code for item in plan.support_items} <= set(r.items)


RULES: dict[str, Callable[[Registration, Plan], bool]] = {
    "prior_years": _prior_years,
    "all_items": _all_items,
}


class ShortlistError(ValueError):
    """The plan names a priority this module has no rule for."""


@dataclass(frozen=True)
class Criterion:
    """One yes/no rule as it applies to one registration."""

    code: str
    rank: int
    section: str
    met: bool


@dataclass(frozen=True)
class Spread:
    """Where the round-robin across units placed a registration."""

    rank: int
    section: str
    round: int  # 1 = the first round of its tier
    unit_before: int  # places its unit already held higher up the list


@dataclass(frozen=True)
class Ranked:
    position: int
    registration: Registration
    tier: int  # 1 is best
    tiers: int
    criteria: tuple[Criterion, ...]
    spread: Spread | None
    training_slot: int | None  # 1..training_slots, or None


def eligible(r: Registration) -> bool:
    return r.status == "forwarded" and bool(r.decision_number) and r.rep_legal_entity


def shortlist(registrations: Sequence[Registration], plan: Plan) -> list[Ranked]:
    priorities = sorted(plan.priorities, key=lambda p: p.rank)
    unknown = [p.code for p in priorities if p.code != SPREAD and p.code not in RULES]
    if unknown:
        known = ", ".join([*RULES, SPREAD])
        raise ShortlistError(f"no rule for priority {', '.join(unknown)} (known: {known})")
    codes = [p.code for p in priorities]
    cut = codes.index(SPREAD) if SPREAD in codes else len(codes)
    tiering, spread_rule, queueing = (
        priorities[:cut],
        priorities[cut : cut + 1],
        priorities[cut + 1 :],
    )
    tiers = 2 ** len(tiering)

    def judged(r: Registration, rules: Sequence[Priority]) -> tuple[Criterion, ...]:
        return tuple(Criterion(p.code, p.rank, p.section, RULES[p.code](r, plan)) for p in rules)

    def tier_of(r: Registration) -> int:
        misses = [not c.met for c in judged(r, tiering)]
        return 1 + sum(miss << (len(misses) - 1 - i) for i, miss in enumerate(misses))

    def queue_key(r: Registration) -> tuple[object, ...]:
        return (*(not c.met for c in judged(r, queueing)), r.forwarded_at or _NEVER, r.code)

    by_tier: dict[int, list[Registration]] = {}
    for r in filter(eligible, registrations):
        by_tier.setdefault(tier_of(r), []).append(r)

    placed: Counter[str] = Counter()
    ordered: list[tuple[Registration, int, Spread | None]] = []
    for tier in sorted(by_tier):
        candidates = sorted(by_tier[tier], key=queue_key)
        if not spread_rule:
            ordered += [(r, tier, None) for r in candidates]
            continue
        rule = spread_rule[0]
        queues: dict[str, deque[Registration]] = {}
        for r in candidates:
            queues.setdefault(r.unit_code, deque()).append(r)
        round_no = 0
        while queues:
            round_no += 1
            batch = [queue.popleft() for queue in queues.values()]
            batch.sort(key=lambda r: (placed[r.unit_code], *queue_key(r)))
            for r in batch:
                ordered.append(
                    (r, tier, Spread(rule.rank, rule.section, round_no, placed[r.unit_code]))
                )
                placed[r.unit_code] += 1
            queues = {unit: q for unit, q in queues.items() if q}

    result: list[Ranked] = []
    training = 0
    for position, (r, tier, spread) in enumerate(ordered, start=1):
        slot = None
        if TRAINING_ITEM in r.items and training < plan.training_slots:
            training += 1
            slot = training
        criteria = judged(r, [*tiering, *queueing])
        result.append(Ranked(position, r, tier, tiers, criteria, spread, slot))
    return result


# --- saying why -----------------------------------------------------------------------------


def reasons(ranked: Ranked, plan: Plan, t: Translator) -> str:
    """Why a registration ranks where it does, citing the plan's sections."""
    r = ranked.registration
    values = {
        "years": ", ".join(str(y) for y in sorted(set(r.prior_years) & set(plan.prior_years))),
        "plan_years": ", ".join(str(y) for y in plan.prior_years),
        "count": len(set(r.items) & {item.code for item in plan.support_items}),
        "total": len(plan.support_items),
        "unit": export.unit_display(plan, r.unit_code),
        "unit_label": plan.unit_label.get(t.lang),
        "slots": plan.training_slots,
    }
    parts = [t("shortlist.tier", tier=ranked.tier, tiers=ranked.tiers)]
    for c in ranked.criteria:
        text = t(f"shortlist.{c.code}.{'met' if c.met else 'unmet'}", **values)
        parts.append(t("shortlist.rule", text=text, rank=c.rank, section=c.section))
    if ranked.spread is not None:
        s = ranked.spread
        key = "shortlist.spread" if s.unit_before else "shortlist.spread_first"
        text = t(key, round=s.round, before=s.unit_before, **values)
        parts.append(t("shortlist.rule", text=text, rank=s.rank, section=s.section))
    training = _training_item(plan)
    if training is not None:
        if ranked.training_slot is not None:
            text = t("shortlist.training", slot=ranked.training_slot, **values)
        elif TRAINING_ITEM in r.items:
            text = t("shortlist.training_full", **values)
        else:
            text = t("shortlist.training_not_asked")
        parts.append(t("shortlist.cite", text=text, section=training.section))
    return "; ".join(parts)


def _training_item(plan: Plan) -> SupportItem | None:
    return next((item for item in plan.support_items if item.code == TRAINING_ITEM), None)


def as_text(
    ranked: Sequence[Ranked], plan: Plan, t: Translator, *, limit: int | None = None
) -> str:
    """The ranking as the chat and the command line show it: rules first, then rows."""
    lang = t.lang
    section = plan.priorities[0].section if plan.priorities else ""
    rules = [
        t("shortlist.priority", rank=p.rank, text=p.text.get(lang))
        for p in sorted(plan.priorities, key=lambda p: p.rank)
    ]
    shown = ranked if limit is None else ranked[:limit]
    lines = [
        t(
            "shortlist.line",
            position=item.position,
            star="⭐ " if item.training_slot else "",
            village=item.registration.village,
            unit=export.unit_display(plan, item.registration.unit_code),
            code=item.registration.code,
            reasons=reasons(item, plan, t),
        )
        for item in shown
    ]
    more = len(ranked) - len(shown)
    spread = next((p for p in plan.priorities if p.code == SPREAD), None)
    return t(
        "shortlist.text",
        section=section,
        how=t("shortlist.how_spread", rank=spread.rank, unit_label=plan.unit_label.get(lang))
        if spread is not None
        else "",
        count=len(ranked),
        slots=plan.training_slots,
        rules="\n".join(rules),
        lines="\n".join(lines),
        more=t("shortlist.more", more=more) if more > 0 else "",
    )


SHORTLIST_COLUMNS = (
    "position", "tier", "training", "unit", "village", "craft", "code", "forwarded", "reasons",
)  # fmt: skip


def shortlist_table(ranked: Sequence[Ranked], plan: Plan, t: Translator) -> export.Table:
    rows: list[list[export.Cell]] = [
        [
            item.position,
            item.tier,
            item.training_slot,
            export.unit_display(plan, item.registration.unit_code),
            item.registration.village,
            item.registration.craft,
            item.registration.code,
            export.local_date(item.registration.forwarded_at),
            reasons(item, plan, t),
        ]
        for item in ranked
    ]
    return export.Table(
        title=t("shortlist.sheet"),
        headers=[t(f"shortlist.col.{name}") for name in SHORTLIST_COLUMNS],
        rows=rows,
    )
