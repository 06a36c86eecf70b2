"""The outbox: claim due messages, then record how each send went.

Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL so several senders share the
queue without taking the same row; on SQLite the single writer does the same job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OutboxMessage, User

MAX_ATTEMPTS = 8
WEBHOOK = "webhook"  # the channel and kind of deliveries to another system (bot/forwarder.py)


def claim_due(
    session: Session,
    channel: str,
    now: datetime,
    *,
    limit: int = 50,
    user_id: int | None = None,
    lease: timedelta = timedelta(minutes=5),
) -> Sequence[OutboxMessage]:
    """Take up to `limit` due messages; each is leased so a crashed sender's rows come back."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.channel == channel)
        .where(OutboxMessage.status.in_(("pending", "sending")))
        .where(OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if user_id is not None:
        query = query.where(OutboxMessage.user_id == user_id)
    messages = session.scalars(query).all()
    for message in messages:
        message.status = "sending"
        message.attempts += 1
        message.next_attempt_at = now + lease
    return messages


def mark_sent(message: OutboxMessage, now: datetime, platform_message_id: str | None) -> None:
    message.status = "sent"
    message.sent_at = now
    message.platform_message_id = platform_message_id
    message.last_error = None


def mark_retry(message: OutboxMessage, now: datetime, error: str, delay: timedelta) -> None:
    """A passing failure: try again later, unless it has failed too often."""
    message.last_error = error
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.status = "pending"
        message.next_attempt_at = now + delay


def mark_undeliverable(session: Session, message: OutboxMessage, reason: str) -> None:
    """Failed for good (blocked, unfollowed, out of the window): never retried."""
    message.status = "undeliverable"
    message.last_error = reason
    user = session.get(User, message.user_id)
    if user is not None:
        user.reachable = False
        user.unreachable_reason = reason


def backlog(session: Session) -> dict[str, int]:
    """Messages per status, for /healthz and staff."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: int(count) for status, count in rows}


def backlog_by_kind(session: Session) -> dict[str, dict[str, int]]:
    """Messages per kind, then per status: {"webhook": {"pending": 2, "sent": 10}}."""
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.kind, OutboxMessage.status
        )
    ).all()
    result: dict[str, dict[str, int]] = {}
    for kind, status, count in rows:
        result.setdefault(kind, {})[status] = int(count)
    return result


def latest_problem(session: Session, kind: str) -> OutboxMessage | None:
    """The most recent message of `kind` that failed at least once and is not yet sent."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.status != "sent")
        .where(OutboxMessage.last_error.is_not(None))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).one_or_none()
