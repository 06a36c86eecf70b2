"""The outbox: claim due messages, then record how each send went.

Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL so several senders share the
queue without taking the same row; on SQLite the single writer does the same job.

A claimed row is leased; just before its request leaves, `mark_dispatched` records that in
its own commit (and fences off a second sender whose lease ran out). After a crash a
leased row that was never dispatched is simply sent again; one that was dispatched may have
arrived, so a broadcast or a reminder is marked "interrupted" rather than risk a duplicate
(a notice about a status change is sent again: better twice than never).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxMessage, User
from storage.sql import insert_or_ignore

MAX_ATTEMPTS = 8
AT_MOST_ONCE = ("broadcast", "reminder")  # never risk a duplicate of these
PRIORITY = {"notice": 5, "reminder": 5, "broadcast": 9, "staff": 1}
WEBHOOK = "webhook"  # the channel and kind of deliveries to another system (bot/forwarder.py)


def claim_due(
    session: Session,
    channel: str,
    now: datetime,
    *,
    limit: int = 50,
    user_id: int | None = None,
    lease: timedelta = timedelta(minutes=5),
    hold_kinds: Iterable[str] = (),
) -> Sequence[OutboxMessage]:
    """Take up to `limit` due messages; each is leased so a crashed sender's rows come back.

    `hold_kinds` are left waiting (reminders during quiet hours). Rows past their
    `expires_at` are dropped as "expired"; see the module note for "interrupted".
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.channel == channel)
        .where(OutboxMessage.status.in_(("pending", "sending")))
        .where(OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if user_id is not None:
        query = query.where(OutboxMessage.user_id == user_id)
    held = tuple(hold_kinds)
    if held:
        query = query.where(OutboxMessage.kind.not_in(held))
    claimed = []
    for message in session.scalars(query).all():
        if message.expires_at is not None and message.expires_at <= now:
            message.status = "expired"
            message.last_error = "too late to be useful; not sent"
        elif (
            message.status == "sending"
            and message.dispatched_at is not None
            and message.kind in AT_MOST_ONCE
        ):
            message.status = "interrupted"
            message.last_error = "sender stopped during the request; not sent again"
        else:
            message.status = "sending"
            message.attempts += 1
            message.next_attempt_at = now + lease
            message.dispatched_at = None
            claimed.append(message)
    return claimed


def mark_dispatched(session: Session, message_id: int, attempts: int, now: datetime) -> bool:
    """Record that the request is about to leave; False if the lease is no longer ours."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending")
        .where(OutboxMessage.attempts == attempts, OutboxMessage.dispatched_at.is_(None))
        .values(dispatched_at=now)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def mark_sent(message: OutboxMessage, now: datetime, platform_message_id: str | None) -> None:
    message.status = "sent"
    message.sent_at = now
    message.platform_message_id = platform_message_id
    message.last_error = None


def mark_retry(message: OutboxMessage, now: datetime, error: str, delay: timedelta) -> None:
    """A passing failure: try again later, unless it has failed too often."""
    message.last_error = error
    message.dispatched_at = None  # the platform answered: it did not arrive
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


def insert_once(session: Session, rows: Sequence[dict[str, Any]], chunk: int = 500) -> None:
    """Insert outbox rows; a row whose dedupe_key exists already is skipped, not an error.

    Two workers racing to create the same reminder both succeed and only one row exists.
    """
    if not rows:
        return
    for start in range(0, len(rows), chunk):
        statement = insert_or_ignore(session, OutboxMessage).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
        session.execute(statement, list(rows[start : start + chunk]))


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
