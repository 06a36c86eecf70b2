"""The guided eligibility check (/kiemtra), asking only what the plan's rules need.

each condition of the plan (recognised by the City? registered by the district? a
representative that is a legal entity?) -> which support items? -> registered in the
plan's earlier years? -> the verdict, each reason with its section: not eligible /
to be confirmed / eligible / eligible in priority group n -> register with these answers.

A "no" to a condition ends the check at once. Nothing personal is asked or kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.events import Button
from bot.plan import Condition, Plan, Priority
from handlers import registration
from handlers.context import Context
from handlers.flow import Flow, Step

Answer = Literal["yes", "no", "unsure"]
Kind = Literal["not_eligible", "to_confirm", "eligible", "priority"]
# The priorities a village can answer for itself; others (a fair spread across districts)
# are the selecting agencies' to weigh.
ANSWERABLE = ("prior_years", "all_items")


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    failed: tuple[Condition, ...]  # answered "no"
    unsure: tuple[Condition, ...]  # answered "not sure"
    met: tuple[Priority, ...]  # answerable priorities the village meets
    missed: tuple[Priority, ...]  # answerable priorities it does not
    tier: int | None  # 1 = meets every answerable priority; None without priority
    tiers: int  # how many groups there are (2 ** answerable priorities)


def judge(plan: Plan, answers: dict[str, str], items: list[str], years: list[int]) -> Verdict:
    """The verdict for a set of answers (pure: the tests go through every combination)."""
    failed = tuple(c for c in plan.conditions if answers.get(c.code) == "no")
    unsure = tuple(c for c in plan.conditions if answers.get(c.code) not in ("yes", "no"))
    ranked = sorted((p for p in plan.priorities if p.code in ANSWERABLE), key=lambda p: p.rank)
    everything = {item.code for item in plan.support_items}
    meets = {"prior_years": bool(years), "all_items": set(items) >= everything}
    met = tuple(p for p in ranked if meets[p.code])
    missed = tuple(p for p in ranked if not meets[p.code])
    tiers = 2 ** len(ranked)
    # Lexicographic, as "in order of priority" reads: the first criterion outweighs the rest.
    group = 1 + sum(2 ** (len(ranked) - 1 - i) for i, p in enumerate(ranked) if p in missed)
    tier = group if group < tiers else None
    if failed:
        return Verdict("not_eligible", failed, unsure, met, missed, None, tiers)
    if unsure:
        return Verdict("to_confirm", failed, unsure, met, missed, tier, tiers)
    return Verdict("priority" if tier else "eligible", failed, unsure, met, missed, tier, tiers)


# --- the conversation ------------------------------------------------------------------------


def start(ctx: Context) -> None:
    """/kiemtra: a new check (an unfinished registration is offered first: it holds these
    answers already, and starting over would lose it)."""
    if registration.has_draft(ctx):
        ctx.say("elig.has_draft")
        registration.offer_resume(ctx)
        return
    ctx.finish()
    ctx.say("elig.intro", plan=ctx.plan.title.get(ctx.user.language))
    ctx.data = {"answers": {}, "i": 0}
    FLOW.enter(ctx, "condition")


def current(ctx: Context) -> Condition:
    return ctx.plan.conditions[min(int(ctx.data.get("i", 0)), len(ctx.plan.conditions) - 1)]


def ask_condition(ctx: Context) -> None:
    condition = current(ctx)
    lang = ctx.user.language
    key = f"elig.ask.{condition.code}"
    ctx.say(
        key if ctx.t.has(key) else "elig.ask.generic",
        condition=condition.text.get(lang),
        section=condition.section,
        unit_label=ctx.plan.unit_label.get(lang),
        rep_types=", ".join(r.name.get(lang) for r in ctx.plan.representative_types),
        n=int(ctx.data.get("i", 0)) + 1,
        total=len(ctx.plan.conditions),
        buttons=FLOW.buttons(
            ctx,
            "condition",
            ("btn.yes", "yes"),
            ("btn.no", "no"),
            ("btn.unsure", "unsure"),
        ),
    )


def on_condition(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice not in ("yes", "no", "unsure"):
        remind(ctx)
        return
    answers = dict(ctx.data.get("answers", {}))
    answers[current(ctx).code] = choice
    ctx.data["answers"] = answers
    index = int(ctx.data.get("i", 0)) + 1
    if choice == "no":  # not eligible whatever comes next: ask nothing more
        FLOW.enter(ctx, "verdict")
    elif index < len(ctx.plan.conditions):
        ctx.data["i"] = index
        FLOW.enter(ctx, "condition")
    else:
        FLOW.enter(ctx, "items" if asks(ctx.plan, "all_items") else after_items(ctx.plan))


def asks(plan: Plan, priority: str) -> bool:
    return any(p.code == priority for p in plan.priorities)


def after_items(plan: Plan) -> str:
    return "years" if plan.prior_years and asks(plan, "prior_years") else "verdict"


def ask_items(ctx: Context) -> None:
    lang = ctx.user.language
    chosen = set(ctx.data.get("items", []))
    priority = next(p for p in ctx.plan.priorities if p.code == "all_items")
    lines = [
        ctx.t("reg.item_line", mark="☑" if i.code in chosen else "☐", number=i.number,
              name=i.name.get(lang))
        for i in ctx.plan.support_items
    ]  # fmt: skip
    buttons = [
        Button(("✓ " if i.code in chosen else "") + i.name.get(lang), FLOW.payload("items", i.code))
        for i in ctx.plan.support_items
    ]
    buttons.append(ctx.button("btn.all_items", FLOW.payload("items", "all")))
    buttons.append(ctx.button("btn.done", FLOW.payload("items", "done")))
    ctx.say(
        "elig.ask_items",
        items="\n".join(lines),
        count=len(ctx.plan.support_items),
        section=priority.section,
        buttons=buttons,
    )


def on_items(ctx: Context) -> None:
    codes = [item.code for item in ctx.plan.support_items]
    chosen = list(ctx.data.get("items", []))
    choice = FLOW.value(ctx)
    if choice is None and ctx.event.kind == "text":
        numbers = registration.typed_numbers(ctx.text)
        if numbers and all(1 <= n <= len(codes) for n in numbers):
            chosen, choice = [codes[n - 1] for n in numbers], "done"
    if choice in codes:
        chosen = [c for c in chosen if c != choice] if choice in chosen else [*chosen, choice]
        ctx.data["items"] = [c for c in codes if c in chosen]
        ask_items(ctx)
        return
    if choice == "all":
        chosen, choice = list(codes), "done"
    if choice != "done":
        remind(ctx)
        return
    if not chosen:
        ctx.say("err.no_items")
        ask_items(ctx)
        return
    ctx.data["items"] = [c for c in codes if c in chosen]
    FLOW.enter(ctx, after_items(ctx.plan))


def ask_years(ctx: Context) -> None:
    chosen = set(ctx.data.get("years", []))
    priority = next(p for p in ctx.plan.priorities if p.code == "prior_years")
    buttons = [
        Button(("✓ " if year in chosen else "") + str(year), FLOW.payload("years", year))
        for year in ctx.plan.prior_years
    ]
    buttons.append(ctx.button("btn.no_years", FLOW.payload("years", "none")))
    buttons.append(ctx.button("btn.done", FLOW.payload("years", "done")))
    ctx.say(
        "elig.ask_years",
        years=", ".join(str(y) for y in ctx.plan.prior_years),
        unit_label=ctx.plan.unit_label.get(ctx.user.language),
        section=priority.section,
        buttons=buttons,
    )


def on_years(ctx: Context) -> None:
    allowed = list(ctx.plan.prior_years)
    chosen = list(ctx.data.get("years", []))
    choice = FLOW.value(ctx)
    if choice is None and ctx.event.kind == "text":
        typed = registration.typed_numbers(ctx.text)
        if typed and all(year in allowed for year in typed):
            chosen, choice = typed, "done"
        elif registration.is_word(ctx, "words.none"):
            choice = "none"
    if choice is not None and choice.isdigit() and int(choice) in allowed:
        ctx.data["years"] = sorted(set(chosen) ^ {int(choice)})  # pressed again: unchosen
        ask_years(ctx)
        return
    if choice not in ("done", "none"):
        remind(ctx)
        return
    ctx.data["years"] = [] if choice == "none" else sorted(set(chosen))
    FLOW.enter(ctx, "verdict")


def ask_verdict(ctx: Context) -> None:
    verdict = judge(
        ctx.plan,
        dict(ctx.data.get("answers", {})),
        list(ctx.data.get("items", [])),
        list(ctx.data.get("years", [])),
    )
    if "verdict" not in ctx.data:  # asked again after a sticker: checked only once
        ctx.audit("eligibility.checked", verdict=verdict.kind, tier=verdict.tier)
    ctx.data["verdict"] = verdict.kind
    ctx.data["tier"] = verdict.tier
    buttons = []
    if verdict.kind != "not_eligible":
        buttons.append(ctx.button("btn.register_now", FLOW.payload("verdict", "register")))
    buttons += [
        ctx.button("btn.check_again", FLOW.payload("verdict", "again")),
        ctx.button("btn.menu", "menu:menu"),
    ]
    ctx.say_text(verdict_text(ctx, verdict), buttons=buttons)


def verdict_text(ctx: Context, verdict: Verdict) -> str:
    t, lang = ctx.t, ctx.user.language
    lead = ctx.plan.implementation.lead.get(lang)
    unit_label = ctx.plan.unit_label.get(lang)

    def line(key: str, condition: Condition) -> str:
        return t(key, text=condition.text.get(lang), section=condition.section)

    def fix(condition: Condition) -> list[str]:
        key = f"elig.fix.{condition.code}"
        return [t(key, unit_label=unit_label)] if t.has(key) else []

    lines: list[str] = []
    if verdict.kind == "not_eligible":
        lines.append(t("elig.verdict_no"))
        for condition in verdict.failed:
            lines += [line("elig.not_met", condition), *fix(condition)]
    else:
        if verdict.kind == "to_confirm":
            lines.append(t("elig.verdict_unsure"))
            for condition in verdict.unsure:
                lines += [line("elig.unsure_line", condition), *fix(condition)]
        elif verdict.tier is not None:
            lines.append(t("elig.verdict_priority", tier=verdict.tier, tiers=verdict.tiers))
        else:
            lines.append(t("elig.verdict_yes"))
        for condition in ctx.plan.conditions:
            if condition not in verdict.unsure:
                lines.append(line("elig.met", condition))
        for priority in sorted(ctx.plan.priorities, key=lambda p: p.rank):
            values = {"rank": priority.rank, "text": priority.text.get(lang),
                      "section": priority.section, "lead": lead}  # fmt: skip
            if priority in verdict.met:
                lines.append(t("elig.priority_met", **values))
            elif priority in verdict.missed:
                lines.append(t("elig.priority_missed", **values))
            else:
                lines.append(t("elig.priority_other", **values))
        lines.append(t("elig.offer_register"))
    return "\n".join(lines)


def on_verdict(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "register" and ctx.data.get("verdict") not in (None, "not_eligible"):
        keep: dict[str, object] = {}
        if "items" in ctx.data:
            keep["items"] = list(ctx.data["items"])
        if "years" in ctx.data:
            keep["prior_years"] = list(ctx.data["years"])
        keep["prefilled"] = [name for name in ("items", "prior_years") if name in keep]
        if keep["prefilled"]:
            ctx.say("elig.prefilled")
        registration.begin(ctx, keep=keep)
    elif choice == "again":
        start(ctx)
    else:
        remind(ctx)


def remind(ctx: Context) -> None:
    ctx.say("err.use_buttons")
    FLOW.ask(ctx)


def handle(ctx: Context) -> None:
    FLOW.handle(ctx)


FLOW = Flow(
    "elig",
    [
        Step("condition", ask_condition, on_condition),
        Step("items", ask_items, on_items),
        Step("years", ask_years, on_years),
        Step("verdict", ask_verdict, on_verdict),
    ],
)
