"""/thongbao (/broadcast): department staff announce something to a chosen audience.

text (with {village}, {code} filled per recipient) -> audience (all village
representatives, some units, some registration statuses, the officers) -> preview: the
exact count per channel and the Zalo route of each recipient (list as a file) -> send.
The sending itself runs in the background (bot/broadcaster.py), which tells the staff
member the progress and the final report. /thongbao again shows what is running, with a
button to stop it.
"""

from __future__ import annotations

import csv
import io

from bot.audience import (
    PLACEHOLDERS,
    Audience,
    Selection,
    fill,
    select_audience,
    template_problem,
)
from bot.broadcaster import active, cancel, create, results, why
from bot.events import Attachment, Button
from bot.reminders import load_rules
from bot.text import shorten
from handlers import access, common
from handlers.context import Context
from handlers.flow import Flow, Step
from storage.models import Broadcast

STATUSES = ("submitted", "returned", "forwarded", "selected")
MAX_RUNNING_SHOWN = 3
ROUTES = ("direct", "cs", "promotion", "unreachable")  # in the preview, in this order


def start(ctx: Context) -> None:
    if not access.staff(ctx):
        return
    ctx.finish()
    FLOW.enter(ctx, "running" if active(ctx.session) else "text")


# --- what is running ------------------------------------------------------------------------


def ask_running(ctx: Context) -> None:
    lines, buttons = [], []
    for broadcast in active(ctx.session)[:MAX_RUNNING_SHOWN]:
        lines.append(progress_line(ctx, broadcast))
        buttons.append(
            ctx.button("btn.bc_stop", FLOW.payload("running", broadcast.id), id=broadcast.id)
        )
    buttons.append(ctx.button("btn.bc_refresh", FLOW.payload("running", "refresh")))
    buttons.append(ctx.button("btn.bc_new", FLOW.payload("running", "new")))
    buttons.append(ctx.button("btn.close", FLOW.payload("running", "exit")))
    key = "bc.running" if lines else "bc.none_running"
    ctx.say(key, lines="\n".join(lines), buttons=buttons)


def progress_line(ctx: Context, broadcast: Broadcast) -> str:
    result = results(ctx.session, broadcast.id)
    excerpt = shorten(broadcast.text, 40)
    return ctx.t(
        "bc.running_line",
        id=broadcast.id,
        text=excerpt,
        done=result.finished,
        total=result.total,
        delivered=result.delivered,
        status=ctx.t(f"bc.status.{broadcast.status}"),
    )


