"""The reviewing unit's side: what waits, one registration in full, confirm or return.

/pending (officers) -> the unit's submitted registrations, oldest first, a page at a
time -> open one: every field and its history -> confirm: forwarded to the Department
(the plan's "UBND quận/huyện gửi đăng ký về Sở Công Thương", II.5) -> or return it with
a reason, which is required -> the village representative is told at once, in their
language; a returned registration is fixed and sent again under the same code.

A payload only names a registration; it grants nothing. Every step loads the
registration afresh (locked) and checks that the person is an officer of its unit and
that it still waits; otherwise it is refused, or the second of two officers is told it
was already handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from handlers import access, common, registration, validation
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import export, outbox, repository
from storage.models import Registration, StatusChange, User

log = logging.getLogger(__name__)

PAGE = 5
MAX_REASON = 500


def start(ctx: Context) -> None:
    """/pending: the first page of what waits for the officer's unit."""
    if not access.officer(ctx):
        return
    ctx.finish()
    show_list(ctx, page=0)


def show_list(ctx: Context, *, page: int) -> None:
    unit = ctx.plan.unit(ctx.user.unit_code or "")
    rows, total = repository.pending_of_unit(
        ctx.session, ctx.plan.id, unit.code, offset=page * PAGE, limit=PAGE
    )
    if total and not rows:  # the page emptied meanwhile: show the last one
        page = (total - 1) // PAGE
        rows, total = repository.pending_of_unit(
            ctx.session, ctx.plan.id, unit.code, offset=page * PAGE, limit=PAGE
        )
    if not total:
        ctx.finish()
        ctx.say("review.none_waiting", unit=unit.display, buttons=common.main_buttons(ctx))
        return
    ctx.goto(FLOW.name, "list")
    ctx.data = {"page": page}
    pages = (total + PAGE - 1) // PAGE
    lines = [
        ctx.t(
            "review.list_line",
            n=page * PAGE + i,
            code=r.code,
            village=r.village,
            craft=r.craft,
            when=when(ctx, r.submitted_at),
            again=ctx.t("review.again") if r.return_reason else "",
        )
        for i, r in enumerate(rows, start=1)
    ]
    buttons = [ctx.button("btn.open", FLOW.payload("list", r.id), code=r.code, village=r.village)
               for r in rows]  # fmt: skip
    buttons += common.page_buttons(ctx, lambda value: FLOW.payload("list", value), page, pages)
    ctx.say(
        "review.list",
        unit=unit.display,
        total=total,
        page=page + 1,
        pages=pages,
        lines="\n".join(lines),
        buttons=buttons,
    )


def ask_list(ctx: Context) -> None:
    show_list(ctx, page=int(ctx.data.get("page", 0)))


def on_list(ctx: Context) -> None:
    value = FLOW.value(ctx) or ""
    if (page := common.page_of(value)) is not None:
        show_list(ctx, page=page)
    elif value.isdigit():
        open_card(ctx, value)
    else:
        remind_choices(ctx)


# --- one registration ---------------------------------------------------------------------


def open_card(ctx: Context, registration_id: object) -> None:
    enter(ctx, "card", registration_id, show_card)


def ask_card(ctx: Context) -> None:
    open_card(ctx, ctx.data.get("reg"))


def show_card(ctx: Context, r: Registration) -> None:
    ctx.say_text(
        card_text(ctx, r),
        buttons=[
            ctx.button("btn.confirm_forward", FLOW.payload("card", f"confirm.{r.id}")),
            ctx.button("btn.return", FLOW.payload("card", f"return.{r.id}")),
            ctx.button("btn.back_to_list", FLOW.payload("card", "list")),
        ],
    )


def on_card(ctx: Context) -> None:
    action, _, registration_id = (FLOW.value(ctx) or "").partition(".")
    if action == "list":
        ask_list(ctx)
    elif action == "confirm":
        confirm(ctx, registration_id)
    elif action == "return":
        start_return(ctx, registration_id)
    else:
        remind_choices(ctx)


def card_text(ctx: Context, r: Registration) -> str:
    values = registration.summary_values(ctx, registration.draft_of(r))
    history = "\n".join(history_line(ctx, change) for change in r.history)
    return ctx.t(
        "review.card",
        code=r.code,
        status=ctx.t(f"status.{r.status}"),
        history=history,
        **values,
    )


def history_line(ctx: Context, change: StatusChange) -> str:
    event = change.to_status
    note = ""
    if event == "submitted" and change.from_status == "returned":
        event = "resubmitted"
        fields = (change.note or "").removeprefix(registration.CHANGED_NOTE)
        names = [ctx.t(f"field.{name}") for name in fields.split(",") if name]
        note = ctx.t("review.changed", fields=", ".join(names) or ctx.t("summary.none"))
    elif event == "returned" and change.note:
        note = ctx.t("review.reason_note", reason=change.note)
    return ctx.t(
        "review.history_line",
        when=ctx.t.datetime(change.at),
        event=ctx.t(f"review.event.{event}"),
        note=note,
    )


# --- confirm ------------------------------------------------------------------------------


