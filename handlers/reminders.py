"""/nhacnho: a person turns deadline reminders on or off.

Reminders go only to people who agreed to follow-up messages; turning them on without that
consent first asks for it (explicit, per purpose, recorded with its text version). Turning
them off keeps the consent (announcements may still come) and can be undone at any time.
The buttons are `menu:` actions, so a registration in progress is not interrupted.
"""

from __future__ import annotations

from bot.events import Button
from handlers import common
from handlers.context import Context
from handlers.registration import CONSENT_VERSION
from storage import repository


def has_followup_consent(ctx: Context) -> bool:
    consent = repository.active_consent(ctx.session, ctx.user, "followup")
    return consent is not None and consent.granted


def show(ctx: Context) -> None:
    """/nhacnho: the current setting and the button to change it."""
    if ctx.user.reminders_enabled and has_followup_consent(ctx):
        ctx.say(
            "rem.status_on",
            buttons=[ctx.button("btn.reminders_off", "menu:reminders_off"), menu_button(ctx)],
        )
    else:
        ctx.say(
            "rem.status_off",
            buttons=[ctx.button("btn.reminders_on", "menu:reminders_on"), menu_button(ctx)],
        )


def turn_on(ctx: Context) -> None:
    if not has_followup_consent(ctx):
        ctx.say(
            "rem.ask_consent",
            controller=ctx.plan.controller.get(ctx.user.language),
            version=CONSENT_VERSION,
            buttons=[
                ctx.button("btn.followup_agree", "menu:reminders_consent"),
                ctx.button("btn.followup_no", "menu:reminders_keep_off"),
            ],
        )
        return
    enable(ctx)


def agree(ctx: Context) -> None:
    """Explicit consent to follow-up messages, given by pressing the button."""
    repository.record_consent(ctx.session, ctx.user, "followup", CONSENT_VERSION, True, ctx.now)
    ctx.audit("consent.granted", purpose="followup", version=CONSENT_VERSION)
    enable(ctx)


def enable(ctx: Context) -> None:
    ctx.user.reminders_enabled = True
    ctx.audit("reminders.on")
    ctx.say("rem.turned_on")
    common.resume_or_menu(ctx)


def turn_off(ctx: Context) -> None:
    ctx.user.reminders_enabled = False
    ctx.audit("reminders.off")
    ctx.say("rem.turned_off")
    common.resume_or_menu(ctx)


def keep_off(ctx: Context) -> None:
    ctx.say("rem.kept_off")
    common.resume_or_menu(ctx)


def menu_button(ctx: Context) -> Button:
    return ctx.button("btn.menu", "menu:menu")
