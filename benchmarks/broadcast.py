"""A staff broadcast to many recipients, sent by `langnghe-bot serve` to a platform test server.

The test server (tests/fakes) runs in this process and enforces the platform's limits
(Telegram: 30 messages/s per bot, about 1/s per chat, 429 with retry_after beyond; the Zalo
OA test server: 50 requests/s, error -32 beyond). The bot
runs as its own process, exactly as in production: `langnghe-bot serve` with the channel
configured, whose scheduler expands the broadcast and whose outbox sender delivers it.
`--kill` sends SIGKILL to that process halfway, starts a new one, and checks that the
broadcast resumes without a duplicate.

Prints: messages/s achieved as a share of the allowed rate (steady state, from the first
delivery to the last), 429s received, duplicates, recipients who got nothing, the rows
marked "interrupted" (in flight at the kill: not sent again), and the final report.

    python -m benchmarks.broadcast --recipients 10000
    python -m benchmarks.broadcast --recipients 10000 --kill
    python -m benchmarks.broadcast --recipients 10000 --channel zalo
    python -m benchmarks.broadcast --recipients 2000 --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bot import broadcaster
from bot.audience import Audience, select_audience
from bot.clock import Clock
from bot.plan import load_plan
from bot.reminders import load_rules
from storage.db import Database
from storage.models import Broadcast, Consent, OutboxMessage, User
from tests.fakes import FakeTelegram, FakeZaloOA

FIRST_CHAT = 500_000
SECRET = "bench-secret"


class Platform:
    """A platform test server as the benchmark needs it: users, settings, what it received."""

    channel: str
    allowed_per_second: int

    def add_user(self, chat: str) -> None:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def accepted(self, since: int) -> tuple[int, list[str]]:
        """(calls seen so far, chats of the messages accepted after the first `since`)."""
        raise NotImplementedError

    def refused(self) -> int:
        """Sends refused for going over the rate limit (429, Zalo -32)."""
        raise NotImplementedError


class Telegram(Platform):
    channel, allowed_per_second = "telegram", 30

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def add_user(self, chat: str) -> None:
        self.fake.add_user(int(chat))

    def env(self) -> dict[str, str]:
        return {
            "LANGNGHE_TELEGRAM_TOKEN": self.fake.token,
            "LANGNGHE_TELEGRAM_BASE_URL": self.fake.base_url,
            "LANGNGHE_TELEGRAM_WEBHOOK_SECRET": SECRET,
        }

    def accepted(self, since: int) -> tuple[int, list[str]]:
        calls = self.fake.api_calls
        chats = [
            str(c.params.get("chat_id"))
            for c in calls[since:]
            if c.method == "sendMessage" and c.status == 200
        ]
        return len(calls), chats

    def refused(self) -> int:
        return self.fake.too_many_requests_count


class Zalo(Platform):
    channel, allowed_per_second = "zalo", 50

    def __init__(self, fake: FakeZaloOA) -> None:
        self.fake = fake

    def add_user(self, chat: str) -> None:
        self.fake.add_user(chat, follower=True, interacted=True)

    def env(self) -> dict[str, str]:
        fake = self.fake
        return {
            "LANGNGHE_ZALO_APP_ID": fake.app_id,
            "LANGNGHE_ZALO_OA_ID": fake.oa_id,
            "LANGNGHE_ZALO_OA_SECRET_KEY": fake.oa_secret_key,
            "LANGNGHE_ZALO_APP_SECRET": fake.app_secret,
            "LANGNGHE_ZALO_ACCESS_TOKEN": fake.access_token,
            "LANGNGHE_ZALO_REFRESH_TOKEN": fake.refresh_token,
            "LANGNGHE_ZALO_API_BASE": fake.base_url,
            "LANGNGHE_ZALO_OAUTH_BASE": fake.base_url,
        }

    def accepted(self, since: int) -> tuple[int, list[str]]:
        calls = self.fake.api_calls
        chats = [
            str(c.body["recipient"]["user_id"])
            for c in calls[since:]
            if c.path.startswith("/v3.0/oa/message/") and c.error == 0
        ]
        return len(calls), chats

    def refused(self) -> int:
        return self.fake.rate_limited_count


def prepare(db: Database, platform: Platform, recipients: int) -> int:
    """Village representatives who agreed to announcements, and one staff member."""
    now = Clock().now()
    with db.transaction() as session:
        person = {"channel": platform.channel, "language": "vi", "role": "village",
                  "reachable": True, "following": True, "reminders_enabled": True,
                  "created_at": now, "last_seen_at": now}  # fmt: skip
        users = [
            person | {"channel_user_id": str(FIRST_CHAT + n), "display_name": f"Làng {n}"}
            for n in range(recipients + 1)
        ]
        users[-1]["role"] = "staff"
        session.execute(insert(User), users)
        ids = session.scalars(select(User.id).where(User.role == "village")).all()
        consent = {"purpose": "followup", "text_version": "2026-01", "granted": True, "at": now}
        consents = [consent | {"user_id": i} for i in ids]
        session.execute(insert(Consent), consents)
        staff = session.scalars(select(User).where(User.role == "staff")).one()
        text = "Kính gửi {village}: hội nghị tập huấn xây dựng thương hiệu ngày 20/6/2017."
        plan = load_plan()
        chosen = select_audience(session, plan, Audience("all"), load_rules(plan).zalo, now)
        broadcast = broadcaster.create(session, staff, text, Audience("all"), chosen, now)
        for n in range(recipients + 1):
            platform.add_user(str(FIRST_CHAT + n))
        return broadcast.id


@dataclass
class Run:
    """One bot process and what the platform saw while it ran."""

    started: float
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, delivered)

    def rate(self) -> float:
        """Messages/s between two samples taken while this run was sending (steady state)."""
        counts = [n for _, n in self.samples]
        moving = [i for i, n in enumerate(counts) if counts[0] < n < counts[-1]]
        if len(moving) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.samples[moving[0]], self.samples[moving[-1]]
        return (n1 - n0) / (t1 - t0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bot(
    db_url: str, platform: Platform, log: Path, lease: float = 10.0
) -> subprocess.Popen[bytes]:
    env = (
        os.environ
        | platform.env()
        | {
            "LANGNGHE_DATABASE_URL": db_url,
            "LANGNGHE_SCHEDULER_SECONDS": "1",
            "LANGNGHE_OUTBOX_LEASE_SECONDS": str(lease),
        }
    )
    command = [sys.executable, "-m", "bot", "serve", "--port", str(free_port())]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


class Counted:
    """Broadcast messages the platform accepted so far, per chat, counted as they come (the
    test server shares this process and must not stall while we count)."""

    def __init__(self, platform: Platform, recipients: int) -> None:
        self.platform = platform
        self.chats = {str(FIRST_CHAT + n) for n in range(recipients)}
        self.seen = 0
        self.per_chat: Counter[str] = Counter()

    def __call__(self) -> int:
        self.seen, chats = self.platform.accepted(self.seen)
        self.per_chat.update(chat for chat in chats if chat in self.chats)
        return sum(self.per_chat.values())


def unfinished(db: Database, broadcast_id: int) -> int:
    with db.transaction() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.finished_at is None:
            return 1
        return 0


async def watch(
    delivered: Counted, run: Run, until: Any, deadline: float, every: float = 0.5
) -> None:
    while True:
        run.samples.append((time.perf_counter(), delivered()))
        # The test server keeps every call for the checks: keep that out of the garbage
        # collector's full passes, whose pauses would bunch the arrivals it counts.
        gc.freeze()
        if await until():
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("the broadcast did not finish; see the bot's log")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def platform_server(channel: str) -> AsyncIterator[Platform]:
    if channel == "zalo":
        async with FakeZaloOA() as zalo:
            yield Zalo(zalo)
    else:
        async with FakeTelegram() as telegram:
            yield Telegram(telegram)


async def bench(
    db_url: str,
    recipients: int,
    kill: bool,
    log: Path,
    *,
    lease: float = 10.0,
    channel: str = "telegram",
) -> dict[str, Any]:
    db = Database(db_url)
    process: subprocess.Popen[bytes] | None = None
    try:
        async with platform_server(channel) as platform:
            prepared = time.perf_counter()
            broadcast_id = await asyncio.to_thread(prepare, db, platform, recipients)
            prepared = time.perf_counter() - prepared
            delivered = Counted(platform, recipients)
            deadline = time.perf_counter() + 120 + recipients / 10  # it never takes this long

            async def half() -> bool:
                return delivered() >= recipients // 2

            async def done() -> bool:
                return not await asyncio.to_thread(unfinished, db, broadcast_id)

            runs = [Run(time.perf_counter())]
            process = start_bot(db_url, platform, log, lease)
            killed_at = 0
            if kill:
                await watch(delivered, runs[-1], half, deadline, every=0.05)
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed_at = delivered()
                runs.append(Run(time.perf_counter()))
                process = start_bot(db_url, platform, log, lease)
            await watch(delivered, runs[-1], done, deadline)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            delivered()
            return summary(db, platform, delivered, broadcast_id, runs, killed_at, prepared)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        db.close()


def summary(
    db: Database,
    platform: Platform,
    delivered: Counted,
    broadcast_id: int,
    runs: list[Run],
    killed_at: int,
    prepared: float,
) -> dict[str, Any]:
    per_chat = Counter(delivered.per_chat[chat] for chat in delivered.chats)
    with db.transaction() as session:
        statuses = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.broadcast_id == broadcast_id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        key = f"bc:{broadcast_id}:report"
        report = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.dedupe_key == key)
        ).one_or_none()
    rates = [run.rate() for run in runs]
    return {
        "channel": platform.channel,
        "recipients": len(delivered.chats),
        "prepare_s": round(prepared, 1),
        "rate_per_s": [round(r, 2) for r in rates],
        "share_of_allowed": [f"{r / platform.allowed_per_second:.1%}" for r in rates],
        "rate_limited": platform.refused(),
        "duplicates": sum((count - 1) * chats for count, chats in per_chat.items() if count > 1),
        "got_nothing": per_chat.get(0, 0),
        "killed_after": killed_at or None,
        "rows": statuses,
        "report": (report or {}).get("text", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broadcast")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--channel", choices=["telegram", "zalo"], default="telegram")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the bot halfway")
    parser.add_argument("--db", help="an empty database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        db_url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = asyncio.run(bench(db_url, args.recipients, args.kill, log, channel=args.channel))
        if result["got_nothing"] or result["duplicates"] or result["rate_limited"]:
            print(log.read_text()[-3000:], file=sys.stderr)
    report = result.pop("report")
    for key, value in result.items():
        print(f"{key:18} {value}")
    print(report)


if __name__ == "__main__":
    main()