def confirm(ctx: Context, registration_id: str) -> None:
    r = waiting(ctx, registration_id)
    if r is None:
        return
    repository.change_status(ctx.session, r, "forwarded", ctx.now, actor=ctx.user)
    r.forwarded_at = ctx.now
    ctx.audit("registration.forwarded", r.code, unit=r.unit_code)
    unit = ctx.plan.unit(r.unit_code).display
    if (village := owner(ctx, r)) is not None:
        ctx.notify(village, "review.forwarded_notice", code=r.code, village=r.village, unit=unit)
    if ctx.forward:
        payload = {
            "event": "registration.forwarded",
            "registration": export.registration_json(r, ctx.plan),
        }
        repository.enqueue(ctx.session, ctx.user, outbox.WEBHOOK, payload, ctx.now,
                           dedupe_key=f"forwarded:{r.code}", channel=outbox.WEBHOOK)  # fmt: skip
    ctx.say("review.confirmed", code=r.code, village=r.village)
    show_list(ctx, page=int(ctx.data.get("page", 0)))


# --- return, with a reason ----------------------------------------------------------------


def start_return(ctx: Context, registration_id: object) -> None:
    enter(ctx, "reason", registration_id, ask_for_reason)


def ask_reason(ctx: Context) -> None:
    start_return(ctx, ctx.data.get("reg"))


def ask_for_reason(ctx: Context, r: Registration) -> None:
    ctx.say(
        "review.ask_reason",
        code=r.code,
        village=r.village,
        max_len=MAX_REASON,
        buttons=[ctx.button("btn.cancel_return", FLOW.payload("reason", "cancel"))],
    )


def on_reason(ctx: Context) -> None:
    if FLOW.value(ctx) == "cancel":
        open_card(ctx, ctx.data.get("reg"))
        return
    if ctx.event.kind == "button":
        remind_choices(ctx)
        return
    result = validation.free_text(ctx.text, min_len=5, max_len=MAX_REASON)
    if isinstance(result, validation.Invalid):
        too_long = result.error == "err.too_long"  # else empty, or too short to say anything
        ctx.say(result.error if too_long else "review.reason_required", max_len=MAX_REASON)
        ask_reason(ctx)
        return
    if (r := waiting(ctx, ctx.data.get("reg"))) is None:
        return
    reason = result.value
    repository.change_status(ctx.session, r, "returned", ctx.now, actor=ctx.user, note=reason)
    r.return_reason = reason
    ctx.audit("registration.returned", r.code, unit=r.unit_code, reason=reason)
    unit = ctx.plan.unit(r.unit_code).display
    if (village := owner(ctx, r)) is not None:
        ctx.notify(village, "review.returned_notice", code=r.code, village=r.village, unit=unit,
                   reason=reason, choices=[("btn.fix", f"edit:{r.id}")])  # fmt: skip
    ctx.say("review.returned", code=r.code, village=r.village)
    show_list(ctx, page=int(ctx.data.get("page", 0)))


# --- the checks behind every step ---------------------------------------------------------


def enter(
    ctx: Context, step: str, registration_id: object, show: Callable[[Context, Registration], None]
) -> None:
    """Go to a step about one registration, if it may be acted on (see `waiting`)."""
    if (r := waiting(ctx, registration_id)) is not None:
        ctx.goto(FLOW.name, step)
        ctx.data["reg"] = r.id
        show(ctx, r)


def waiting(ctx: Context, registration_id: object) -> Registration | None:
    """The registration, locked, if this officer may act on it and it still waits.

    Otherwise says why (not found / not yours, which read the same, or already handled)
    and returns None.
    """
    if not access.officer(ctx):
        return None
    r = None
    if str(registration_id).isdigit():
        r = repository.lock_registration(ctx.session, int(str(registration_id)))
    if r is None or r.unit_code != ctx.user.unit_code or r.plan_id != ctx.plan.id:
        log.info("officer %s asked for registration %r of another unit or none",
                    ctx.user.id, registration_id)  # fmt: skip
        access.refuse(ctx, "review.not_found")
        return None
    if r.status != "submitted":
        last = r.history[-1] if r.history else None
        ctx.say(
            "review.already_handled",
            code=r.code,
            status=ctx.t(f"status.{r.status}"),
            when=ctx.t.datetime(last.at if last else r.updated_at),
        )
        show_list(ctx, page=int(ctx.data.get("page", 0)))
        return None
    return r


def owner(ctx: Context, r: Registration) -> User | None:
    return ctx.session.get(User, r.user_id) if r.user_id is not None else None


def when(ctx: Context, moment: datetime | None) -> str:
    day = export.local_date(moment)
    return ctx.t.date(day) if day else ""


def remind_choices(ctx: Context) -> None:
    ctx.say("err.use_buttons")
    FLOW.ask(ctx)


def show_unit_status(ctx: Context) -> None:
    """An officer's /status: what waits for their unit."""
    unit = ctx.plan.unit(ctx.user.unit_code or "")
    waits = repository.waiting_by_unit(ctx.session, ctx.plan.id, unit.code)
    buttons = common.main_buttons(ctx)
    if not waits:
        ctx.say("review.none_waiting", unit=unit.display, buttons=buttons)
        return
    w = waits[0]
    ctx.say(
        "review.unit_status",
        unit=unit.display,
        count=w.count,
        code=w.oldest_code,
        when=ctx.t.datetime(w.oldest_submitted_at),
        buttons=buttons,
    )


def handle(ctx: Context) -> None:
    """Anything inside the review conversation: officers only, checked every time."""
    if access.officer(ctx):
        FLOW.handle(ctx)


FLOW = Flow(
    access.REVIEW_FLOW,
    [
        Step("list", ask_list, on_list),
        Step("card", ask_card, on_card),
        Step("reason", ask_reason, on_reason),
    ],
)
