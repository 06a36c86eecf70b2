"""A person's rights over their data (Law 91/2025/QH15): see it, withdraw, have it erased.

Erasing withdraws every consent, deletes the draft, clears the contact person from the
person's registrations, and empties the questions they passed to staff. The village's own
record (village, representative organisation, status) stays with the Department; the
audit log keeps what was done.
"""

from __future__ import annotations

from handlers import common
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import questions, repository


def show(ctx: Context) -> None:
    """/dulieu: what the bot keeps about this person, and the way to erase it."""
    registrations = repository.registrations_of(ctx.session, ctx.user)
    consents = [
        ctx.t(
            "privacy.consent_line",
            purpose=ctx.t(f"privacy.purpose.{c.purpose}"),
            answer=ctx.t("summary.yes") if c.granted else ctx.t("summary.no"),
            when=ctx.t.date(c.at.astimezone(ctx.now.tzinfo).date()),
            version=c.text_version,
        )
        for c in ctx.user.consents
        if c.withdrawn_at is None
    ]
    ctx.goto(FLOW.name, "menu")
    ctx.say(
        "privacy.summary",
        controller=ctx.plan.controller.get(ctx.user.language),
        codes=", ".join(r.code for r in registrations) or ctx.t("summary.none"),
        draft=ctx.t("summary.yes") if ctx.data.get("village") else ctx.t("summary.no"),
        consents="\n".join(consents) or ctx.t("summary.none"),
        buttons=FLOW.buttons(
            ctx,
            "menu",
            ("btn.erase", "erase"),
            ("btn.keep", "keep"),
        ),
    )


def on_menu(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "erase":
        FLOW.enter(ctx, "confirm")
    elif choice == "keep":
        ctx.finish()
        common.menu(ctx)
    else:
        common.resume_or_menu(ctx)


def ask_confirm(ctx: Context) -> None:
    ctx.say(
        "privacy.ask_confirm",
        buttons=FLOW.buttons(
            ctx,
            "confirm",
            ("btn.erase_confirm", "yes"),
            ("btn.keep", "no"),
        ),
    )


def on_confirm(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "yes":
        erase(ctx)
    elif choice == "no":
        ctx.finish()
        common.menu(ctx, "privacy.kept")
    else:
        common.resume_or_menu(ctx)


def erase(ctx: Context) -> None:
    withdrawn = repository.withdraw_consents(ctx.session, ctx.user, ctx.now)
    registrations = repository.registrations_of(ctx.session, ctx.user)
    for registration in registrations:
        registration.contact_name = None
        registration.contact_position = None
        registration.contact_phone = None
        registration.contact_email = None
        registration.updated_at = ctx.now
    ctx.user.display_name = None
    ctx.user.reminders_enabled = False
    ctx.audit(
        "privacy.erased",
        consents_withdrawn=withdrawn,
        questions_erased=questions.erase_asked_by(ctx.session, ctx.user),
        registrations=[r.code for r in registrations],
    )
    ctx.finish()
    ctx.say("privacy.erased", buttons=common.main_buttons(ctx))


def ask_menu(ctx: Context) -> None:
    show(ctx)


FLOW = Flow("privacy", [Step("menu", ask_menu, on_menu), Step("confirm", ask_confirm, on_confirm)])
