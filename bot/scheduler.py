"""The reminder scheduler: rules + the database + the clock -> outbox rows, each once.

A run looks at every reminder that fell due since the last run (a cursor row in
`job_cursors`, locked with SKIP LOCKED so one worker runs it at a time) and writes one
outbox row per reminder and recipient, keyed `rem:<plan>:<rule>:<day>:<who>`: the unique
key makes a second row impossible, even if two workers raced past the cursor. The
audience is read at the time of the run (a draft sent meanwhile gets no reminder).

After downtime a reminder still useful is sent late (never in quiet hours); one whose
deadline has passed, or that a later reminder of the same rule replaces, is written as an
"expired" row with the reason, so it is recorded and never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import broadcaster
from bot.clock import ZONE, Clock
from bot.plan import Plan
from bot.reminder_planner import Planned, Planner
from bot.reminders import ReminderRules, load_rules
from storage import outbox
from storage.db import Database
from storage.models import JobCursor, OutboxMessage
from storage.sql import insert_or_ignore

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


# --- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    created: int = 0
    dropped: int = 0
    busy: bool = False  # another worker holds the cursor

    @property
    def summary(self) -> dict[str, int]:
        return {"created": self.created, "dropped": self.dropped}


def cursor_name(plan: Plan) -> str:
    return f"reminders:{plan.id}"


def _take_cursor(session: Session, name: str, now: datetime) -> JobCursor | None:
    """The cursor row, locked for this run; None while another worker holds it."""
    start_of_day = datetime.combine(now.astimezone(ZONE).date(), time(0), ZONE)
    session.execute(
        insert_or_ignore(session, JobCursor)
        .values(name=name, last_run_at=start_of_day)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    cursor = session.scalars(
        select(JobCursor).where(JobCursor.name == name).with_for_update(skip_locked=True)
    ).one_or_none()
    if cursor is not None and cursor.last_run_at > now + timedelta(days=1):
        cursor.last_run_at = start_of_day  # the clock was set back (a replay): start again
    return cursor


def run_once(db: Database, plan: Plan, rules: ReminderRules, now: datetime) -> RunResult:
    """Write the outbox rows of every reminder due since the last run."""
    with db.transaction() as session:
        cursor = _take_cursor(session, cursor_name(plan), now)
        if cursor is None:
            return RunResult(busy=True)
        if now <= cursor.last_run_at:
            return RunResult()
        planned = Planner(session, plan, rules, now).due(cursor.last_run_at)
        outbox.insert_once(session, [p.row(now) for p in planned])
        cursor.last_run_at = now
        dropped = sum(1 for p in planned if p.dropped)
        return RunResult(created=len(planned) - dropped, dropped=dropped)


def preview(db: Database, plan: Plan, rules: ReminderRules, day: date) -> list[Planned]:
    """What the morning run of `day` would write, given the database as it is now."""
    now = rules.delivery.scheduled(day)
    since = datetime.combine(day, time(0), ZONE)
    with db.transaction() as session:
        return Planner(session, plan, rules, now).due(since)


def already_queued(db: Database, keys: list[str]) -> set[str]:
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
        )
        return {key for key in rows if key}


# --- the loop inside `serve` -------------------------------------------------------------


class Scheduler:
    """Reminders and broadcasts in the background: one `tick` every few seconds."""

    def __init__(
        self,
        db: Database,
        plan: Plan,
        rules: ReminderRules,
        clock: Clock,
        *,
        interval: float = 5.0,
    ) -> None:
        self.db = db
        self.plan = plan
        self.rules = rules
        self.clock = clock
        self.interval = interval

    def tick(self) -> dict[str, int]:
        """One pass: due reminders, queued broadcasts expanded, progress and reports."""
        result = run_once(self.db, self.plan, self.rules, self.clock.now())
        expanded = 0
        while broadcaster.expand(self.db, self.plan, self.rules, self.clock.now()):
            expanded += 1
        notes = broadcaster.follow(self.db, self.clock.now())
        return {**result.summary, "broadcasts": expanded, "notes": notes}

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("scheduler tick failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def quiet(self, now: datetime) -> tuple[str, ...]:
        """For the senders: reminders wait while it is quiet hours."""
        return ("reminder",) if self.rules.delivery.is_quiet(now) else ()


def for_app(app: App) -> Scheduler:
    """The scheduler with the app's plan, its reminder rules and settings."""
    rules = load_rules(app.plan, app.settings.reminders)
    return Scheduler(app.db, app.plan, rules, app.clock, interval=app.settings.scheduler_seconds)
