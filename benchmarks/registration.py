"""Registration throughput: N users each complete the whole form, interleaved.

Every update goes through the real dispatcher and is committed to a durable database
(an SQLite file in WAL mode, or PostgreSQL with --db) before the next one starts, so
state survives a crash at any step. Prints updates/s, p50/p99 per update, the longest
event-loop stall, and peak RSS. Each run is its own process; --runs takes the median.

    python -m benchmarks.registration --users 2000
    python -m benchmarks.registration --users 2000 --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bot.app import build
from bot.clock import ZONE, Clock
from bot.events import Incoming
from bot.settings import Settings

# What one villager types, start to finish: /start, the menu button, consent, follow-up,
# 15 answers (a typed number picks a button), all items, years, submit.
SCRIPT = [
    "/start", "1", "1", "1",
    "Lang {n}", "xa {n}", "Gia Lam", "gom su", "5427/QĐ-UBND", "15/03/2010",
    "2", "HTX {n}", "1", "Nguyen Van An", "Chu nhiem", "0912 345 678", "Bo qua",
    "4", "2015 2016", "1",
]  # fmt: skip


async def run_once(users: int, db_url: str, concurrency: int = 1) -> dict[str, float]:
    clock = Clock(datetime(2017, 5, 10, 9, 0, tzinfo=ZONE), frozen=True)
    app = build(Settings(database_url=db_url), clock=clock)
    latencies: list[float] = []
    stall = 0.0
    done = asyncio.Event()

    async def watch_loop() -> None:
        """The longest time the event loop could not run another task."""
        nonlocal stall
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            stall = max(stall, time.perf_counter() - before - 0.01)

    watcher = asyncio.create_task(watch_loop())
    started = time.perf_counter()

    async def one(step: int, line: str, n: int) -> None:
        event = Incoming(
            channel="bench", user_id=f"u{n}", message_id=f"{n}-{step}",
            at=clock.now(), text=line.format(n=n),
        )  # fmt: skip
        t0 = time.perf_counter()
        outcome = await app.dispatcher.handle(event)
        latencies.append(time.perf_counter() - t0)
        assert outcome.replies, (step, line)
        await asyncio.sleep(0)  # as a server does between two requests

    for step, line in enumerate(SCRIPT):
        # `concurrency` users' updates in flight at once, as webhook requests would be
        for first in range(0, users, concurrency):
            batch = range(first, min(first + concurrency, users))
            await asyncio.gather(*(one(step, line, n) for n in batch))
    elapsed = time.perf_counter() - started
    done.set()
    await watcher
    submitted = _count_submitted(app)
    app.close()
    latencies.sort()
    return {
        "users": users,
        "updates": len(latencies),
        "updates_per_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "max_stall_ms": stall * 1000,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "submitted": submitted,
    }


def _count_submitted(app: object) -> int:
    from storage.repository import count_registrations

    with app.db.transaction() as session:  # type: ignore[attr-defined]
        return count_registrations(session, status="submitted")


def fresh_url(db: str | None, workdir: Path) -> str:
    if db is None:
        return f"sqlite:///{workdir / 'bench.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="PostgreSQL URL (its public schema is emptied!)")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="users' updates in flight at once"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as workdir:
            url = fresh_url(args.db, Path(workdir))
            result = asyncio.run(run_once(args.users, url, args.concurrency))
        print(json.dumps(result))
        return
    results = []
    for _ in range(args.runs):
        command = [sys.executable, "-m", "benchmarks.registration", "--child",
                   "--users", str(args.users), "--concurrency", str(args.concurrency),
                   *(["--db", args.db] if args.db else [])]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print("run:", results[-1], file=sys.stderr)
    backend = ("PostgreSQL" if args.db else "SQLite file (WAL)") + f", {args.concurrency} in flight"
    median = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print("| store | users | updates | updates/s | p50 ms | p99 ms | max loop stall ms "
          "| peak RSS MB | submitted |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {backend} | {median['users']:.0f} | {median['updates']:.0f} "
          f"| {median['updates_per_s']:,.0f} | {median['p50_ms']:.2f} | {median['p99_ms']:.2f} "
          f"| {median['max_stall_ms']:.1f} | {median['peak_rss_mb']:.0f} "
          f"| {median['submitted']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
