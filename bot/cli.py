"""The `langnghe-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.plan import Plan, ReviewingUnit


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database URL (default: sqlite:///langnghe.db)")
    common.add_argument("--today", help="pretend today is this day, e.g. 2017-05-10")
    common.add_argument("--plan", type=Path, help="plan file (default: the 2017 plan)")

    root = argparse.ArgumentParser(
        prog="langnghe-bot", description="Craft-village brand registration bot"
    )
    commands = root.add_subparsers(dest="command")

    console = commands.add_parser("console", parents=[common], help="chat in the terminal")
    console.add_argument("--user", default="local", help="who you are (several users: ids)")
    console.add_argument("--lang", choices=["vi", "en"], help="language of a new user")
    console.add_argument("--jsonl", action="store_true", help="one JSON object per input line")
    console.add_argument(
        "--files", type=Path, default=Path("."), help="where files the bot sends are saved (.)"
    )

    serve = commands.add_parser("serve", parents=[common], help="run the webhook server")
    serve.add_argument("--host", help="address to listen on (default from settings)")
    serve.add_argument("--port", type=int, help="port (default from settings)")

    telegram = commands.add_parser("telegram", parents=[common], help="run the Telegram bot")
    telegram.add_argument("--polling", action="store_true", help="fetch updates by long polling")
    telegram.add_argument("--base-url", help="a Bot API server other than Telegram's (tests)")

    plan = commands.add_parser("plan", help="plan files")
    plan_commands = plan.add_subparsers(dest="plan_command", required=True)
    check = plan_commands.add_parser("check", help="validate a plan file")
    check.add_argument("file", type=Path)

    reminders = commands.add_parser("reminders", help="deadline reminders")
    reminder_commands = reminders.add_subparsers(dest="reminders_command", required=True)
    preview = reminder_commands.add_parser(
        "preview", parents=[common], help="list what the morning run of --today would send"
    )
    preview.add_argument("--rules", type=Path, help="reminder rules file")
    run = reminder_commands.add_parser(
        "run", parents=[common], help="queue the reminders due now (once)"
    )
    run.add_argument("--rules", type=Path, help="reminder rules file")
    check_rules = reminder_commands.add_parser("check", help="validate a reminder rules file")
    check_rules.add_argument("file", type=Path)
    check_rules.add_argument("--plan", type=Path, help="the plan it belongs to")

    db = commands.add_parser("db", help="database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", parents=[common], help="apply migrations")

    admin = commands.add_parser("admin", help="roles: Department staff and district officers")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    add_staff = admin_commands.add_parser(
        "add-staff", parents=[common], help="make a chat user Department staff"
    )
    add_staff.add_argument("--channel", required=True, help="console, telegram or zalo")
    add_staff.add_argument("--user", required=True, help="the user's id on that channel")
    invite = admin_commands.add_parser(
        "invite", parents=[common], help="a single-use invite code for a unit's officer"
    )
    invite.add_argument("--unit", required=True, help='the unit, e.g. "Gia Lâm" or GLA')
    invite.add_argument("--days", type=int, default=7, help="valid for this many days (7)")
    admin_commands.add_parser("officers", parents=[common], help="list the officers")
    revoke = admin_commands.add_parser("revoke", parents=[common], help="revoke an officer")
    revoke.add_argument("--channel", required=True)
    revoke.add_argument("--user", required=True)

    export = commands.add_parser(
        "export", parents=[common], help="the registrations as an XLSX or CSV file"
    )
    export.add_argument("--format", choices=["xlsx", "csv"], help="default: from --output")
    export.add_argument("--output", type=Path, required=True, help="file to write")
    export.add_argument(
        "--status",
        action="append",
        help="forwarded (default), submitted, returned, ... or all; repeat for several",
    )
    export.add_argument("--unit", action="append", help="only this unit; repeat for several")
    export.add_argument("--lang", choices=["vi", "en"], default="vi", help="headers (vi)")

    shortlist = commands.add_parser(
        "shortlist", parents=[common], help="forwarded registrations ranked by priority (II.4)"
    )
    shortlist.add_argument("--output", type=Path, help="also write it as .xlsx or .csv")
    shortlist.add_argument("--lang", choices=["vi", "en"], default="vi")

    forward = commands.add_parser(
        "forward", parents=[common], help="POST forwarded registrations to LANGNGHE_FORWARD_URL"
    )
    forward.add_argument("--once", action="store_true", help="one round, then exit")
    forward.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
    zalo = commands.add_parser("zalo", help="Zalo Official Account")
    zalo_commands = zalo.add_subparsers(dest="zalo_command", required=True)
    set_token = zalo_commands.add_parser(
        "set-token", parents=[common], help="store the OA's first access/refresh token pair"
    )
    set_token.add_argument("--access-token", required=True, help='the token, or "-" to type it')
    set_token.add_argument("--refresh-token", required=True, help='the token, or "-" to type it')
    set_token.add_argument("--expires-in", type=int, help="seconds left (default 90000)")
    zalo_commands.add_parser("token", parents=[common], help="when the stored token expires")
    return root


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    overrides = {
        "database_url": getattr(args, "db", None),
        "today": getattr(args, "today", None),
        "plan": getattr(args, "plan", None),
        "reminders": getattr(args, "rules", None),
    }
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    if args.command in (None, "console"):
        if args.command is None:
            args = parser().parse_args(["console", *(argv or sys.argv[1:])])
        return run_console(args)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "telegram":
        return run_telegram(args)
    if args.command == "plan":
        return check_plan(args.file)
    if args.command == "db":
        return upgrade_db(args)
    if args.command == "reminders":
        from bot import reminder_cli

        return reminder_cli.main(args, settings_from(args))
    if args.command == "admin":
        return admin(args)
    if args.command == "export":
        return export_file(args)
    if args.command == "shortlist":
        return print_shortlist(args)
    if args.command == "forward":
        return forward(args)
    if args.command == "zalo":
        return zalo_tokens(args)
    return 2


def run_console(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.channels import console

    app = build(settings_from(args))
    try:
        return asyncio.run(
            console.run(
                app,
                args.user,
                language=args.lang,
                jsonl=args.jsonl,
                files=args.files,
                stdin=sys.stdin,
                stdout=sys.stdout,
            )
        )
    finally:
        app.close()


def run_serve(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.server import configured_channels, serve

    logging.getLogger().setLevel(logging.INFO)
    settings = settings_from(args)
    app = build(settings)
    try:
        channels = configured_channels(app)
        host, port = args.host or settings.host, args.port or settings.port
        asyncio.run(serve(app, channels, host, port))
    finally:
        app.close()
    return 0


def run_telegram(args: argparse.Namespace) -> int:
    """Polling mode, for a laptop; in production the webhook runs inside `serve`."""
    from bot.app import build
    from bot.channels import telegram

    if not args.polling:
        print("langnghe-bot telegram --polling: long polling; webhook: langnghe-bot serve",
              file=sys.stderr)  # fmt: skip
        return 2
    settings = settings_from(args)
    if not settings.telegram_token.get_secret_value():
        print("set LANGNGHE_TELEGRAM_TOKEN (the token @BotFather gave you)", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(logging.INFO)
    app = build(settings)
    try:
        asyncio.run(telegram.run_until_signal(app, base_url=args.base_url))
    finally:
        app.close()
    return 0


def check_plan(path: Path) -> int:
    """Check a plan file, and the knowledge file beside it (<name>.kb.toml) if there is one."""
    from bot.plan import check_plan_file, load_plan

    errors = check_plan_file(path)
    if not errors:
        print(f"{path}: OK")
        kb = path.with_name(path.stem + ".kb.toml")
        if not kb.exists():
            return 0
        from bot.knowledge_file import check_file

        path, errors = kb, check_file(kb, load_plan(path))
        if not errors:
            print(f"{kb}: OK")
            return 0
    print(f"{path}: {len(errors)} error(s)", file=sys.stderr)
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    return 1


def upgrade_db(args: argparse.Namespace) -> int:
    from storage.db import Database

    settings = settings_from(args)
    Database(settings.database_url).close()
    print(f"database is up to date: {settings.database_url}")
    return 0


# --- roles ------------------------------------------------------------------------------


def admin(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.app import build
    from storage import repository, roles

    app = build(settings_from(args))
    try:
        now = app.clock.now()
        with app.db.transaction() as session:
            if args.admin_command == "add-staff":
                user = roles.add_staff(session, args.channel, args.user, now)
                print(f"{user.channel}:{user.channel_user_id} is Department staff")
            elif args.admin_command == "invite":
                unit = find_unit(app.plan, args.unit)
                if unit is None:
                    return 1
                if args.days < 1:
                    print("--days must be at least 1", file=sys.stderr)
                    return 2
                code, invite = roles.create_invite(
                    session, unit.code, now, created_by=None, ttl=timedelta(days=args.days)
                )
                expires = invite.expires_at.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
                print(f"Invite code for an officer of {unit.display}: {code}")
                print(f"Single use, expires {expires}. The officer sends the bot: /join {code}")
            elif args.admin_command == "officers":
                people = roles.all_officers(session)
                for person in people:
                    name = person.display_name or ""
                    print(f"{person.unit_code}\t{person.channel}:{person.channel_user_id}\t{name}")
                if not people:
                    print("no officers yet")
            elif args.admin_command == "revoke":
                officer = repository.get_user(session, args.channel, args.user)
                if officer is None or not roles.revoke_officer(session, officer, now, actor=None):
                    print(f"{args.channel}:{args.user} is not an officer", file=sys.stderr)
                    return 1
                print(f"{args.channel}:{args.user} is no longer an officer")
        return 0
    finally:
        app.close()


def find_unit(plan: Plan, typed: str) -> ReviewingUnit | None:
    """A unit by code or by any spelling of its name; says what it could mean if not."""
    try:
        return plan.unit(typed)
    except KeyError:
        pass
    match = plan.find_unit(typed)
    if match.unit is None:
        hint = ", ".join(f"{u.display} ({u.code})" for u in match.suggestions)
        print(f"no {plan.unit_label.en} {typed!r}" + (f"; did you mean {hint}?" if hint else ""),
              file=sys.stderr)  # fmt: skip
    return match.unit


# --- the back office ----------------------------------------------------------------------


def export_file(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.i18n import Translator
    from storage import export, repository

    fmt = args.format or args.output.suffix.lstrip(".").lower()
    if fmt not in ("xlsx", "csv"):
        print("say --format xlsx or csv (or name the file .xlsx or .csv)", file=sys.stderr)
        return 2
    statuses = [s for part in args.status or ["forwarded"] for s in part.split(",") if s]
    app = build(settings_from(args))
    try:
        units = None
        if args.unit:
            found = [find_unit(app.plan, typed) for typed in args.unit]
            if any(u is None for u in found):
                return 1
            units = [u.code for u in found if u is not None]
        with app.db.transaction() as session:
            rows = repository.registrations_in(
                session,
                app.plan.id,
                statuses=None if "all" in statuses else statuses,
                unit_codes=units,
            )
            table = export.registration_table(rows, app.plan, Translator(args.lang))
        args.output.write_bytes(export.write(table, fmt))
        print(f"{args.output}: {len(table.rows)} registration(s), {fmt}")
        return 0
    finally:
        app.close()


def print_shortlist(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.i18n import Translator
    from storage import export, repository, shortlist

    app = build(settings_from(args))
    t = Translator(args.lang)
    try:
        with app.db.transaction() as session:
            forwarded = repository.registrations_in(session, app.plan.id, statuses=["forwarded"])
            ranked = shortlist.shortlist(forwarded, app.plan)
            if not ranked:
                section = app.plan.priorities[0].section if app.plan.priorities else ""
                print(t("staff.shortlist_empty", section=section))
            else:
                print(shortlist.as_text(ranked, app.plan, t))
            if args.output is not None:
                fmt: export.Format = "csv" if args.output.suffix.lower() == ".csv" else "xlsx"
                table = shortlist.shortlist_table(ranked, app.plan, t)
                args.output.write_bytes(export.write(table, fmt))
                print(f"{args.output}: {len(ranked)} row(s), {fmt}")
        return 0
    finally:
        app.close()


def forward(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.forwarder import Forwarder

    settings = settings_from(args)
    if not settings.forward_url:
        print("set LANGNGHE_FORWARD_URL (and LANGNGHE_FORWARD_SECRET) first", file=sys.stderr)
        return 2
    app = build(settings)
    forwarder = Forwarder(
        app.db, app.clock, settings.forward_url, settings.forward_secret.get_secret_value()
    )
    try:
        if args.once:
            done = asyncio.run(forwarder.run_once())
            print(f"sent {done.sent}, to retry {done.retrying}, failed {done.failed}")
        else:
            asyncio.run(forwarder.run(interval=args.interval))
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        app.close()


def zalo_tokens(args: argparse.Namespace) -> int:
    """`zalo set-token` stores a pair (never printed); `zalo token` says when it expires."""
    from getpass import getpass

    from bot.clock import Clock
    from bot.zalo_client import ZaloTokens
    from storage.db import Database

    settings = settings_from(args)
    if not settings.zalo_oa_id:
        print("set LANGNGHE_ZALO_OA_ID (the OA id) first", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        tokens = ZaloTokens(
            db,
            Clock(),
            oa_id=settings.zalo_oa_id,
            app_id=settings.zalo_app_id,
            app_secret=settings.zalo_app_secret.get_secret_value(),
        )
        if args.zalo_command == "set-token":
            access = args.access_token if args.access_token != "-" else getpass("access token: ")
            refresh = (
                args.refresh_token if args.refresh_token != "-" else getpass("refresh token: ")
            )
            if not access.strip() or not refresh.strip():
                print("both tokens are needed", file=sys.stderr)
                return 2
            tokens.set(access.strip(), refresh.strip(), args.expires_in)
            print(f"stored the token pair of OA {settings.zalo_oa_id}")
            return 0
        stored = tokens.stored()
        if stored is None:
            print(f"no token stored for OA {settings.zalo_oa_id}: run `zalo set-token`")
            return 1
        print(f"OA {settings.zalo_oa_id}: access token valid until {stored[1].isoformat()}")
        return 0
    finally:
        db.close()


if __name__ == "__main__":
    raise SystemExit(main())
