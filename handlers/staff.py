"""The Department's side: invite and revoke officers, the back-office file, the shortlist,
and what is stuck in the outbox.

/invite [unit]  a single-use code for one unit's officer (shown once, expires)
/officers       every officer by unit, each with a button to revoke them
/export [xlsx|csv|all]  the forwarded registrations (or all of them) as a file
/shortlist      forwarded, eligible registrations ranked by the plan's priorities (II.4)
/status         registrations by status, the outbox backlog and the latest webhook problem

Staff only: every command, button and typed answer here checks the role first.
"""

from __future__ import annotations

from bot.events import Attachment, Button
from bot.plan import ReviewingUnit
from bot.text import fold
from handlers import access, common
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import export, outbox, repository, roles, shortlist
from storage.models import User

PAGE = 5
SHORTLIST_LINES = 10  # in the chat; the attached file has every row
EXPORTS: dict[str, tuple[export.Format, tuple[str, ...] | None]] = {
    "xlsx": ("xlsx", ("forwarded",)),
    "csv": ("csv", ("forwarded",)),
    "all": ("xlsx", None),
}
REGISTRATION_STATUSES = ("submitted", "returned", "forwarded", "selected", "withdrawn")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "undeliverable")


# --- invitations --------------------------------------------------------------------------


def invite(ctx: Context) -> None:
    """/invite [unit]: a code for one unit's officer."""
    if not access.staff(ctx):
        return
    ctx.finish()
    if typed := common.command_argument(ctx):
        invite_for(ctx, typed)
    else:
        FLOW.enter(ctx, "invite")


def ask_invite(ctx: Context, buttons: list[Button] | None = None) -> None:
    ctx.say(
        "staff.ask_invite_unit",
        unit_label=ctx.plan.unit_label.get(ctx.user.language),
        buttons=[*(buttons or []), ctx.button("btn.cancel", FLOW.payload("invite", "cancel"))],
    )


def on_invite(ctx: Context) -> None:
    value = FLOW.value(ctx)
    if value == "cancel":
        ctx.finish()
        common.menu(ctx, "common.cancelled")
    elif value is not None:
        try:
            create_invite(ctx, ctx.plan.unit(value))
        except KeyError:
            ctx.say("err.use_buttons")
            ask_invite(ctx)
    elif ctx.text.strip():
        invite_for(ctx, ctx.text)
    else:
        ctx.say("err.empty")
        ask_invite(ctx)


def invite_for(ctx: Context, typed: str) -> None:
    match = ctx.plan.find_unit(typed)
    if match.unit is not None:
        create_invite(ctx, match.unit)
        return
    ctx.goto(FLOW.name, "invite")
    label = ctx.plan.unit_label.get(ctx.user.language)
    key = "reg.unit_suggest" if match.suggestions else "reg.unit_unknown"
    ctx.say(key, typed=typed.strip()[:100], unit_label=label)
    ask_invite(ctx, [Button(u.display, FLOW.payload("invite", u.code)) for u in match.suggestions])


def create_invite(ctx: Context, unit: ReviewingUnit) -> None:
    code, created = roles.create_invite(ctx.session, unit.code, ctx.now, created_by=ctx.user)
    ctx.finish()
    ctx.say(
        "staff.invite_created",
        unit=unit.display,
        code=code,
        expires=ctx.t.datetime(created.expires_at),
        buttons=[
            ctx.button("btn.invite_another", "menu:invite"),
            ctx.button("btn.officers", "menu:officers"),
        ],
    )


# --- officers -----------------------------------------------------------------------------


def officers(ctx: Context) -> None:
    """/officers: who reviews for which unit; a button to revoke each."""
    if not access.staff(ctx):
        return
    ctx.finish()
    show_officers(ctx, page=0)


