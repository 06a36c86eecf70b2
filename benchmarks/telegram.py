"""Telegram channel throughput against the Bot API test server on loopback.

`--users N`: N people register at once over long polling, tapping the inline buttons;
prints actions/s and p50/p99 from an action to the bot's full answer, and the test
server's 429 count. `--limits` turns Telegram's published limits on (and ours to their
defaults), which shows the per-chat pacing rather than the channel's own cost.

`--broadcast N`: N notices to N chats through the outbox, Telegram's limits on; prints
messages/s and 429s (our overall bucket keeps under ~30/s).

    python -m benchmarks.telegram --users 50
    python -m benchmarks.telegram --users 10 --limits
    python -m benchmarks.telegram --broadcast 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bot.app import App, build
from bot.channels.telegram import Telegram, make_bot, run_polling
from bot.channels.telegram_send import telegram_limiter
from bot.clock import ZONE, Clock
from bot.ratelimit import Rate
from bot.sender import OutboxSender
from bot.settings import Settings
from storage import repository
from tests.fakes.telegram_api import FakeTelegram, TelegramLimits
from tests.telegram_user import TelegramUser

FLOW = [
    ("say", "/start"), ("press", "Đăng ký"), ("press", "Đồng ý"), ("press", "Có, nhận tin"),
    ("say", "Lang {n}"), ("say", "xa {n}"), ("say", "gia lam"), ("say", "gom su"),
    ("say", "5427/QĐ-UBND"), ("say", "15/3/2010"), ("press", "Hợp tác xã"),
    ("say", "HTX {n}"), ("press", "Có"), ("say", "Nguyen Van An"), ("say", "Chu nhiem"),
    ("say", "0912 345 678"), ("press", "Bỏ qua"), ("press", "Chọn cả 3"),
    ("say", "2015 2016"), ("press", "Gửi hồ sơ"),
]  # fmt: skip


def make_app(db_url: str) -> App:
    clock = Clock(datetime(2017, 5, 10, 9, 0, tzinfo=ZONE), frozen=True)
    return build(Settings(database_url=db_url), clock=clock)


async def registrations(app: App, users: int, limits: bool) -> None:
    async with FakeTelegram(limits=TelegramLimits(enabled=limits)) as fake:
        # Without limits, ours are lifted too (also the ~30/s per bot): the channel's own cost.
        limiter = telegram_limiter() if limits else telegram_limiter(1e4, 1e4, Rate(1e4, 1e4))
        telegram = Telegram(app, make_bot(fake.token, fake.base_url), limiter=limiter)
        await telegram.start()
        stop = asyncio.Event()
        polling = asyncio.create_task(run_polling(telegram, stop, timeout=5))
        latencies: list[float] = []

        async def person(n: int) -> None:
            user = TelegramUser(fake, 10_000 + n)
            fake.add_user(user.user_id, language_code="vi")
            for action, value in FLOW:
                started = time.perf_counter()
                if action == "say":
                    await user.say(value.format(n=n))
                else:
                    await user.press(value)
                latencies.append(time.perf_counter() - started)
            assert user.has("HN2017-"), user.text

        started = time.perf_counter()
        await asyncio.gather(*(person(n) for n in range(users)))
        elapsed = time.perf_counter() - started
        stop.set()
        await polling
        await telegram.stop()
        latencies.sort()
        print(
            f"{users} registrations over polling ({'Telegram limits' if limits else 'no limits'})"
            f": {len(latencies)} actions in {elapsed:.1f}s = {len(latencies) / elapsed:.0f}/s; "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; "
            f"429s: {fake.too_many_requests_count}"
        )


async def broadcast(app: App, count: int) -> None:
    async with FakeTelegram() as fake:
        with app.db.transaction() as session:
            for n in range(count):
                fake.add_user(20_000 + n)
                user = repository.get_or_create_user(
                    session, "telegram", str(20_000 + n), app.clock.now()
                )
                payload = {"text": f"Thông báo {n}", "buttons": []}
                repository.enqueue(session, user, "broadcast", payload, app.clock.now())
        telegram = Telegram(app, make_bot(fake.token, fake.base_url))
        await telegram.start()
        sender = OutboxSender(app.db, app.clock, telegram.transport, batch=100)
        started = time.perf_counter()
        while await sender.run_once():
            pass
        elapsed = time.perf_counter() - started
        await telegram.stop()
        sent = len([c for c in fake.calls("sendMessage") if c.status == 200])
        print(
            f"broadcast through the outbox: {sent}/{count} sent in {elapsed:.1f}s = "
            f"{sent / elapsed:.1f} messages/s; 429s: {fake.too_many_requests_count}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.telegram")
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--broadcast", type=int, default=0)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            if args.users:
                asyncio.run(registrations(app, args.users, args.limits))
            if args.broadcast:
                asyncio.run(broadcast(app, args.broadcast))
        finally:
            app.close()


if __name__ == "__main__":
    main()
