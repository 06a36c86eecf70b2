"""How long the back office takes at a city's scale.

    python benchmarks/back_office.py [--db URL] [--villages 1350]

Creates N forwarded registrations spread over the plan's 30 units (directly in the
database), then measures: the XLSX and CSV export of all of them, the shortlist ranking,
and an officer reviewing by chat (/pending, open, confirm), per event, through the real
dispatcher. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.app import App, build
from bot.clock import ZONE, Clock
from bot.events import Incoming, Reply
from bot.i18n import Translator
from bot.settings import Settings
from storage import export, repository, roles, shortlist
from storage.models import Registration

T = TypeVar("T")
ITEMS = [["training", "identity", "strategy"], ["identity"], ["training", "strategy"]]


def seed(app: App, villages: int, pending: int) -> None:
    now = app.clock.now()
    units = [u.code for u in app.plan.units]
    with app.db.transaction() as session:
        user = repository.get_or_create_user(session, "console", "bench-village", now)
        for n in range(villages + pending):
            status = "forwarded" if n < villages else "submitted"
            unit = units[n % len(units)] if status == "forwarded" else "GLA"
            session.add(Registration(
                code=f"HN2017-{unit}-{n:05d}", plan_id="hanoi-2017", user_id=user.id,
                status=status, unit_code=unit, village=f"Làng {n}", village_key=f"lang {n}",
                commune=f"xã {n}", craft="gốm sứ", decision_number=f"{n}/QĐ-UBND",
                decision_date=date(2010, 1, 1), rep_type="cooperative",
                rep_name=f"HTX Làng {n}", rep_legal_entity=True, contact_name="Nguyễn Văn An",
                contact_position="Chủ nhiệm", contact_phone="0912345678", contact_email=None,
                items=ITEMS[n % 3], prior_years=[2015] if n % 2 else [],
                created_at=now, submitted_at=now + timedelta(seconds=n),
                forwarded_at=now + timedelta(seconds=n) if status == "forwarded" else None,
                updated_at=now,
            ))  # fmt: skip


def timed(label: str, fn: Callable[[], T], repeat: int = 3) -> T:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label}: {best * 1000:.0f} ms (best of {repeat})")
    return result


async def review(app: App, count: int) -> list[float]:
    """An officer confirms `count` registrations by chat: 3 events each, timed one by one."""
    times: list[float] = []
    n = 0

    async def send(**values: Any) -> list[Reply]:
        nonlocal n
        n += 1
        event = Incoming(channel="console", user_id="bench-officer", message_id=f"b{n}",
                         at=app.clock.now(), **values)  # fmt: skip
        start = time.perf_counter()
        outcome = await app.dispatcher.handle(event)
        times.append(time.perf_counter() - start)
        return outcome.replies

    for _ in range(count):
        replies = await send(text="/pending")
        replies = await send(kind="button", payload=replies[-1].buttons[0].payload)
        await send(kind="button", payload=replies[-1].buttons[0].payload)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--villages", type=int, default=1350)
    parser.add_argument("--reviews", type=int, default=200)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    clock = Clock(datetime(2017, 5, 20, 9, 0, tzinfo=ZONE), frozen=True)
    app = build(Settings(database_url=url), clock=clock)
    seed(app, args.villages, args.reviews)
    with app.db.transaction() as session:
        code, _ = roles.create_invite(session, "GLA", clock.now(), created_by=None)
        officer = repository.get_or_create_user(session, "console", "bench-officer", clock.now())
        roles.redeem_invite(session, officer, code, clock.now())
    t = Translator("vi")
    print(f"database: {app.db.engine.dialect.name}, {args.villages} forwarded registrations")
    with app.db.transaction() as session:
        rows = repository.registrations_in(session, app.plan.id, statuses=["forwarded"])
        table = timed("export table", lambda: export.registration_table(rows, app.plan, t))
        xlsx = timed("XLSX", lambda: export.to_xlsx(table))
        csv = timed("CSV", lambda: export.to_csv(table))
        print(f"  sizes: XLSX {len(xlsx) // 1024} KiB, CSV {len(csv) // 1024} KiB")
        ranked = timed("shortlist ranking", lambda: shortlist.shortlist(rows, app.plan))
        timed(
            "shortlist XLSX with reasons",
            lambda: export.to_xlsx(shortlist.shortlist_table(ranked, app.plan, t)),
        )
    times = asyncio.run(review(app, args.reviews))
    ms = sorted(x * 1000 for x in times)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(
        f"officer review by chat: {len(ms)} events, p50 {statistics.median(ms):.2f} ms, "
        f"p99 {p99:.2f} ms, max {ms[-1]:.2f} ms"
    )
    app.close()


if __name__ == "__main__":
    main()
