"""Zalo channel under load: N Zalo users fill in the whole registration at once, over HTTP.

The fake Zalo OA (tests/fakes) runs in this process and plays the users: it signs and
POSTs each message to `langnghe-bot serve`, a separate process on 127.0.0.1 (an SQLite
file, or PostgreSQL with --db), which stores it in the inbox, answers 200, processes it
in the background and replies through `message/cs` on the fake. Each user sends the next
message once the bot's answers to the last one have arrived.

Prints the webhook acknowledgement time (what Zalo waits for), the time from a message
to the bot's last answer to it, messages per second, and the bot's peak RSS.

    python -m benchmarks.zalo_webhook --users 200
    python -m benchmarks.zalo_webhook --users 200 --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.registration import SCRIPT, fresh_url
from tests.fakes import FakeZaloOA
from tests.zalo import serve_env


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot(zalo: FakeZaloOA, db_url: str, workdir: Path) -> asyncio.subprocess.Process:
    env = serve_env(db_url, zalo)
    port = free_port()
    log = (workdir / "serve.log").open("w")
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port),
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    zalo.webhook_url = f"{url}/zalo/webhook"
    return bot


async def turn(zalo: FakeZaloOA, user_id: str, line: str, answers: int | None) -> int:
    """Send one line; wait for `answers` messages (or, unknown, until 0.5 s of quiet)."""
    assert await zalo.send_text(user_id, line) == 200
    await zalo.wait_for_message(user_id, timeout=60)
    got = 1
    while answers is None or got < answers:
        try:
            await zalo.wait_for_message(user_id, timeout=60 if answers else 0.5)
        except TimeoutError:
            break
        got += 1
    return got


async def run(users: int, db_url: str, workdir: Path) -> dict[str, float]:
    turns: list[float] = []
    async with FakeZaloOA(rate_limit_per_second=None, ack_timeout=30) as zalo:
        bot = await start_bot(zalo, db_url, workdir)
        try:
            # One user alone first: how many messages the bot sends for each step.
            answers = [await turn(zalo, "calibration", line.format(n=0), None) for line in SCRIPT]
            warmup = len(zalo.webhook_posts)

            async def villager(n: int) -> None:
                user_id = f"84{n:010d}"
                for line, expected in zip(SCRIPT, answers, strict=True):
                    started = time.perf_counter()
                    await turn(zalo, user_id, line.format(n=n + 1), expected)
                    turns.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(villager(n) for n in range(users)))
            elapsed = time.perf_counter() - started
            acks = [post.elapsed for post in zalo.webhook_posts[warmup:]]
            rss = _peak_rss_mb(bot.pid)
            bot_cpu = _cpu_seconds(bot.pid)
            own_cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        finally:
            bot.send_signal(signal.SIGTERM)
            await bot.wait()
    return {
        "users": users,
        "messages": len(turns),
        "messages_per_s": len(turns) / elapsed,
        "ack_p50_ms": statistics.median(acks) * 1000,
        "ack_p99_ms": percentile(acks, 0.99) * 1000,
        "ack_max_ms": max(acks) * 1000,
        "turn_p50_ms": statistics.median(turns) * 1000,
        "turn_p99_ms": percentile(turns, 0.99) * 1000,
        "bot_peak_rss_mb": rss,
        "bot_cpu_s": bot_cpu,
        "fake_cpu_s": own_cpu,
        "elapsed_s": elapsed,
    }


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int | None) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--db", help="PostgreSQL URL (its public schema is emptied!)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(run(args.users, fresh_url(args.db, Path(workdir)), Path(workdir)))
    backend = "PostgreSQL" if args.db else "SQLite file (WAL)"
    print("| store | users | messages | messages/s | ack p50 ms | ack p99 ms | ack max ms "
          "| turn p50 ms | turn p99 ms | bot peak RSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {backend} | {result['users']:.0f} | {result['messages']:.0f} "
          f"| {result['messages_per_s']:,.0f} | {result['ack_p50_ms']:.1f} "
          f"| {result['ack_p99_ms']:.1f} | {result['ack_max_ms']:.1f} "
          f"| {result['turn_p50_ms']:.1f} | {result['turn_p99_ms']:.1f} "
          f"| {result['bot_peak_rss_mb']:.0f} |")  # fmt: skip
    print(f"bot CPU {result['bot_cpu_s']:.1f} s, fake OA CPU {result['fake_cpu_s']:.1f} s, "
          f"wall {result['elapsed_s']:.1f} s (the bot's CPU includes its start-up)")  # fmt: skip


if __name__ == "__main__":
    main()
