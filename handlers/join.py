"""An officer joins their reviewing unit with the invite code staff gave them.

/join ABCD-EFGH (or /join, then the code): a valid, unused, unexpired code binds the
person to the code's unit as its officer and spends the code. Anything else is refused
politely and changes nothing.
"""

from __future__ import annotations

from handlers import common
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import repository, roles


def start(ctx: Context) -> None:
    """/join [CODE]."""
    typed = common.command_argument(ctx)
    if typed:
        redeem(ctx, typed)
    else:
        ctx.finish()
        FLOW.enter(ctx, "code")


def ask_code(ctx: Context) -> None:
    ctx.say("join.ask_code", buttons=[ctx.button("btn.cancel", FLOW.payload("code", "cancel"))])


def on_code(ctx: Context) -> None:
    if FLOW.value(ctx) == "cancel":
        ctx.finish()
        common.menu(ctx, "common.cancelled")
    elif ctx.event.kind == "button" or not ctx.text.strip():
        ctx.say("err.empty")
        ask_code(ctx)
    else:
        redeem(ctx, ctx.text)


def redeem(ctx: Context, typed: str) -> None:
    result = roles.redeem_invite(ctx.session, ctx.user, typed[:40], ctx.now)
    if result.problem is not None:
        unit = ctx.plan.unit(result.invite.unit_code).display if result.invite else ""
        ctx.say(f"join.{result.problem}", unit=unit)
        if ctx.flow == FLOW.name and result.problem in ("unknown", "used", "expired"):
            ask_code(ctx)
        else:
            common.resume_or_menu(ctx)
        return
    assert result.invite is not None
    if ctx.flow == FLOW.name:
        ctx.finish()
    joined = ctx.plan.unit(result.invite.unit_code)
    waits = repository.waiting_by_unit(ctx.session, ctx.plan.id, joined.code)
    ctx.say(
        "join.welcome",
        unit=joined.display,
        count=waits[0].count if waits else 0,
        buttons=common.main_buttons(ctx),
    )


FLOW = Flow("join", [Step("code", ask_code, on_code)])
