"""`langnghe-bot telegram --polling` and `langnghe-bot serve` (webhook), as real processes,
each taking a whole registration from a person on the Telegram test server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from bot.app import build
from bot.settings import Settings
from storage.models import Registration
from tests.bot.channels.test_telegram import register
from tests.fakes.telegram_api import FakeTelegram, TelegramLimits
from tests.telegram_user import TelegramUser, until

SECRET = "cli-webhook-secret"


def command() -> list[str]:
    script = Path(sys.executable).with_name("langnghe-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


@asynccontextmanager
async def running(
    cwd: Path, *args: str, env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The bot as a process; stopped with SIGINT, as Ctrl-C would, and it must exit cleanly."""
    process = await asyncio.create_subprocess_exec(
        *command(), *args, cwd=cwd, env=os.environ | env, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), 20)
        except TimeoutError:
            process.kill()
            raise
    assert process.returncode == 0, stderr.decode()


def bot_env(fake: FakeTelegram) -> dict[str, str]:
    return {
        "LANGNGHE_TELEGRAM_TOKEN": fake.token,
        "LANGNGHE_TELEGRAM_CHAT_PER_SECOND": "100",  # the test server's limits are off too
        "LANGNGHE_TELEGRAM_CHAT_BURST": "100",
    }


def submitted(db_url: str) -> list[str]:
    app = build(Settings(database_url=db_url))
    try:
        with app.db.transaction() as session:
            return [r.code for r in session.scalars(select(Registration))]
    finally:
        app.close()


async def test_registration_with_telegram_polling(db_url: str, tmp_path: Path) -> None:
    async with FakeTelegram(limits=TelegramLimits(enabled=False)) as fake:
        args = ["telegram", "--polling", "--base-url", fake.base_url]
        args += ["--db", db_url, "--today", "2017-05-10"]
        async with running(tmp_path, *args, env=bot_env(fake)):
            fake.add_user(4242, first_name="Bình", language_code="vi")
            await register(TelegramUser(fake, 4242))
        assert fake.commands_for("vi") and not fake.webhook_url
    assert submitted(db_url) == ["HN2017-GLA-0001"]


async def test_registration_with_serve_and_webhook(db_url: str, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with FakeTelegram(limits=TelegramLimits(enabled=False)) as fake:
        env = bot_env(fake) | {
            "LANGNGHE_TELEGRAM_BASE_URL": fake.base_url,
            "LANGNGHE_TELEGRAM_WEBHOOK_URL": url,
            "LANGNGHE_TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
        args = ["serve", "--port", str(port), "--db", db_url, "--today", "2017-05-10"]
        async with running(tmp_path, *args, env=env):
            await until(lambda: fake.webhook_url == url, timeout=20)
            fake.add_user(4242, first_name="Bình", language_code="vi")
            await register(TelegramUser(fake, 4242))
        assert {d.secret_token for d in fake.webhook_deliveries} == {SECRET}
    assert submitted(db_url) == ["HN2017-GLA-0001"]