def on_running(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "new":
        FLOW.enter(ctx, "text")
    elif choice == "refresh":
        ask_running(ctx)
    elif choice is not None and choice.isdigit():
        ctx.data["stop"] = int(choice)
        FLOW.enter(ctx, "stop")
    else:
        remind_choices(ctx)


def ask_stop(ctx: Context) -> None:
    broadcast = ctx.session.get(Broadcast, ctx.data.get("stop", 0))
    if broadcast is None or broadcast.status not in ("queued", "sending"):
        ctx.say("bc.already_finished")
        FLOW.enter(ctx, "running")
        return
    waiting = results(ctx.session, broadcast.id).waiting
    ctx.say(
        "bc.ask_stop",
        id=broadcast.id,
        waiting=waiting,
        buttons=[
            ctx.button("btn.bc_stop_yes", FLOW.payload("stop", "yes")),
            ctx.button("btn.bc_stop_no", FLOW.payload("stop", "no")),
        ],
    )


def on_stop(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    broadcast = ctx.session.get(Broadcast, ctx.data.get("stop", 0))
    if choice == "yes" and broadcast is not None and broadcast.status in ("queued", "sending"):
        stopped = cancel(ctx.session, broadcast, ctx.user, ctx.now)
        ctx.audit("broadcast.cancelled", f"bc:{broadcast.id}", stopped=stopped)
        ctx.finish()
        ctx.say("bc.stopped", id=broadcast.id, count=stopped)
        common.menu(ctx)
    elif choice in ("yes", "no"):
        FLOW.enter(ctx, "running")
    else:
        remind_choices(ctx)


# --- composing --------------------------------------------------------------------------------


def ask_text(ctx: Context) -> None:
    ctx.say(
        "bc.ask_text",
        placeholders=", ".join("{" + p + "}" for p in PLACEHOLDERS),
        buttons=[cancel_button(ctx)],
    )


def on_text(ctx: Context) -> None:
    if ctx.event.kind != "text":
        remind_choices(ctx)
        return
    text = ctx.text.strip()
    if not text:
        ctx.say("err.empty")
        ask_text(ctx)
        return
    problem = template_problem(text)
    if problem is not None:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        ctx.say("bc.bad_placeholder", name=problem, allowed=allowed)
        ask_text(ctx)
        return
    ctx.data["text"] = text
    FLOW.enter(ctx, "preview" if ctx.data.get("audience") else "audience")


def ask_audience(ctx: Context) -> None:
    ctx.say(
        "bc.ask_audience",
        unit_label=ctx.plan.unit_label.get(ctx.user.language),
        buttons=[
            ctx.button("btn.bc_all", FLOW.payload("audience", "all")),
            ctx.button(
                "btn.bc_units",
                FLOW.payload("audience", "units"),
                unit_label=ctx.plan.unit_label.get(ctx.user.language),
            ),
            ctx.button("btn.bc_status", FLOW.payload("audience", "status")),
            ctx.button("btn.bc_officers", FLOW.payload("audience", "officers")),
            cancel_button(ctx),
        ],
    )


def on_audience(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "all":
        ctx.data["audience"] = Audience("all").as_json()
        FLOW.enter(ctx, "preview")
    elif choice == "officers":
        ctx.data["audience"] = Audience("officers").as_json()
        FLOW.enter(ctx, "preview")
    elif choice == "units":
        FLOW.enter(ctx, "units")
    elif choice == "status":
        FLOW.enter(ctx, "statuses")
    else:
        remind_choices(ctx)


def ask_units(ctx: Context) -> None:
    ctx.say(
        "bc.ask_units",
        unit_label=ctx.plan.unit_label.get(ctx.user.language),
        buttons=[back_button(ctx), cancel_button(ctx)],
    )


def on_units(ctx: Context) -> None:
    if ctx.event.kind != "text" or not ctx.text.strip():
        remind_choices(ctx)
        return
    codes: list[str] = []
    unknown: list[str] = []
    for part in ctx.text.replace(";", ",").replace("\n", ",").split(","):
        if not part.strip():
            continue
        match = ctx.plan.find_unit(part.strip())
        if match.unit is None:
            unknown.append(part.strip()[:40])
        elif match.unit.code not in codes:
            codes.append(match.unit.code)
    if unknown or not codes:
        ctx.say(
            "bc.unknown_units",
            names=", ".join(unknown) or ctx.text.strip()[:40],
            unit_label=ctx.plan.unit_label.get(ctx.user.language),
        )
        ask_units(ctx)
        return
    ctx.data["audience"] = Audience("units", units=tuple(codes)).as_json()
    FLOW.enter(ctx, "preview")


def ask_statuses(ctx: Context) -> None:
    chosen = set(ctx.data.get("statuses", []))
    buttons = [
        Button(("✓ " if s in chosen else "") + ctx.t(f"status.{s}"), FLOW.payload("statuses", s))
        for s in STATUSES
    ]
    buttons += [ctx.button("btn.done", FLOW.payload("statuses", "done")), back_button(ctx)]
    ctx.say("bc.ask_statuses", buttons=buttons)


def on_statuses(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    chosen = list(ctx.data.get("statuses", []))
    if choice in STATUSES:
        chosen = [s for s in chosen if s != choice] if choice in chosen else [*chosen, choice]
        ctx.data["statuses"] = chosen
        ask_statuses(ctx)
    elif choice == "done" and chosen:
        statuses = tuple(s for s in STATUSES if s in chosen)
        ctx.data["audience"] = Audience("status", statuses=statuses).as_json()
        FLOW.enter(ctx, "preview")
    elif choice == "done":
        ctx.say("bc.no_status")
        ask_statuses(ctx)
    else:
        remind_choices(ctx)


# --- preview and sending -------------------------------------------------------------------


def selection(ctx: Context) -> Selection:
    rules = load_rules(ctx.plan)
    audience = Audience.from_json(ctx.data["audience"])
    return select_audience(ctx.session, ctx.plan, audience, rules.zalo, ctx.now)


def ask_preview(ctx: Context) -> None:
    chosen = selection(ctx)
    nav = [
        ctx.button("btn.bc_list", FLOW.payload("preview", "list")),
        ctx.button("btn.bc_edit_text", FLOW.payload("preview", "text")),
        ctx.button("btn.bc_change_audience", FLOW.payload("preview", "audience")),
        cancel_button(ctx),
    ]
    if not chosen.targets:
        ctx.say("bc.no_recipients", excluded=excluded_text(ctx, chosen), buttons=nav[2:])
        return
    first = chosen.targets[0]
    example = fill(ctx.data["text"], first)
    ctx.say_text(
        "\n".join(
            [
                ctx.t("bc.preview", name=first.name, example=example, total=len(chosen.targets)),
                *channel_lines(ctx, chosen),
                excluded_text(ctx, chosen),
            ]
        ).rstrip(),
        buttons=[ctx.button("btn.bc_send", FLOW.payload("preview", "send")), *nav],
    )


def channel_lines(ctx: Context, chosen: Selection) -> list[str]:
    lines = []
    for channel, routes in sorted(chosen.per_channel().items()):
        details = "; ".join(
            ctx.t(f"bc.route.{route}", count=routes[route]) for route in ROUTES if routes[route]
        )
        lines.append(
            ctx.t(
                "bc.channel_line",
                channel=ctx.t(f"channel.{channel}"),
                count=sum(routes.values()),
                details=details,
            )
        )
    unreachable = [t for t in chosen.targets if t.route.name is None]
    if unreachable:
        names = ", ".join(f"{t.name} ({why(ctx.t, t.route.reason or '')})" for t in unreachable[:5])
        more = len(unreachable) - 5
        lines.append(
            ctx.t("bc.unreachable_names", names=names)
            + (ctx.t("bc.and_more", count=more) if more > 0 else "")
        )
    return lines


def excluded_text(ctx: Context, chosen: Selection) -> str:
    lines = [ctx.t("bc.no_consent", count=chosen.no_consent)] if chosen.no_consent else []
    text = ctx.data.get("text", "")
    for name in PLACEHOLDERS:
        missing = sum(1 for t in chosen.targets if not getattr(t, name))
        if missing and "{" + name + "}" in text:
            lines.append(ctx.t("bc.missing_value", count=missing, name="{" + name + "}"))
    return "\n".join(lines)


def on_preview(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice == "send":
        send(ctx)
    elif choice == "list":
        ctx.send_file(ctx.t("bc.list_caption"), recipients_file(ctx, selection(ctx)))
        ctx.say(
            "bc.after_list",
            buttons=[
                ctx.button("btn.bc_send", FLOW.payload("preview", "send")),
                ctx.button("btn.bc_change_audience", FLOW.payload("preview", "audience")),
                cancel_button(ctx),
            ],
        )
    elif choice == "text":
        FLOW.enter(ctx, "text")
    elif choice == "audience":
        ctx.data.pop("audience", None)
        ctx.data.pop("statuses", None)
        FLOW.enter(ctx, "audience")
    else:
        remind_choices(ctx)


def recipients_file(ctx: Context, chosen: Selection) -> Attachment:
    """One line per recipient: channel, who, village, code, route, and why not."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = ("channel", "user", "name", "village", "code", "route", "reason")
    writer.writerow([ctx.t(f"bc.col.{c}") for c in columns])
    for t in chosen.targets:
        route = ctx.t(f"bc.route_name.{t.route.name or 'unreachable'}")
        reason = why(ctx.t, t.route.reason) if t.route.reason else ""
        writer.writerow([t.channel, t.channel_user_id, t.name, t.village, t.code, route, reason])
    data = buffer.getvalue().encode("utf-8-sig")  # a BOM, so spreadsheet apps read UTF-8
    return Attachment("nguoi-nhan-thong-bao.csv", data, "text/csv")


def send(ctx: Context) -> None:
    if not access.staff(ctx):  # checked again where it matters
        return
    chosen = selection(ctx)
    if not chosen.targets:
        FLOW.enter(ctx, "preview")
        return
    audience = Audience.from_json(ctx.data["audience"])
    broadcast = create(ctx.session, ctx.user, ctx.data["text"], audience, chosen, ctx.now)
    ctx.audit(
        "broadcast.created",
        f"bc:{broadcast.id}",
        audience=audience.as_json(),
        recipients=len(chosen.targets),
    )
    ctx.finish()
    ctx.say(
        "bc.queued",
        id=broadcast.id,
        total=len(chosen.targets),
        buttons=[ctx.button("btn.bc_open", "/thongbao")],
    )


# --- shared ----------------------------------------------------------------------------------


def cancel_button(ctx: Context) -> Button:
    return ctx.button("btn.cancel", FLOW.payload(ctx.step or "text", "cancel"))


def back_button(ctx: Context) -> Button:
    return ctx.button("btn.back", FLOW.payload(ctx.step or "text", "back"))


def remind_choices(ctx: Context) -> None:
    ctx.say("err.use_buttons")
    FLOW.ask(ctx)


def handle(ctx: Context) -> None:
    """Every message inside the broadcast conversation; staff only, checked each time."""
    if not access.staff(ctx):
        return
    value = ctx.payload.rsplit(":", 1)[-1] if ctx.event.kind == "button" else None
    if value == "cancel":
        ctx.finish()
        common.menu(ctx, "common.cancelled")
    elif value == "exit":
        ctx.finish()
        common.menu(ctx)
    elif value == "back":
        ctx.data.pop("statuses", None)
        FLOW.enter(ctx, "audience")
    else:
        FLOW.handle(ctx)


FLOW = Flow(
    access.BROADCAST_FLOW,
    [
        Step("text", ask_text, on_text),
        Step("audience", ask_audience, on_audience),
        Step("units", ask_units, on_units),
        Step("statuses", ask_statuses, on_statuses),
        Step("preview", ask_preview, on_preview),
    ],
    extra=[Step("running", ask_running, on_running), Step("stop", ask_stop, on_stop)],
)
