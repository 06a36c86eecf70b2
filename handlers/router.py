"""Sends each event to the right conversation: commands, buttons, the form in progress.

A typed number, a typed button label (with or without diacritics) or a button payload
sent as text (Zalo) all count as pressing that button. A pressed button that the last
answer did not offer comes from an old message, or was forged: it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache

from bot.text import fold
from handlers import (
    access,
    broadcast,
    common,
    eligibility,
    join,
    privacy,
    questions,
    registration,
    reminders,
    review,
    staff,
)
from handlers.context import MAX_TEXT, Context
from handlers.flow import Flow
from storage import repository, roles

Action = Callable[[Context], None]

FLOWS: dict[str, Flow] = {
    registration.FLOW.name: registration.FLOW,
    eligibility.FLOW.name: eligibility.FLOW,
    questions.FLOW.name: questions.FLOW,
    privacy.FLOW.name: privacy.FLOW,
    review.FLOW.name: review.FLOW,
    staff.FLOW.name: staff.FLOW,
    join.FLOW.name: join.FLOW,
    broadcast.FLOW.name: broadcast.FLOW,
}
FLOW_HANDLERS: dict[str, Action] = {
    registration.FLOW.name: registration.handle,
    eligibility.FLOW.name: eligibility.handle,
    questions.FLOW.name: questions.handle,
    privacy.FLOW.name: privacy.FLOW.handle,
    review.FLOW.name: review.handle,
    staff.FLOW.name: staff.handle,
    join.FLOW.name: join.FLOW.handle,
    broadcast.FLOW.name: broadcast.handle,
}


def cancel(ctx: Context) -> None:
    if ctx.flow == registration.FLOW.name and ctx.step not in (None, "paused"):
        registration.pause(ctx)
    elif ctx.flow is not None and ctx.flow != registration.FLOW.name:
        ctx.finish()
        common.menu(ctx, "common.cancelled")
    else:
        common.nothing_to_cancel(ctx)


def status(ctx: Context) -> None:
    """/status: staff see the backlog, officers what waits for their unit, others their own."""
    if access.has_role(ctx, roles.STAFF):
        staff.show_backlog(ctx)
    elif access.has_role(ctx, roles.OFFICER):
        review.show_unit_status(ctx)
    else:
        registration.show_status(ctx)


def back(ctx: Context) -> None:
    if ctx.flow == registration.FLOW.name:
        registration.back(ctx)
    else:
        common.menu(ctx, "common.nothing_to_go_back")


COMMANDS: dict[str, Action] = {
    "start": common.start,
    "batdau": common.start,
    "menu": common.start,
    "dangky": registration.start,
    "register": registration.start,
    "trangthai": status,
    "status": status,
    "huy": cancel,
    "cancel": cancel,
    "quaylai": back,
    "back": back,
    "ngonngu": common.choose_language,
    "lang": common.choose_language,
    "language": common.choose_language,
    "trogiup": common.help,
    "help": common.help,
    "dulieu": privacy.show,
    "xoadulieu": privacy.show,
    "mydata": privacy.show,
    "nhacnho": reminders.show,
    "reminders": reminders.show,
    "kiemtra": eligibility.start,
    "check": eligibility.start,
    "cauhoi": questions.staff_queue,
    "questions": questions.staff_queue,
    # the reviewing unit's officers
    "pending": review.start,
    "choduyet": review.start,
    "join": join.start,
    "thamgia": join.start,
    # Department staff
    "invite": staff.invite,
    "moi": staff.invite,
    "officers": staff.officers,
    "canbo": staff.officers,
    "export": staff.export_file,
    "xuat": staff.export_file,
    "shortlist": staff.show_shortlist,
    "uutien": staff.show_shortlist,
    "thongbao": broadcast.start,
    "broadcast": broadcast.start,
}

MENU: dict[str, Action] = {
    "register": registration.start,
    "new": registration.begin,
    "status": status,
    "help": common.help,
    "language": common.choose_language,
    "check": eligibility.start,
    "pending": review.start,
    "invite": staff.invite,
    "officers": staff.officers,
    "export": staff.export_file,
    "shortlist": staff.show_shortlist,
    "reminders_on": reminders.turn_on,
    "reminders_off": reminders.turn_off,
    "reminders_consent": reminders.agree,
    "reminders_keep_off": reminders.keep_off,
}


def handle(ctx: Context) -> None:
    access.leave_lost_flow(ctx)
    event = ctx.event
    if event.kind == "unsupported":
        common.unsupported(ctx)
        return
    if event.kind == "text" and len(event.text) > MAX_TEXT:
        common.too_long(ctx)
        return
    if event.kind == "text" and event.text.strip().startswith("/"):
        run_command(ctx)
        return
    pressed = typed_choice(ctx)
    if pressed is not None:
        ctx.event = replace(event, kind="button", payload=pressed)
    if ctx.event.kind == "button":
        press(ctx)
    elif ctx.flow in FLOW_HANDLERS and ctx.step is not None:
        if not questions.answer_in_form(ctx, FLOWS[ctx.flow]):
            FLOW_HANDLERS[ctx.flow](ctx)
    else:
        questions.on_text(ctx)  # text outside a form is a question


def run_command(ctx: Context) -> None:
    name = ctx.text.strip().split()[0][1:].split("@")[0].lower()
    action = COMMANDS.get(fold(name).replace(" ", ""))
    if action is None:
        common.unknown_command(ctx)
    else:
        action(ctx)


NOTICE_BUTTONS_LAST = timedelta(days=30)  # how long a notice's buttons stay open


def offered(ctx: Context, payload: str) -> bool:
    """Was this button on the last answer, or on a recent notice to this same user?"""
    if payload in {p for _, p in ctx.conversation.offered or []}:
        return True
    since = ctx.now - NOTICE_BUTTONS_LAST
    return payload in repository.notice_payloads(ctx.session, ctx.user, since)


def press(ctx: Context) -> None:
    payload = ctx.payload
    if payload.startswith("/"):
        # A button that stands for a command (reminders): the same as typing it, so it
        # works from any message, however old.
        ctx.event = replace(ctx.event, kind="text", text=payload)
        run_command(ctx)
    elif not offered(ctx, payload):
        common.stale_button(ctx)
    elif access.button_refused(ctx):
        return
    elif payload.startswith("lang:"):
        common.set_language(ctx, payload.removeprefix("lang:"))
    elif payload.startswith("menu:"):
        MENU.get(payload.removeprefix("menu:"), common.menu)(ctx)
    elif payload.startswith("edit:"):
        registration.edit_returned(ctx, payload.removeprefix("edit:"))
    elif ctx.flow in FLOW_HANDLERS and payload.startswith(f"{ctx.flow}:"):
        FLOW_HANDLERS[ctx.flow](ctx)
    else:
        common.stale_button(ctx)


def typed_choice(ctx: Context) -> str | None:
    """The button a typed message stands for, if the last answer offered one."""
    offered = [(str(label), str(payload)) for label, payload in ctx.conversation.offered or []]
    if not offered or ctx.event.kind != "text":
        return None
    typed = ctx.text.strip()
    for _, payload in offered:
        if typed == payload:
            return payload
    if typed.isdigit() and 1 <= int(typed) <= len(offered):
        return offered[int(typed) - 1][1]
    key = label_key(typed)
    for label, payload in offered:
        if key and key == label_key(label):
            return payload
    for word, suffix in (("words.yes", ":yes"), ("words.no", ":no")):
        if key in {label_key(w) for w in ctx.t(word).split("|")}:
            matches = [payload for _, payload in offered if payload.endswith(suffix)]
            if len(matches) == 1:
                return matches[0]
    return None


@lru_cache(maxsize=4096)
def label_key(text: str) -> str:
    """A label folded, without check marks, emoji or punctuation."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in fold(text)).split())
