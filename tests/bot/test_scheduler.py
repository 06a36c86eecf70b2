"""The 2017 season replayed day by day with the clock: each reminder once, at the right time.

The cast: An leaves a draft; Bình's registration is returned and then sent again; Chi's
village is selected; officers of Gia Lâm and Thường Tín see what waits in their unit. Some
people must get nothing: no consent, reminders turned off.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta

import pytest

from bot.app import App, build
from bot.clock import ZONE, Clock
from bot.plan import load_plan
from bot.reminder_planner import Planner
from bot.reminders import load_rules
from bot.scheduler import run_once
from bot.sender import OutboxSender
from bot.settings import Settings
from storage import outbox
from storage.db import Database
from tests.season import Platform, draft, person, register, rows, set_status

PLAN = load_plan()
RULES = load_rules(PLAN)

Action = Callable[[App], None]


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), ZONE)


class Season:
    """The cast and what happens to them, keyed by the moment it happens."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.codes: dict[str, str] = {}
        self.events: dict[datetime, list[Action]] = {}
        self.on(at("2017-05-02", 6), self.cast)
        self.on(at("2017-05-12"), lambda app: self.register(app, "binh", "GLA", "Đa Tốn"))
        self.on(at("2017-05-15"), lambda app: self.register(app, "chi", "TTI", "Hạ Thái"))
        self.on(at("2017-05-18"), lambda app: set_status(app, self.codes["chi"], "forwarded"))
        self.on(
            at("2017-06-05"),
            lambda app: set_status(app, self.codes["binh"], "returned", "thiếu bản sao quyết định"),
        )
        self.on(at("2017-06-09"), lambda app: set_status(app, self.codes["binh"], "submitted"))
        self.on(at("2017-06-15"), lambda app: set_status(app, self.codes["binh"], "forwarded"))
        self.on(at("2017-08-20"), lambda app: set_status(app, self.codes["chi"], "selected"))

    def on(self, when: datetime, action: Action) -> None:
        self.events.setdefault(when, []).append(action)

    def cast(self, app: App) -> None:
        ids = self.ids
        ids["an"] = person(app, "an")
        draft(app, ids["an"], "Bát Tràng")
        ids["dung"] = person(app, "dung", consent=False)  # said no to follow-up messages
        draft(app, ids["dung"], "Kiêu Kỵ")
        ids["em"] = person(app, "em", reminders=False)  # turned reminders off
        draft(app, ids["em"], "Vạn Phúc")
        ids["binh"] = person(app, "binh", language="en")
        ids["chi"] = person(app, "chi")
        ids["gla"] = person(app, "officer-gla", role="officer", unit="GLA", consent=None)
        ids["tti"] = person(app, "officer-tti", role="officer", unit="TTI", consent=None)

    def register(self, app: App, who: str, unit: str, village: str) -> None:
        self.codes[who] = register(app, self.ids[who], unit, village)


def expected() -> Counter[tuple[str, str]]:
    """(who, rule) -> how many reminders, from the plan's timeline and the story."""
    return Counter(
        {
            ("an", "draft_before_deadline"): 2,  # 24/5 and 30/5
            ("binh", "returned_not_resubmitted"): 1,  # 7/6; sent again on 9/6, so not 12/6
            ("chi", "selected_contract_soon"): 1,  # 29/8
            ("chi", "selected_contract_deadline"): 1,  # 23/9
            ("chi", "selected_acceptance"): 2,  # 10/11 and 21/11
            ("officer-gla", "officer_digest"): 24 + 6,  # 13/5–5/6 and 10/6–15/6
            ("officer-tti", "officer_digest"): 3,  # 16/5–18/5
        }
    )


def days(first: str, last: str) -> Iterator[date]:
    day = date.fromisoformat(first)
    while day <= date.fromisoformat(last):
        yield day
        day += timedelta(days=1)


