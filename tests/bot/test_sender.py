"""The outbox sender: sent once, retried on passing failures, stopped by permanent ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import App
from bot.sender import Delivery, OutboxSender, Recipient
from storage import repository
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