def show_officers(ctx: Context, *, page: int) -> None:
    people = roles.all_officers(ctx.session)
    ctx.goto(FLOW.name, "officers")
    ctx.data = {"page": page}
    invite_button = ctx.button("btn.invite", FLOW.payload("officers", "invite"))
    if not people:
        ctx.say("staff.no_officers", buttons=[invite_button, *common.main_buttons(ctx)][:5])
        return
    pages = (len(people) + PAGE - 1) // PAGE
    page = min(page, pages - 1)
    shown = people[page * PAGE : (page + 1) * PAGE]
    lines = [
        ctx.t("staff.officer_line", n=page * PAGE + i, name=name_of(person),
              unit=unit_name(ctx, person.unit_code), channel=person.channel)
        for i, person in enumerate(shown, start=1)
    ]  # fmt: skip
    buttons = [ctx.button("btn.revoke", FLOW.payload("officers", person.id), name=name_of(person))
               for person in shown]  # fmt: skip
    buttons += common.page_buttons(ctx, lambda value: FLOW.payload("officers", value), page, pages)
    buttons.append(invite_button)
    ctx.say(
        "staff.officers",
        count=len(people),
        page=page + 1,
        pages=pages,
        lines="\n".join(lines),
        buttons=buttons,
    )


def ask_officers(ctx: Context) -> None:
    show_officers(ctx, page=int(ctx.data.get("page", 0)))


def on_officers(ctx: Context) -> None:
    value = FLOW.value(ctx) or ""
    if value == "invite":
        FLOW.enter(ctx, "invite")
    elif (page := common.page_of(value)) is not None:
        show_officers(ctx, page=page)
    elif value.isdigit() and (person := officer_by_id(ctx, value)) is not None:
        ctx.data["officer"] = person.id
        FLOW.enter(ctx, "revoke")
    elif value.isdigit():
        ctx.say("staff.not_an_officer")
        ask_officers(ctx)
    else:
        ctx.say("err.use_buttons")
        ask_officers(ctx)


def ask_revoke(ctx: Context) -> None:
    person = officer_by_id(ctx, ctx.data.get("officer"))
    if person is None:
        ctx.say("staff.not_an_officer")
        show_officers(ctx, page=int(ctx.data.get("page", 0)))
        return
    ctx.say(
        "staff.ask_revoke",
        name=name_of(person),
        unit=unit_name(ctx, person.unit_code),
        buttons=FLOW.buttons(
            ctx,
            "revoke",
            ("btn.revoke_yes", "yes"),
            ("btn.revoke_no", "no"),
        ),
    )