class Replay:
    """Runs the season: at each moment, the story's events, the scheduler, the sender."""

    def __init__(self, db_url: str, season: Season, clock: Clock) -> None:
        self.db_url = db_url
        self.season = season
        self.clock = clock
        self.platform = Platform()
        self.deliveries: list[tuple[str, datetime]] = []
        self.app = self.start()

    def start(self) -> App:
        return build(Settings(database_url=self.db_url), clock=self.clock)

    def restart(self) -> None:
        """The process dies and comes back: nothing is kept but the database."""
        self.app.close()
        self.app = self.start()

    async def moment(self, when: datetime, *, run: bool = True) -> None:
        self.clock.set(when, frozen=True)
        for action in self.season.events.get(when, []):
            action(self.app)
        if not run:
            return
        run_once(self.app.db, self.app.plan, RULES, when)
        quiet = lambda now: ("reminder",) if RULES.delivery.is_quiet(now) else ()  # noqa: E731
        sender = OutboxSender(self.app.db, self.clock, self.platform, quiet=quiet)
        before = len(self.platform.received)
        while await sender.run_once():
            pass
        for who, _, _ in self.platform.received[before:]:
            self.deliveries.append((who, when))

    async def days(
        self,
        first: str,
        last: str,
        *,
        hours: tuple[int, ...] = (6, 8, 10, 23),
        down: tuple[datetime, datetime] | None = None,
    ) -> None:
        for day in days(first, last):
            moments = {datetime.combine(day, time(h, 5 if h == 8 else 0), ZONE) for h in hours}
            moments |= {t for t in self.season.events if t.date() == day}  # the story goes on
            for when in sorted(moments):
                running = down is None or not (down[0] <= when < down[1])
                await self.moment(when, run=running)

    def sent(self) -> Counter[tuple[str, str]]:
        """(who, rule) of every reminder row sent, checked against what the platform got."""
        sent = [m for m in rows(self.app, kind="reminder") if m.status == "sent"]
        ids = sorted(m.platform_message_id or "" for m in sent)
        assert ids == sorted(pid for _, _, pid in self.platform.received)  # each sent once
        names = {v: k for k, v in self.season.ids.items()}
        names |= {self.season.ids["gla"]: "officer-gla", self.season.ids["tti"]: "officer-tti"}
        return Counter((names[m.user_id], (m.dedupe_key or "").split(":")[2]) for m in sent)


@pytest.fixture
def season_clock() -> Clock:
    return Clock(at("2017-05-01", 0), frozen=True)


async def test_the_2017_season_day_by_day(db_url: str, season_clock: Clock) -> None:
    replay = Replay(db_url, Season(), season_clock)
    await replay.days("2017-05-01", "2017-12-31")
    assert replay.sent() == expected()
    for _, when in replay.deliveries:
        assert not RULES.delivery.is_quiet(when) and when.hour >= RULES.delivery.send_hour
    an = [t for who, t, _ in replay.platform.received if who == "an"]
    assert an[0].startswith("Nhắc hạn: anh/chị còn hồ sơ đăng ký cho làng nghề Bát Tràng")
    assert "31/05/2017 (còn 7 ngày)" in an[0] and "(còn 1 ngày)" in an[1]
    binh = [t for who, t, _ in replay.platform.received if who == "binh"]
    assert binh == [
        f"Reminder: registration {replay.season.codes['binh']} (Đa Tốn) was returned by the "
        "district for changes and has not been sent again. Reason: thiếu bản sao quyết định. "
        "Please correct it and send it again soon."
    ]
    assert all(m.status in ("sent", "expired") for m in rows(replay.app))
    replay.app.close()


async def test_a_restart_in_the_middle_of_a_day_sends_nothing_twice(
    db_url: str, season_clock: Clock
) -> None:
    replay = Replay(db_url, Season(), season_clock)
    await replay.days("2017-05-01", "2017-05-23")
    # 24/5: the morning run queues An's reminder, then the process dies before sending.
    season_clock.set(at("2017-05-24", 8, 5), frozen=True)
    run_once(replay.app.db, replay.app.plan, RULES, season_clock.now())
    replay.restart()
    await replay.moment(at("2017-05-24", 8, 6))  # the new process runs again at once
    replay.restart()
    await replay.days("2017-05-24", "2017-06-30", hours=(8, 10, 13))
    sent = replay.sent()
    assert sent[("an", "draft_before_deadline")] == 2
    assert sent[("officer-gla", "officer_digest")] == 24 + 6
    replay.app.close()


