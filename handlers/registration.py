"""Registering a village for the plan, step by step, as the chat goes.

consent -> follow-up messages? -> village -> commune -> reviewing unit -> craft ->
recognition decision (number, date) -> representative (type, name, legal entity) ->
contact (name, position, phone, email) -> support items -> earlier years -> summary,
where any answer can be changed -> submit: a code, status "submitted", routed to the unit.

The draft lives in the conversation row, so a user can stop at any point and resume.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.events import Button
from bot.plan import ReviewingUnit
from bot.text import fold
from handlers import common, validation
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import repository
from storage.models import Registration

CONSENT_VERSION = "2026-01"  # bump when the consent text in the catalogs changes
FIRST_QUESTION = "village"
QUESTIONS = (
    "village", "commune", "unit", "craft", "decision_number", "decision_date", "rep_type",
    "rep_name", "rep_legal", "contact_name", "contact_position", "contact_phone",
    "contact_email", "items", "prior_years",
)  # fmt: skip


def start(ctx: Context) -> None:
    """/dangky: resume an unfinished draft, or begin with consent."""
    if has_draft(ctx):
        offer_resume(ctx)
    else:
        begin(ctx)


def has_draft(ctx: Context) -> bool:
    return ctx.flow == FLOW.name and bool(ctx.data.get("village"))


def offer_resume(ctx: Context) -> None:
    """Ask "continue or start over", remembering where the user was."""
    if ctx.step in (*QUESTIONS, "summary"):
        ctx.data["at"] = ctx.step
    FLOW.enter(ctx, "resume")


def window_closed(ctx: Context) -> bool:
    """Outside the plan's registration window (II.6, step 1): say so, offer what is left."""
    opens, closes = ctx.plan.registration_opens, ctx.plan.registration_deadline
    if opens <= ctx.today <= closes:
        return False
    ctx.say(
        "reg.not_open" if ctx.today < opens else "reg.closed",
        opens=ctx.t.date(opens),
        closes=ctx.t.date(closes),
        section=ctx.plan.step(1).section,
        buttons=[ctx.button("btn.status", "menu:status"), ctx.button("btn.help", "menu:help")],
    )
    return True


def begin(ctx: Context, *, keep: dict[str, object] | None = None) -> None:
    if window_closed(ctx):
        return
    ctx.goto(FLOW.name, None)
    ctx.data = dict(keep or {})
    if repository.active_consent(ctx.session, ctx.user, "registration") is None:
        FLOW.enter(ctx, "consent")
    elif repository.active_consent(ctx.session, ctx.user, "followup") is None:
        FLOW.enter(ctx, "followup")
    else:
        ctx.say("reg.welcome_back")
        FLOW.enter(ctx, FIRST_QUESTION)


# --- an unfinished draft ------------------------------------------------------------------


def ask_resume(ctx: Context) -> None:
    ctx.say(
        "reg.ask_resume",
        village=ctx.data.get("village", ""),
        buttons=FLOW.buttons(
            ctx,
            "resume",
            ("btn.continue", "continue"),
            ("btn.start_over", "restart"),
        ),
    )