def on_revoke(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    person = officer_by_id(ctx, ctx.data.get("officer"))
    if choice == "yes" and person is not None:
        unit = unit_name(ctx, person.unit_code)
        roles.revoke_officer(ctx.session, person, ctx.now, actor=ctx.user)
        ctx.notify(person, "staff.revoked_notice", unit=unit)
        ctx.say("staff.revoked", name=name_of(person), unit=unit)
    elif choice == "yes":
        ctx.say("staff.not_an_officer")
    elif choice != "no":
        ctx.say("err.use_buttons")
        ask_revoke(ctx)
        return
    show_officers(ctx, page=int(ctx.data.get("page", 0)))


def officer_by_id(ctx: Context, user_id: object) -> User | None:
    person = ctx.session.get(User, int(str(user_id))) if str(user_id).isdigit() else None
    return person if person is not None and roles.is_officer(person) else None


def name_of(person: User) -> str:
    return person.display_name or person.channel_user_id


def unit_name(ctx: Context, code: str | None) -> str:
    return export.unit_display(ctx.plan, code or "")


# --- the back-office file -----------------------------------------------------------------


def export_file(ctx: Context) -> None:
    """/export [xlsx|csv|all]: the file now, or a choice of files."""
    if not access.staff(ctx):
        return
    ctx.finish()
    choice = fold(common.command_argument(ctx))
    if choice in EXPORTS:
        send_export(ctx, choice)
    else:
        FLOW.enter(ctx, "export")


def ask_export(ctx: Context) -> None:
    ctx.say("staff.ask_export", buttons=[
        ctx.button(f"btn.export_{choice}", FLOW.payload("export", choice)) for choice in EXPORTS
    ])  # fmt: skip


def on_export(ctx: Context) -> None:
    choice = FLOW.value(ctx)
    if choice in EXPORTS:
        send_export(ctx, choice)
    else:
        ctx.say("err.use_buttons")
        ask_export(ctx)


def send_export(ctx: Context, choice: str) -> None:
    fmt, statuses = EXPORTS[choice]
    rows = repository.registrations_in(ctx.session, ctx.plan.id, statuses=statuses)
    table = export.registration_table(rows, ctx.plan, ctx.t)
    name = export.filename(ctx.t("export.file_stem"), ctx.today, fmt)
    ctx.audit("export.sent", name, rows=len(rows), statuses=list(statuses or ["*"]))
    ctx.finish()
    ctx.send_file(
        ctx.t("staff.export_ready", count=len(rows), what=ctx.t(f"staff.export_what.{choice}")),
        Attachment(name, export.write(table, fmt), export.MIME[fmt]),
    )
    common.menu(ctx)


# --- the shortlist ------------------------------------------------------------------------


def show_shortlist(ctx: Context) -> None:
    """/shortlist: the ranking in the chat (first rows) and as a file (every row)."""
    if not access.staff(ctx):
        return
    ctx.finish()
    forwarded = repository.registrations_in(ctx.session, ctx.plan.id, statuses=["forwarded"])
    ranked = shortlist.shortlist(forwarded, ctx.plan)
    section = ctx.plan.priorities[0].section if ctx.plan.priorities else ""
    if not ranked:
        ctx.say("staff.shortlist_empty", section=section, buttons=common.main_buttons(ctx))
        return
    ctx.say_text(shortlist.as_text(ranked, ctx.plan, ctx.t, limit=SHORTLIST_LINES))
    table = shortlist.shortlist_table(ranked, ctx.plan, ctx.t)
    name = export.filename(ctx.t("shortlist.file_stem"), ctx.today, "xlsx")
    ctx.audit("shortlist.sent", name, rows=len(ranked))
    ctx.send_file(
        ctx.t("staff.shortlist_file"), Attachment(name, export.to_xlsx(table), export.XLSX_MIME)
    )
    common.menu(ctx)


# --- /status for staff: registrations and the outbox --------------------------------------


def show_backlog(ctx: Context) -> None:
    t = ctx.t
    counts = repository.status_counts(ctx.session, ctx.plan.id)
    kinds = outbox.backlog_by_kind(ctx.session)
    messages: dict[str, int] = {}
    for kind, statuses in kinds.items():
        if kind != outbox.WEBHOOK:
            for status, n in statuses.items():
                messages[status] = messages.get(status, 0) + n
    webhook = kinds.get(outbox.WEBHOOK, {})
    if webhook or ctx.forward:
        forwarding = counted(ctx, webhook, OUTBOX_STATUSES, "outbox.status")
    else:
        forwarding = t("staff.webhook_off")
    problem = outbox.latest_problem(ctx.session, outbox.WEBHOOK)
    ctx.say(
        "staff.backlog",
        registrations=counted(ctx, counts, REGISTRATION_STATUSES, "status"),
        messages=counted(ctx, messages, OUTBOX_STATUSES, "outbox.status"),
        webhook=forwarding,
        problem=t(
            "staff.webhook_problem",
            error=(problem.last_error or "")[:200],
            attempts=problem.attempts,
            status=t(f"outbox.status.{problem.status}"),
            next=t.datetime(problem.next_attempt_at),
        )
        if problem is not None
        else "",
        buttons=common.main_buttons(ctx),
    )


def counted(ctx: Context, counts: dict[str, int], order: tuple[str, ...], prefix: str) -> str:
    known = [s for s in order if counts.get(s)] + sorted(s for s in counts if s not in order)
    parts = [
        f"{ctx.t(f'{prefix}.{s}') if ctx.t.has(f'{prefix}.{s}') else s}: {counts[s]}" for s in known
    ]
    return "; ".join(parts) or ctx.t("staff.nothing")


def handle(ctx: Context) -> None:
    """Anything inside a staff conversation: staff only, checked every time."""
    if access.staff(ctx):
        FLOW.handle(ctx)


FLOW = Flow(
    access.STAFF_FLOW,
    [
        Step("invite", ask_invite, on_invite),
        Step("officers", ask_officers, on_officers),
        Step("revoke", ask_revoke, on_revoke),
        Step("export", ask_export, on_export),
    ],
)