async def test_after_downtime_a_useful_reminder_goes_late_and_a_useless_one_is_recorded(
    db_url: str, season_clock: Clock
) -> None:
    replay = Replay(db_url, Season(), season_clock)
    # Down from 23/5 to 26/5 10:00: the 24/5 reminder is still useful (deadline 31/5).
    await replay.days("2017-05-01", "2017-05-28", down=(at("2017-05-23", 0), at("2017-05-26")))
    late = [t for who, t in replay.deliveries if who == "an"]
    assert late == [at("2017-05-26")]
    # Down from 29/5 to 2/6: the 30/5 reminder would come after the deadline: recorded only.
    await replay.days("2017-05-29", "2017-06-03", down=(at("2017-05-29", 0), at("2017-06-02")))
    assert [t for who, t in replay.deliveries if who == "an"] == [at("2017-05-26")]
    dropped = [m for m in rows(replay.app, kind="reminder") if m.status == "expired"]
    an = replay.season.ids["an"]
    assert [(m.dedupe_key, (m.last_error or "")[:8]) for m in dropped if m.user_id == an] == [
        (f"rem:hanoi-2017:draft_before_deadline:2017-05-30:u{an}", "too late")
    ]
    replay.app.close()


async def test_a_later_reminder_replaces_the_missed_one_and_night_waits_for_morning(
    db_url: str, season_clock: Clock
) -> None:
    replay = Replay(db_url, Season(), season_clock)
    # Down from 23/5 until 30/5 at 23:00: the 24/5 reminder is replaced by the 30/5 one,
    # which is queued at night and goes out when the quiet hours end.
    down = (at("2017-05-23", 0), at("2017-05-30", 23))
    await replay.days("2017-05-01", "2017-05-31", hours=(7, 8, 23), down=down)
    assert [t for who, t in replay.deliveries if who == "an"] == [at("2017-05-31", 7)]
    an = replay.season.ids["an"]
    reminders = {m.dedupe_key: m for m in rows(replay.app, user_id=an)}
    replaced = reminders[f"rem:hanoi-2017:draft_before_deadline:2017-05-24:u{an}"]
    assert replaced.status == "expired"
    assert replaced.last_error == "replaced by the reminder of 2017-05-30"
    # The officer's digests of the missed days are recorded, not sent, and never twice.
    digests = rows(replay.app, user_id=replay.season.ids["gla"])
    why = Counter((m.last_error or "")[:8] for m in digests if m.status == "expired")
    assert why == {"replaced": 7, "too late": 1}  # 23/5–29/5; 30/5 found at night, useless
    assert len({m.dedupe_key for m in digests}) == len(digests)
    replay.app.close()


def test_two_workers_never_create_one_reminder_twice(db_url: str) -> None:
    """Two processes' scheduler runs at the same moment, and racing past the cursor."""
    clock = Clock(at("2017-05-24", 8, 5), frozen=True)
    app = build(Settings(database_url=db_url), clock=clock)
    season = Season()
    clock.set(at("2017-05-02", 9), frozen=True)
    season.cast(app)
    for n in range(40):
        draft(app, person(app, f"v{n}"), f"Làng {n}")
    now = at("2017-05-24", 8, 5)
    workers = [Database(db_url, migrate=False) for _ in range(4)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def both_ways(db: Database) -> None:
        try:
            barrier.wait()
            run_once(db, PLAN, RULES, now)  # guarded by the cursor
            barrier.wait()
            with db.transaction() as session:  # no cursor: only the unique key stops it
                due = Planner(session, PLAN, RULES, now).due(now - timedelta(hours=1))
                outbox.insert_once(session, [p.row(now) for p in due])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=both_ways, args=(db,)) for db in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    keys = [m.dedupe_key for m in rows(app, kind="reminder")]
    assert len(keys) == len(set(keys)) == 41  # An and the 40 villages, once each
    for db in workers:
        db.close()
    app.close()


async def test_two_senders_share_the_queue_without_sending_one_twice(db_url: str) -> None:
    clock = Clock(at("2017-05-02", 9), frozen=True)
    app = build(Settings(database_url=db_url), clock=clock)
    for n in range(60):
        draft(app, person(app, f"v{n}"), f"Làng {n}")
    clock.set(at("2017-05-24", 8, 5), frozen=True)
    run_once(app.db, PLAN, RULES, clock.now())
    platform = Platform()
    other = Database(db_url, migrate=False)
    senders = [OutboxSender(db, clock, platform, batch=7) for db in (app.db, other)]

    async def drain(sender: OutboxSender) -> None:
        while await sender.run_once():
            pass

    import asyncio

    await asyncio.gather(*(drain(s) for s in senders))
    assert sorted(who for who, _, _ in platform.received) == sorted(f"v{n}" for n in range(60))
    assert {m.status for m in rows(app, kind="reminder")} == {"sent"}
    other.close()
    app.close()