def on_resume(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "continue":
        FLOW.enter(ctx, ctx.data.get("at") or FIRST_QUESTION)
    elif choice == "restart":
        ctx.audit("draft.discarded")
        begin(ctx)
    else:
        remind_choices(ctx)


# --- consent (Law 91/2025/QH15: explicit, informed, per purpose) ---------------------


def ask_consent(ctx: Context) -> None:
    ctx.say(
        "reg.consent",
        controller=ctx.plan.controller.get(ctx.user.language),
        unit_label=ctx.plan.unit_label.get(ctx.user.language),
        version=CONSENT_VERSION,
        buttons=FLOW.buttons(
            ctx,
            "consent",
            ("btn.agree", "yes"),
            ("btn.disagree", "no"),
        ),
    )


def on_consent(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "yes":
        repository.record_consent(
            ctx.session, ctx.user, "registration", CONSENT_VERSION, True, ctx.now
        )
        ctx.audit("consent.granted", purpose="registration", version=CONSENT_VERSION)
        if repository.active_consent(ctx.session, ctx.user, "followup") is None:
            FLOW.enter(ctx, "followup")
        else:
            FLOW.enter(ctx, FIRST_QUESTION)
    elif choice == "no":
        ctx.finish()  # nothing about the person is kept
        ctx.say("reg.consent_declined", buttons=[ctx.button("btn.register", "menu:register")])
    else:
        remind_choices(ctx)


def ask_followup(ctx: Context) -> None:
    ctx.say(
        "reg.ask_followup",
        buttons=FLOW.buttons(
            ctx,
            "followup",
            ("btn.followup_yes", "yes"),
            ("btn.followup_no", "no"),
        ),
    )


def on_followup(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice not in ("yes", "no"):
        remind_choices(ctx)
        return
    granted = choice == "yes"
    repository.record_consent(ctx.session, ctx.user, "followup", CONSENT_VERSION, granted, ctx.now)
    ctx.user.reminders_enabled = granted
    ctx.audit("consent.granted" if granted else "consent.refused", purpose="followup")
    ctx.say("reg.followup_yes" if granted else "reg.followup_no")
    FLOW.enter(ctx, FIRST_QUESTION)


# --- the village --------------------------------------------------------------------------


def ask_village(ctx: Context) -> None:
    question(ctx, "reg.ask_village")


def on_village(ctx: Context) -> None:
    if (village := answer_text(ctx, max_len=100)) is not None:
        ctx.data["village"] = village
        advance(ctx)


def ask_commune(ctx: Context) -> None:
    question(ctx, "reg.ask_commune", village=ctx.data.get("village", ""))


def on_commune(ctx: Context) -> None:
    if (commune := answer_text(ctx, max_len=100)) is not None:
        ctx.data["commune"] = commune
        advance(ctx)


def ask_unit(ctx: Context) -> None:
    question(ctx, "reg.ask_unit", unit_label=ctx.plan.unit_label.get(ctx.user.language))


def on_unit(ctx: Context) -> None:
    code = FLOW.value(ctx)
    if code is None:
        if (typed := answer_text(ctx, max_len=100)) is None:
            return
        match = ctx.plan.find_unit(typed)
        if match.unit is None:
            suggest_units(ctx, typed, match.suggestions)
            return
        code = match.unit.code
    try:
        ctx.plan.unit(code)
    except KeyError:
        remind_choices(ctx)
        return
    ctx.data["unit"] = code
    advance(ctx)


def suggest_units(ctx: Context, typed: str, units: tuple[ReviewingUnit, ...]) -> None:
    buttons = [Button(unit.display, FLOW.payload("unit", unit.code)) for unit in units]
    key = "reg.unit_suggest" if units else "reg.unit_unknown"
    ctx.say(key, typed=typed, unit_label=ctx.plan.unit_label.get(ctx.user.language))
    question(ctx, "reg.ask_unit_again", buttons=buttons)


def ask_craft(ctx: Context) -> None:
    question(ctx, "reg.ask_craft", village=ctx.data.get("village", ""))


def on_craft(ctx: Context) -> None:
    if (craft := answer_text(ctx, max_len=100)) is not None:
        ctx.data["craft"] = craft
        advance(ctx)


# --- the recognition decision (II.3) -----------------------------------------------------


def ask_decision_number(ctx: Context) -> None:
    question(
        ctx,
        "reg.ask_decision_number",
        buttons=[ctx.button("btn.not_recognised", FLOW.payload("decision_number", "none"))],
    )


def on_decision_number(ctx: Context) -> None:
    if FLOW.value(ctx) == "none":
        not_recognised(ctx)
        return
    if (raw := raw_answer(ctx)) is None:
        return
    result = validation.decision_number(raw)
    if isinstance(result, validation.Invalid):
        invalid(ctx, result)
        return
    ctx.data["decision_number"] = result.value
    advance(ctx)


def not_recognised(ctx: Context) -> None:
    """Not eligible without the City's recognition (II.3); the draft stays for later."""
    condition = next(c for c in ctx.plan.conditions if c.section == "II.3")
    ctx.say(
        "reg.not_recognised",
        condition=condition.text.get(ctx.user.language),
        section=condition.section,
        buttons=FLOW.buttons(
            ctx,
            "decision_number",
            ("btn.enter_decision", "retry"),
            ("btn.pause", "pause"),
        ),
    )


def ask_decision_date(ctx: Context) -> None:
    question(ctx, "reg.ask_decision_date", number=ctx.data.get("decision_number", ""))


def on_decision_date(ctx: Context) -> None:
    if (raw := raw_answer(ctx)) is None:
        return
    result = validation.past_date(raw, ctx.today)
    if isinstance(result, validation.Invalid):
        invalid(ctx, result, today=ctx.t.date(ctx.today))
        return
    ctx.data["decision_date"] = result.value.isoformat()
    advance(ctx)


# --- the village representative (II.5, III.4) -------------------------------------------


def ask_rep_type(ctx: Context) -> None:
    buttons = [
        Button(kind.name.get(ctx.user.language), FLOW.payload("rep_type", kind.code))
        for kind in ctx.plan.representative_types
    ]
    question(ctx, "reg.ask_rep_type", buttons=buttons)


def on_rep_type(ctx: Context) -> None:
    codes = {kind.code for kind in ctx.plan.representative_types}
    if (choice := FLOW.value(ctx)) in codes:
        ctx.data["rep_type"] = choice
        advance(ctx)
    else:
        remind_choices(ctx)


def ask_rep_name(ctx: Context) -> None:
    question(ctx, "reg.ask_rep_name", kind=rep_type_name(ctx))


def on_rep_name(ctx: Context) -> None:
    if (name := answer_text(ctx, max_len=300)) is not None:
        ctx.data["rep_name"] = name
        advance(ctx)


def ask_rep_legal(ctx: Context) -> None:
    question(
        ctx,
        "reg.ask_rep_legal",
        name=ctx.data.get("rep_name", ""),
        buttons=FLOW.buttons(
            ctx,
            "rep_legal",
            ("btn.yes", "yes"),
            ("btn.no", "no"),
        ),
    )


def on_rep_legal(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "yes":
        ctx.data["rep_legal"] = True
        advance(ctx)
    elif choice == "no":
        condition = next(c for c in ctx.plan.conditions if c.section == "III.4")
        ctx.say(
            "reg.rep_not_legal",
            condition=condition.text.get(ctx.user.language),
            section=condition.section,
        )
        FLOW.enter(ctx, "rep_type")
    else:
        remind_choices(ctx)


# --- the contact person -------------------------------------------------------------------


def ask_contact_name(ctx: Context) -> None:
    question(ctx, "reg.ask_contact_name")


def on_contact_name(ctx: Context) -> None:
    if (name := answer_text(ctx, max_len=100)) is not None:
        ctx.data["contact_name"] = name
        advance(ctx)


def ask_contact_position(ctx: Context) -> None:
    question(ctx, "reg.ask_contact_position", name=ctx.data.get("contact_name", ""))


def on_contact_position(ctx: Context) -> None:
    if (position := answer_text(ctx, max_len=100)) is not None:
        ctx.data["contact_position"] = position
        advance(ctx)


def ask_contact_phone(ctx: Context) -> None:
    question(ctx, "reg.ask_contact_phone")


def on_contact_phone(ctx: Context) -> None:
    offered = ctx.data.get("phone_offer")
    if (choice := FLOW.value(ctx)) == "use_new" and offered:
        ctx.data.pop("phone_offer", None)
        ctx.data["contact_phone"] = offered
        advance(ctx)
        return
    if choice == "retype":
        ctx.data.pop("phone_offer", None)
        ask_contact_phone(ctx)
        return
    if (raw := raw_answer(ctx, max_len=40)) is None:
        return
    result = validation.phone(raw)
    if isinstance(result, validation.Invalid) and result.suggestion:
        ctx.data["phone_offer"] = result.suggestion
        ctx.say(
            result.error,
            old=raw.strip(),
            new=validation.pretty_phone(result.suggestion),
            buttons=[
                ctx.button("btn.use_new_phone", FLOW.payload("contact_phone", "use_new"),
                           new=validation.pretty_phone(result.suggestion)),
                ctx.button("btn.retype", FLOW.payload("contact_phone", "retype")),
            ],
        )  # fmt: skip
        return
    if isinstance(result, validation.Invalid):
        invalid(ctx, result)
        return
    ctx.data.pop("phone_offer", None)
    ctx.data["contact_phone"] = result.value
    advance(ctx)


def ask_contact_email(ctx: Context) -> None:
    question(
        ctx,
        "reg.ask_contact_email",
        buttons=[ctx.button("btn.skip", FLOW.payload("contact_email", "skip"))],
    )


def on_contact_email(ctx: Context) -> None:
    if FLOW.value(ctx) == "skip":
        ctx.data["contact_email"] = None
        advance(ctx)
        return
    if (raw := raw_answer(ctx)) is None:
        return
    result = validation.email(raw)
    if isinstance(result, validation.Invalid):
        invalid(ctx, result)
        return
    ctx.data["contact_email"] = result.value
    advance(ctx)


# --- what the village asks for (II.2) and its earlier registrations (II.4) ------------------


def ask_items(ctx: Context) -> None:
    chosen = set(ctx.data.get("items_pending", ctx.data.get("items", [])))
    lang = ctx.user.language
    lines = [
        ctx.t("reg.item_line", mark="☑" if item.code in chosen else "☐", number=item.number,
              name=item.name.get(lang))
        for item in ctx.plan.support_items
    ]  # fmt: skip
    buttons = [
        Button(("✓ " if item.code in chosen else "") + f"{item.number}. {item.label(lang)}",
               FLOW.payload("items", item.code))
        for item in ctx.plan.support_items
    ]  # fmt: skip
    buttons.append(ctx.button("btn.all_items", FLOW.payload("items", "all")))
    buttons.append(ctx.button("btn.done", FLOW.payload("items", "done")))
    priority = next(p for p in ctx.plan.priorities if p.code == "all_items")
    question(ctx, "reg.ask_items", items="\n".join(lines), section=priority.section,
             buttons=buttons)  # fmt: skip


def on_items(ctx: Context) -> None:
    codes = [item.code for item in ctx.plan.support_items]
    chosen = list(ctx.data.get("items_pending", ctx.data.get("items", [])))
    choice = FLOW.value(ctx)
    if choice is None and ctx.event.kind == "text":
        numbers = typed_numbers(ctx.text)
        if numbers and all(1 <= n <= len(codes) for n in numbers):
            choice = "typed"
            chosen = [codes[n - 1] for n in sorted(numbers)]
    if choice in codes:
        chosen = [c for c in chosen if c != choice] if choice in chosen else [*chosen, choice]
    elif choice == "all":
        chosen = list(codes)
    elif choice == "done" or choice == "typed":
        if not chosen:
            ctx.say("err.no_items")
            ask_items(ctx)
            return
    else:
        remind_choices(ctx)
        return
    ordered = [c for c in codes if c in chosen]
    if choice in ("done", "typed", "all"):
        ctx.data.pop("items_pending", None)
        ctx.data["items"] = ordered
        advance(ctx)
    else:
        ctx.data["items_pending"] = ordered
        ask_items(ctx)


def ask_prior_years(ctx: Context) -> None:
    chosen = set(ctx.data.get("years_pending", ctx.data.get("prior_years", [])))
    buttons = [
        Button(("✓ " if year in chosen else "") + str(year), FLOW.payload("prior_years", year))
        for year in ctx.plan.prior_years
    ]
    buttons.append(ctx.button("btn.no_years", FLOW.payload("prior_years", "none")))
    buttons.append(ctx.button("btn.done", FLOW.payload("prior_years", "done")))
    years = ", ".join(str(y) for y in ctx.plan.prior_years)
    priority = next(p for p in ctx.plan.priorities if p.code == "prior_years")
    question(ctx, "reg.ask_prior_years", years=years, section=priority.section, buttons=buttons)


def on_prior_years(ctx: Context) -> None:
    allowed = list(ctx.plan.prior_years)
    chosen = list(ctx.data.get("years_pending", ctx.data.get("prior_years", [])))
    choice = FLOW.value(ctx)
    if choice is None and ctx.event.kind == "text":
        typed = typed_numbers(ctx.text)
        if typed and all(year in allowed for year in typed):
            chosen, choice = typed, "done"
        elif is_word(ctx, "words.none"):
            choice = "none"
    if choice is not None and choice.isdigit() and int(choice) in allowed:
        year = int(choice)
        chosen = [y for y in chosen if y != year] if year in chosen else [*chosen, year]
        ctx.data["years_pending"] = sorted(chosen)
        ask_prior_years(ctx)
        return
    if choice not in ("done", "none"):
        remind_choices(ctx)
        return
    ctx.data.pop("years_pending", None)
    ctx.data["prior_years"] = [] if choice == "none" else sorted(chosen)
    advance(ctx)


# --- the summary: check, change anything, submit -------------------------------------------


def ask_summary(ctx: Context) -> None:
    ctx.data.pop("editing", None)
    ctx.say_text(
        summary_text(ctx),
        buttons=FLOW.buttons(
            ctx,
            "summary",
            ("btn.submit", "submit"),
            ("btn.edit", "edit"),
            ("btn.pause", "pause"),
        ),
    )


def on_summary(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "submit":
        submit(ctx)
    elif choice == "edit":
        FLOW.enter(ctx, "edit")
    else:
        remind_choices(ctx)


def ask_edit(ctx: Context) -> None:
    buttons = [ctx.button(f"field.{name}", FLOW.payload("edit", name)) for name in QUESTIONS]
    buttons.append(ctx.button("btn.back_to_summary", FLOW.payload("edit", "summary")))
    ctx.say("reg.ask_edit", buttons=buttons)


def on_edit(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice in QUESTIONS:
        ctx.data["editing"] = True
        FLOW.enter(ctx, choice)
    elif choice == "summary":
        FLOW.enter(ctx, "summary")
    else:
        remind_choices(ctx)


def submit(ctx: Context) -> None:
    if not ctx.data.get("registration_id") and window_closed(ctx):
        return  # the draft stays; a returned registration may still be corrected
    unit = ctx.plan.unit(ctx.data["unit"])
    village_key = fold(ctx.data["village"])
    resubmitting = ctx.data.get("registration_id")
    if resubmitting and returned_registration(ctx, resubmitting) is None:
        ctx.finish()
        ctx.say("reg.not_returned", buttons=common.main_buttons(ctx))
        return
    existing = repository.find_live_registration(ctx.session, ctx.plan.id, unit.code, village_key)
    if existing is not None and existing.id != resubmitting:
        ctx.say(
            "reg.duplicate",
            village=existing.village,
            unit=unit.display,
            code=existing.code,
            status=ctx.t(f"status.{existing.status}"),
        )
        ctx.finish()
        return
    registration = save_registration(ctx, village_key)
    ctx.audit("registration.resubmitted" if resubmitting else "registration.submitted",
              registration.code)  # fmt: skip
    notice = "review.resubmitted" if resubmitting else "review.new_submission"
    for officer in repository.officers_of(ctx.session, unit.code):
        ctx.notify(officer, notice, code=registration.code, village=registration.village,
                   unit=unit.display, choices=[("btn.review", "menu:pending")])  # fmt: skip
    ctx.finish()
    ctx.say(
        "reg.submitted",
        code=registration.code,
        unit=unit.display,
        deadline=ctx.t.date(ctx.plan.registration_deadline),
        buttons=[ctx.button("btn.status", "menu:status"), ctx.button("btn.register", "menu:new")],
    )


def save_registration(ctx: Context, village_key: str) -> Registration:
    """Create the registration (or update a returned one), with its history entry."""
    draft = ctx.data
    fields = {
        "unit_code": draft["unit"],
        "village": draft["village"],
        "village_key": village_key,
        "commune": draft["commune"],
        "craft": draft["craft"],
        "decision_number": draft["decision_number"],
        "decision_date": date.fromisoformat(draft["decision_date"]),
        "rep_type": draft["rep_type"],
        "rep_name": draft["rep_name"],
        "rep_legal_entity": bool(draft["rep_legal"]),
        "contact_name": draft["contact_name"],
        "contact_position": draft["contact_position"],
        "contact_phone": draft["contact_phone"],
        "contact_email": draft.get("contact_email"),
        "items": list(draft["items"]),
        "prior_years": list(draft["prior_years"]),
    }
    registration = None
    if draft.get("registration_id"):
        registration = ctx.session.get(Registration, draft["registration_id"])
    if registration is None or registration.user_id != ctx.user.id:
        number = repository.next_number(ctx.session, f"{ctx.plan.id}:{draft['unit']}")
        registration = Registration(
            code=f"{ctx.plan.code_prefix}-{draft['unit']}-{number:04d}",
            plan_id=ctx.plan.id,
            user_id=ctx.user.id,
            status="",
            created_at=ctx.now,
            updated_at=ctx.now,
            **fields,
        )
        ctx.session.add(registration)
        note = None
    else:
        before = draft_of(registration)
        changed = [name for name in QUESTIONS if before.get(name) != draft.get(name)]
        note = CHANGED_NOTE + ",".join(changed)
        for name, value in fields.items():
            setattr(registration, name, value)
    registration.submitted_at = ctx.now
    repository.change_status(
        ctx.session, registration, "submitted", ctx.now, actor=ctx.user, note=note
    )
    return registration


CHANGED_NOTE = "changed:"  # history note of a resubmission: "changed:contact_phone,items"


def draft_of(registration: Registration) -> dict[str, Any]:
    """A registration as a draft (the inverse of save_registration), to fix and resend."""
    r = registration
    return {
        "unit": r.unit_code,
        "village": r.village,
        "commune": r.commune,
        "craft": r.craft,
        "decision_number": r.decision_number,
        "decision_date": r.decision_date.isoformat(),
        "rep_type": r.rep_type,
        "rep_name": r.rep_name,
        "rep_legal": r.rep_legal_entity,
        "contact_name": r.contact_name,
        "contact_position": r.contact_position,
        "contact_phone": r.contact_phone,
        "contact_email": r.contact_email,
        "items": list(r.items),
        "prior_years": list(r.prior_years),
    }


# --- fixing a registration the reviewing unit returned ---------------------------------------


def returned_registration(ctx: Context, registration_id: object) -> Registration | None:
    """The user's own registration with this id, if it is (still) returned."""
    if not str(registration_id).isdigit():
        return None
    registration = repository.lock_registration(ctx.session, int(str(registration_id)))
    if registration is None or registration.user_id != ctx.user.id:
        return None
    return registration if registration.status == "returned" else None


def edit_returned(ctx: Context, registration_id: str) -> None:
    """The "fix" button of /trangthai: load the registration into the draft, at the summary."""
    registration = returned_registration(ctx, registration_id)
    if registration is None:
        ctx.say("reg.not_returned", buttons=common.main_buttons(ctx))
        return
    if has_draft(ctx) and ctx.data.get("registration_id") != registration.id:
        ctx.say("reg.finish_draft_first", village=ctx.data.get("village", ""),
                buttons=[ctx.button("btn.continue", "menu:register")])  # fmt: skip
        return
    ctx.goto(FLOW.name, None)
    ctx.data = {**draft_of(registration), "registration_id": registration.id}
    ctx.say("reg.fix_returned", code=registration.code, reason=registration.return_reason or "")
    FLOW.enter(ctx, "summary")


def summary_text(ctx: Context) -> str:
    return ctx.t("reg.summary", **summary_values(ctx, ctx.data))


def summary_values(ctx: Context, draft: dict[str, Any]) -> dict[str, str]:
    """The answers of a draft as the summary shows them (also the officer's view)."""
    t, lang = ctx.t, ctx.user.language
    items = [ctx.plan.item(code).name.get(lang) for code in draft.get("items", [])]
    years = ", ".join(str(y) for y in draft.get("prior_years", [])) or t("summary.none")
    return dict(
        village=draft.get("village", ""),
        commune=draft.get("commune", ""),
        unit=ctx.plan.unit(draft["unit"]).display if draft.get("unit") else "",
        craft=draft.get("craft", ""),
        decision=draft.get("decision_number", ""),
        decision_date=t.date(date.fromisoformat(draft["decision_date"]))
        if draft.get("decision_date")
        else "",
        rep_type=rep_type_name(ctx, draft),
        rep_name=draft.get("rep_name", ""),
        rep_legal=t("summary.yes") if draft.get("rep_legal") else t("summary.no"),
        contact_name=draft.get("contact_name", ""),
        contact_position=draft.get("contact_position", ""),
        phone=validation.pretty_phone(draft.get("contact_phone") or ""),
        email=draft.get("contact_email") or t("summary.none"),
        items="; ".join(items),
        years=years,
    )


# --- /status, /back, /cancel -----------------------------------------------------------------


def show_status(ctx: Context) -> None:
    registrations = repository.registrations_of(ctx.session, ctx.user)
    if not registrations:
        ctx.say("status.none", buttons=[ctx.button("btn.register", "menu:register")])
        return
    lines = [
        ctx.t(
            "status.line",
            code=r.code,
            village=r.village,
            unit=ctx.plan.unit(r.unit_code).display,
            status=ctx.t(f"status.{r.status}"),
            when=ctx.t.date(r.updated_at.astimezone(ctx.now.tzinfo).date()),
        )
        + (ctx.t("status.reason", reason=r.return_reason) if r.status == "returned" else "")
        for r in registrations
    ]
    fix = [ctx.button("btn.fix", f"edit:{r.id}", code=r.code)
           for r in registrations if r.status == "returned"]  # fmt: skip
    ctx.say("status.list", lines="\n".join(lines), buttons=[*fix, *common.main_buttons(ctx)])


def back(ctx: Context) -> None:
    if ctx.step in QUESTIONS and FLOW.previous(ctx, FIRST_QUESTION):
        return
    ctx.say("reg.cannot_go_back")
    FLOW.ask(ctx)


def pause(ctx: Context) -> None:
    """Stop for now; the draft is kept and /dangky resumes it."""
    ctx.data["at"] = ctx.step if ctx.step in (*QUESTIONS, "summary") else FIRST_QUESTION
    FLOW.enter(ctx, "paused")


def ask_paused(ctx: Context) -> None:
    ctx.say(
        "reg.paused",
        buttons=FLOW.buttons(
            ctx,
            "paused",
            ("btn.continue", "continue"),
            ("btn.delete_draft", "delete"),
        ),
    )


def on_paused(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "continue":
        FLOW.enter(ctx, ctx.data.get("at") or FIRST_QUESTION)
    elif choice == "delete":
        ctx.audit("draft.deleted")
        ctx.finish()
        ctx.say("reg.draft_deleted", buttons=[ctx.button("btn.register", "menu:register")])
    else:
        remind_choices(ctx)


# --- shared pieces of every step --------------------------------------------------------------


def question(
    ctx: Context, key: str, *, buttons: list[Button] | None = None, **values: object
) -> None:
    """Ask with the step number, and always a way back and a way out."""
    step = ctx.step or FIRST_QUESTION
    prefix = ""
    if step in QUESTIONS:
        prefix = ctx.t("reg.progress", n=QUESTIONS.index(step) + 1, total=len(QUESTIONS)) + " "
    nav = [ctx.button("btn.pause", FLOW.payload(step, "pause"))]
    if step in QUESTIONS and step != FIRST_QUESTION and not ctx.data.get("editing"):
        nav.insert(0, ctx.button("btn.back", FLOW.payload(step, "back")))
    ctx.say_text(prefix + ctx.t(key, **values), buttons=[*(buttons or []), *nav])


def raw_answer(ctx: Context, *, max_len: int = 200) -> str | None:
    """The typed answer as is (dates, numbers); None after saying what is wrong."""
    if ctx.event.kind == "button":
        remind_choices(ctx)
        return None
    if not ctx.text.strip():
        invalid(ctx, validation.Invalid("err.empty"))
        return None
    if len(ctx.text) > max_len:
        invalid(ctx, validation.Invalid("err.too_long"), max_len=max_len)
        return None
    return ctx.text.strip()


def answer_text(ctx: Context, *, min_len: int = 2, max_len: int = 200) -> str | None:
    """The typed answer, cleaned; or None after saying what is wrong and asking again."""
    if ctx.event.kind == "button":
        remind_choices(ctx)
        return None
    result = validation.free_text(ctx.text, min_len=min_len, max_len=max_len)
    if isinstance(result, validation.Invalid):
        invalid(ctx, result, max_len=max_len)
        return None
    return result.value


def invalid(ctx: Context, result: validation.Invalid, **values: Any) -> None:
    ctx.say(result.error, **values)
    FLOW.ask(ctx)


def remind_choices(ctx: Context) -> None:
    ctx.say("err.use_buttons")
    FLOW.ask(ctx)


def advance(ctx: Context) -> None:
    """The next question, or back to the summary after changing one answer.

    Questions the eligibility check already answered ("prefilled": items, prior years)
    are skipped; their answers show in the summary, where they can be changed.
    """
    if ctx.data.get("editing") or (ctx.step == QUESTIONS[-1]):
        FLOW.enter(ctx, "summary")
        return
    prefilled = set(ctx.data.get("prefilled", []))
    later = QUESTIONS[QUESTIONS.index(ctx.step) + 1 :] if ctx.step in QUESTIONS else QUESTIONS
    FLOW.enter(ctx, next((q for q in later if q not in prefilled), "summary"))


def rep_type_name(ctx: Context, draft: dict[str, Any] | None = None) -> str:
    code = (ctx.data if draft is None else draft).get("rep_type")
    for kind in ctx.plan.representative_types:
        if kind.code == code:
            return kind.name.get(ctx.user.language)
    return ""


def typed_numbers(text: str) -> list[int]:
    """ "1, 3" or "2014 2016" -> [1, 3] / [2014, 2016]; [] if anything else is typed."""
    parts = fold(text).replace(",", " ").replace("va", " ").replace("and", " ").split()
    return [int(p) for p in parts] if parts and all(p.isdigit() for p in parts) else []


def is_word(ctx: Context, key: str) -> bool:
    """Does the typed text mean one of the catalog's words for `key` (e.g. "none")?"""
    words = {fold(w) for w in ctx.t(key).split("|")}
    return fold(ctx.text) in words


def handle(ctx: Context) -> None:
    """A message inside the registration: navigation first, then the current step."""
    value = ctx.payload.rsplit(":", 1)[-1] if ctx.event.kind == "button" else None
    if value == "pause" and ctx.step != "paused":
        pause(ctx)
    elif value == "back":
        back(ctx)
    elif value == "retry" and ctx.step == "decision_number":
        FLOW.ask(ctx)
    else:
        FLOW.handle(ctx)


FLOW = Flow(
    "reg",
    [
        Step("consent", ask_consent, on_consent),
        Step("followup", ask_followup, on_followup),
        Step("village", ask_village, on_village),
        Step("commune", ask_commune, on_commune),
        Step("unit", ask_unit, on_unit),
        Step("craft", ask_craft, on_craft),
        Step("decision_number", ask_decision_number, on_decision_number),
        Step("decision_date", ask_decision_date, on_decision_date),
        Step("rep_type", ask_rep_type, on_rep_type),
        Step("rep_name", ask_rep_name, on_rep_name),
        Step("rep_legal", ask_rep_legal, on_rep_legal),
        Step("contact_name", ask_contact_name, on_contact_name),
        Step("contact_position", ask_contact_position, on_contact_position),
        Step("contact_phone", ask_contact_phone, on_contact_phone),
        Step("contact_email", ask_contact_email, on_contact_email),
        Step("items", ask_items, on_items),
        Step("prior_years", ask_prior_years, on_prior_years),
        Step("summary", ask_summary, on_summary),
    ],
    extra=[
        Step("resume", ask_resume, on_resume),
        Step("edit", ask_edit, on_edit),
        Step("paused", ask_paused, on_paused),
    ],
)
