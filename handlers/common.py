"""Greeting, help, language, and the polite answers to what the bot can't use."""

from __future__ import annotations

from collections.abc import Callable

from bot.events import Button
from bot.i18n import LANGUAGES
from handlers.context import Context


def start(ctx: Context) -> None:
    """/start: a greeting and the main choices; an unfinished draft is offered first."""
    from handlers import registration

    if registration.has_draft(ctx):
        registration.offer_resume(ctx)
        return
    ctx.finish()
    ctx.say("common.welcome", title=ctx.plan.title.get(ctx.user.language))
    menu(ctx)


def menu(ctx: Context, key: str = "common.menu") -> None:
    ctx.say(key, buttons=main_buttons(ctx))


def main_buttons(ctx: Context) -> list[Button]:
    """The main choices of the user's role (at most five, Zalo's limit)."""
    if ctx.user.role == "staff":
        return [
            ctx.button("btn.export", "menu:export"),
            ctx.button("btn.shortlist", "menu:shortlist"),
            ctx.button("btn.officers", "menu:officers"),
            ctx.button("btn.backlog", "menu:status"),
            ctx.button("btn.help", "menu:help"),
        ]
    first = [ctx.button("btn.pending", "menu:pending")] if ctx.user.role == "officer" else []
    return [
        *first,
        ctx.button("btn.register", "menu:register"),
        ctx.button("btn.check", "menu:check"),
        ctx.button("btn.status", "menu:status"),
        ctx.button("btn.help", "menu:help"),
        ctx.button("btn.language", "menu:language"),
    ]


def help(ctx: Context) -> None:
    if ctx.user.role in ("officer", "staff"):
        ctx.say(f"help.{ctx.user.role}")
    ctx.say_text(ctx.t("common.help") + "\n" + ctx.t("qa.help"), buttons=main_buttons(ctx))


def choose_language(ctx: Context) -> None:
    ctx.say(
        "common.ask_language",
        buttons=[Button(ctx.t(f"language.{code}"), f"lang:{code}") for code in LANGUAGES],
    )


def set_language(ctx: Context, code: str) -> None:
    if code in LANGUAGES:
        ctx.user.language = code
        ctx.audit("user.language", code=code)
    ctx.say("common.language_set")
    resume_or_menu(ctx)


def unknown_command(ctx: Context) -> None:
    ctx.say("common.unknown_command", command=ctx.text.split()[0][:40])
    resume_or_menu(ctx)


def unsupported(ctx: Context) -> None:
    """A sticker, photo, file or location: we only read text."""
    ctx.say("common.unsupported")
    resume_or_menu(ctx, quiet=True)


def stale_button(ctx: Context) -> None:
    ctx.say("common.stale_button")
    ctx.stale_notice = ctx.replies[-1].text
    resume_or_menu(ctx, quiet=True)


def too_long(ctx: Context) -> None:
    ctx.say("err.too_long", max_len=1000)
    resume_or_menu(ctx, quiet=True)


def nothing_to_cancel(ctx: Context) -> None:
    menu(ctx, "common.nothing_to_cancel")


def fallback(ctx: Context) -> None:
    """Show what the bot can do (typed text outside a form goes to handlers.questions)."""
    menu(ctx, "common.not_understood")


def resume_or_menu(ctx: Context, *, quiet: bool = False) -> None:
    """Never leave a person without a next step: ask the pending question again."""
    from handlers import router

    flow = router.FLOWS.get(ctx.flow or "")
    if flow is not None and ctx.step is not None:
        flow.ask(ctx)
    elif not quiet or not ctx.replies or not ctx.replies[-1].buttons:
        menu(ctx)


def command_argument(ctx: Context) -> str:
    """What follows a typed command ("/join ABCD-EFGH" -> "ABCD-EFGH"); "" for a button."""
    if ctx.event.kind != "text":
        return ""
    parts = ctx.text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) == 2 and parts[0].startswith("/") else ""


def page_buttons(
    ctx: Context, payload: Callable[[str], str], page: int, pages: int
) -> list[Button]:
    """Previous/next for a list shown a page at a time; `payload` makes each button's."""
    buttons = []
    if page > 0:
        buttons.append(ctx.button("btn.prev_page", payload(f"page.{page - 1}")))
    if page + 1 < pages:
        buttons.append(ctx.button("btn.next_page", payload(f"page.{page + 1}")))
    return buttons


def page_of(value: str) -> int | None:
    """The page a "page.N" button value asks for, or None for any other value."""
    number = value.removeprefix("page.")
    return int(number) if value.startswith("page.") and number.isdigit() else None
