"""The `langnghe-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.settings import Settings


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

    db = commands.add_parser("db", help="database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", parents=[common], help="apply migrations")
    return root


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    overrides = {
        "database_url": getattr(args, "db", None),
        "today": getattr(args, "today", None),
        "plan": getattr(args, "plan", None),
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
    return 2


def run_console(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.channels import console

    app = build(settings_from(args))
    try:
        return asyncio.run(console.run(app, args.user, language=args.lang, jsonl=args.jsonl))
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


if __name__ == "__main__":
    raise SystemExit(main())
