"""The outbox sender: sent once, retried on passing failures, stopped by permanent ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import App
from bot.sender import Delivery, OutboxSender, Recipient
from storage import outbox, repository
from storage.models import OutboxMessage, User


class RecordingPlatform:
    """A platform stand-in that answers each send from a script of outcomes."""

    channel = "console"

    def __init__(self, *outcomes: Delivery) -> None:
        self.outcomes = list(outcomes)
        self.received: list[tuple[str, str]] = []

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery:
        self.received.append((recipient.channel_user_id, payload["text"]))
        return self.outcomes.pop(0) if self.outcomes else Delivery(f"p{len(self.received)}")


def queue(app: App, text: str, who: str = "v1") -> None:
    with app.db.transaction() as session:
        now = app.clock.now()
        user = repository.get_or_create_user(session, "console", who, now)
        repository.enqueue(session, user, "notice", {"text": text, "buttons": []}, now)


def statuses(app: App) -> list[tuple[str, int, str | None]]:
    with app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.status, m.attempts, m.platform_message_id) for m in rows]


async def test_sent_once_and_never_again(app: App) -> None:
    queue(app, "hello")
    platform = RecordingPlatform()
    sender = OutboxSender(app.db, app.clock, platform)
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0
    assert platform.received == [("v1", "hello")]
    assert statuses(app) == [("sent", 1, "p1")]


async def test_passing_failure_waits_for_retry_after(app: App) -> None:
    queue(app, "hello")
    platform = RecordingPlatform(Delivery(retry_after=30, error="429"))
    sender = OutboxSender(app.db, app.clock, platform)
    await sender.run_once()
    assert statuses(app) == [("pending", 1, None)]
    assert await sender.run_once() == 0  # not due yet
    app.clock.advance(timedelta(seconds=31))
    assert await sender.run_once() == 1
    assert statuses(app) == [("sent", 2, "p2")]


async def test_permanent_failure_marks_the_user_unreachable(app: App) -> None:
    queue(app, "first")
    queue(app, "second")
    platform = RecordingPlatform(Delivery(permanent="blocked by the user"))
    sender = OutboxSender(app.db, app.clock, platform, batch=1)
    await sender.run_once()
    await sender.run_once()
    assert [s for s, _, _ in statuses(app)] == ["undeliverable", "undeliverable"]
    assert len(platform.received) == 1  # the second is never tried
    with app.db.transaction() as session:
        user = session.scalars(select(User)).one()
        assert not user.reachable and user.unreachable_reason == "blocked by the user"


# --- crash safety, expiry, quiet hours, priority -------------------------------------------


def queue_kind(app: App, text: str, kind: str, who: str = "v1", **columns: Any) -> int:
    with app.db.transaction() as session:
        now = app.clock.now()
        user = repository.get_or_create_user(session, "console", who, now)
        message = repository.enqueue(session, user, kind, {"text": text, "buttons": []}, now)
        for name, value in columns.items():
            setattr(message, name, value)
        session.flush()
        return message.id


def crash_after_dispatch(app: App, lease: timedelta) -> None:
    """A sender claims everything due and marks it dispatched, then is killed (kill -9)."""
    with app.db.transaction() as session:
        claimed = [(m.id, m.attempts) for m in outbox.claim_due(
            session, "console", app.clock.now(), lease=lease)]  # fmt: skip
    with app.db.transaction() as session:
        for message_id, attempts in claimed:
            assert outbox.mark_dispatched(session, message_id, attempts, app.clock.now())


async def test_after_a_crash_a_dispatched_broadcast_is_not_sent_again(app: App) -> None:
    queue_kind(app, "announcement", "broadcast")
    queue_kind(app, "reminder", "reminder")
    queue_kind(app, "your registration was returned", "notice")
    crash_after_dispatch(app, timedelta(seconds=30))
    platform = RecordingPlatform()
    sender = OutboxSender(app.db, app.clock, platform)
    assert await sender.run_once() == 0  # the lease still runs: maybe still in flight
    app.clock.advance(timedelta(seconds=31))
    assert await sender.run_once() == 1
    # It may have arrived: a broadcast or a reminder is not risked twice; a notice is.
    assert platform.received == [("v1", "your registration was returned")]
    assert [s for s, _, _ in statuses(app)] == ["interrupted", "interrupted", "sent"]


async def test_claimed_but_never_dispatched_is_sent_after_the_lease(app: App) -> None:
    queue_kind(app, "announcement", "broadcast")
    with app.db.transaction() as session:  # claimed, then the sender died before sending
        outbox.claim_due(session, "console", app.clock.now(), lease=timedelta(seconds=30))
    platform = RecordingPlatform()
    app.clock.advance(timedelta(seconds=31))
    await OutboxSender(app.db, app.clock, platform).run_once()
    assert platform.received == [("v1", "announcement")]
    assert statuses(app) == [("sent", 2, "p1")]


async def test_a_sender_whose_lease_ran_out_does_not_send(app: App) -> None:
    """Fencing: the row went to another sender meanwhile; the late one must not send it."""
    message_id = queue_kind(app, "announcement", "broadcast")
    with app.db.transaction() as session:
        first = outbox.claim_due(session, "console", app.clock.now(), lease=timedelta(seconds=1))
        first_attempts = first[0].attempts
    app.clock.advance(timedelta(seconds=2))
    with app.db.transaction() as session:
        second = outbox.claim_due(session, "console", app.clock.now())
        assert outbox.mark_dispatched(session, message_id, second[0].attempts, app.clock.now())
    with app.db.transaction() as session:
        assert not outbox.mark_dispatched(session, message_id, first_attempts, app.clock.now())


async def test_too_late_is_dropped_and_quiet_hours_hold_reminders(app: App) -> None:
    now = app.clock.now()
    queue_kind(app, "useless now", "reminder", expires_at=now - timedelta(minutes=1))
    queue_kind(app, "for the morning", "reminder", who="v2")
    queue_kind(app, "a notice", "notice", who="v3")
    platform = RecordingPlatform()
    sender = OutboxSender(app.db, app.clock, platform, quiet=lambda _: ("reminder",))
    await sender.run_once()
    assert platform.received == [("v3", "a notice")]
    sender.quiet = None  # morning
    await sender.run_once()
    assert platform.received[1:] == [("v2", "for the morning")]
    assert [s for s, _, _ in statuses(app)] == ["expired", "sent", "sent"]


async def test_staff_notes_go_before_a_long_broadcast(app: App) -> None:
    for n in range(5):
        queue_kind(app, f"announcement {n}", "broadcast", who=f"v{n}", priority=9)
    queue_kind(app, "progress 25%", "staff", who="staff", priority=1)
    platform = RecordingPlatform()
    await OutboxSender(app.db, app.clock, platform, batch=1, concurrency=1).run_once()
    assert platform.received == [("staff", "progress 25%")]
