"""The durable inbox: verified incoming events, stored before the platform is answered.

A webhook writes the raw event here and answers 200 at once; workers then take each
sender's rows one at a time, oldest first. A claimed row is leased: if its worker dies,
the lease runs out and the row is taken again. A channel id (Zalo `msg_id`) is stored
once per channel, so a redelivered webhook adds nothing.

Claims of one sender are serialised by a transaction-scoped advisory lock on PostgreSQL
(several workers) and by the single SQLite writer (BEGIN IMMEDIATE) otherwise.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import InboxEvent
from storage.sql import insert_or_ignore

UNFINISHED = ("pending", "processing")
MAX_ATTEMPTS = 5


def add(
    session: Session,
    channel: str,
    event_id: str,
    sender: str,
    kind: str,
    body: str,
    now: datetime,
) -> bool:
    """Store one event; False when this channel id is already stored (a redelivery).

    One statement (INSERT … ON CONFLICT DO NOTHING): this is what the platform waits for.
    """
    statement = (
        insert_or_ignore(session, InboxEvent)
        .values(
            channel=channel,
            event_id=event_id,
            sender=sender,
            kind=kind,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(InboxEvent.id)  # a row back: it went in (SQLite 3.35+ has RETURNING)
    )
    return session.connection().execute(statement).first() is not None


def claim_next(
    session: Session,
    channel: str,
    sender: str,
    now: datetime,
    *,
    lease: timedelta = timedelta(seconds=60),
) -> InboxEvent | None:
    """The sender's oldest unfinished event, leased to the caller; None if there is none,
    or if it is not due (leased to another worker, or waiting to be retried)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"inbox:{channel}:{sender}".encode())
        session.execute(select(func.pg_advisory_xact_lock(key)))
    row = session.scalars(
        select(InboxEvent)
        .where(InboxEvent.channel == channel, InboxEvent.sender == sender)
        .where(InboxEvent.status.in_(UNFINISHED))
        .order_by(InboxEvent.id)
        .limit(1)
    ).one_or_none()
    if row is None or row.next_attempt_at > now:
        return None
    row.status = "processing"
    row.attempts += 1
    row.next_attempt_at = now + lease
    return row


def mark_done(session: Session, channel: str, event_id: str, now: datetime) -> None:
    """Done, and without its text: what a person wrote is kept where the handler put it."""
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.channel == channel, InboxEvent.event_id == event_id)
        .where(InboxEvent.status != "done")
        .values(status="done", processed_at=now, last_error=None, body="")
        .execution_options(synchronize_session=False)
    )


def mark_retry(session: Session, row_id: int, now: datetime, error: str) -> InboxEvent | None:
    """Processing failed: try again later, or give up after MAX_ATTEMPTS (kept, as failed)."""
    row = session.get(InboxEvent, row_id)
    if row is None or row.status == "done":
        return row
    row.last_error = error[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
        row.processed_at = now
    else:
        row.status = "pending"
        row.next_attempt_at = now + timedelta(seconds=min(300, 2**row.attempts))
    return row


def senders_with_work(
    session: Session, channel: str, now: datetime, *, limit: int = 1000
) -> Sequence[str]:
    """Senders with an unfinished event that is due: left by a crash, or waiting a retry."""
    return session.scalars(
        select(InboxEvent.sender)
        .where(InboxEvent.channel == channel, InboxEvent.status.in_(UNFINISHED))
        .where(InboxEvent.next_attempt_at <= now)
        .group_by(InboxEvent.sender)
        .order_by(func.min(InboxEvent.id))
        .limit(limit)
    ).all()


def backlog(session: Session, channel: str) -> dict[str, int]:
    rows = session.execute(
        select(InboxEvent.status, func.count())
        .where(InboxEvent.channel == channel)
        .group_by(InboxEvent.status)
    ).all()
    return {status: int(count) for status, count in rows}
