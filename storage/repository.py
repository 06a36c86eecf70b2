"""Repository functions: the queries and writes the handlers and channels need.

Each takes the session of the current unit of work, so everything a step changes
commits together with its conversation state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    AuditEntry,
    Consent,
    Conversation,
    Counter,
    OutboxMessage,
    ProcessedMessage,
    Registration,
    StatusChange,
    User,
)
from storage.sql import insert_or_ignore

# A registration in one of these is "live": the same village can't register again.
LIVE_STATUSES = ("submitted", "returned", "forwarded", "selected")


def mark_processed(session: Session, channel: str, message_id: str, now: datetime) -> bool:
    """Record an incoming message id in one statement; False if it was already there."""
    table = ProcessedMessage.__table__
    statement = (
        insert_or_ignore(session, table)
        .values(channel=channel, message_id=message_id, at=now)
        .on_conflict_do_nothing()
        .returning(table.c.message_id)
    )
    # RETURNING says whether a row went in; rowcount is not dependable across drivers.
    return session.connection().execute(statement).first() is not None


def user_and_conversation(
    session: Session, channel: str, channel_user_id: str
) -> tuple[User, Conversation | None] | None:
    """Both rows in one query, for the hot path of every incoming message."""
    row = session.execute(
        select(User, Conversation)
        .outerjoin(Conversation, Conversation.user_id == User.id)
        .where(User.channel == channel, User.channel_user_id == channel_user_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def get_user(session: Session, channel: str, channel_user_id: str) -> User | None:
    return session.scalars(
        select(User).where(User.channel == channel, User.channel_user_id == channel_user_id)
    ).one_or_none()


def get_or_create_user(
    session: Session,
    channel: str,
    channel_user_id: str,
    now: datetime,
    *,
    display_name: str | None = None,
    language: str = "vi",
    known_new: bool = False,
) -> User:
    """The user, created on first contact (`known_new` skips the look-up)."""
    user = None if known_new else get_user(session, channel, channel_user_id)
    if user is None:
        user = User(
            channel=channel,
            channel_user_id=channel_user_id,
            display_name=display_name,
            language=language,
            role="village",
            reachable=True,
            following=True,
            reminders_enabled=True,
            created_at=now,
            last_seen_at=now,
        )
        session.add(user)
        session.flush()
    return user


def conversation_of(session: Session, user: User, now: datetime) -> Conversation:
    conversation = session.get(Conversation, user.id)
    if conversation is None:
        conversation = Conversation(user_id=user.id, data={}, version=0, updated_at=now)
        session.add(conversation)
    return conversation


# --- consent -------------------------------------------------------------------------


def active_consent(session: Session, user: User, purpose: str) -> Consent | None:
    return session.scalars(
        select(Consent)
        .where(Consent.user_id == user.id, Consent.purpose == purpose)
        .where(Consent.withdrawn_at.is_(None))
        .order_by(Consent.id.desc())
        .limit(1)
    ).one_or_none()


def record_consent(
    session: Session, user: User, purpose: str, version: str, granted: bool, now: datetime
) -> Consent:
    consent = Consent(
        user_id=user.id, purpose=purpose, text_version=version, granted=granted, at=now
    )
    session.add(consent)
    return consent


def withdraw_consents(session: Session, user: User, now: datetime) -> int:
    result = session.execute(
        update(Consent)
        .where(Consent.user_id == user.id, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- registrations ---------------------------------------------------------------------


def next_number(session: Session, name: str) -> int:
    """Increment a named counter; the UPDATE locks its row until the transaction ends."""
    counter = session.get(Counter, name, with_for_update=True)
    if counter is None:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0))
        except IntegrityError:
            pass
        counter = session.get(Counter, name, with_for_update=True, populate_existing=True)
        assert counter is not None
    counter.value += 1
    session.flush()
    return counter.value


def find_live_registration(
    session: Session, plan_id: str, unit_code: str, village_key: str
) -> Registration | None:
    return session.scalars(
        select(Registration)
        .where(Registration.plan_id == plan_id, Registration.unit_code == unit_code)
        .where(Registration.village_key == village_key)
        .where(Registration.status.in_(LIVE_STATUSES))
        .limit(1)
    ).one_or_none()


def registrations_of(session: Session, user: User) -> Sequence[Registration]:
    return session.scalars(
        select(Registration).where(Registration.user_id == user.id).order_by(Registration.id)
    ).all()


def registration_by_code(session: Session, code: str) -> Registration | None:
    return session.scalars(select(Registration).where(Registration.code == code)).one_or_none()


def change_status(
    session: Session,
    registration: Registration,
    to_status: str,
    now: datetime,
    *,
    actor: User | None,
    note: str | None = None,
) -> StatusChange:
    change = StatusChange(
        at=now,
        from_status=registration.status or None,
        to_status=to_status,
        actor_user_id=actor.id if actor else None,
        note=note,
    )
    registration.status = to_status
    registration.updated_at = now
    registration.history.append(change)  # also for a new registration: one flush for both
    return change


def officers_of(session: Session, unit_code: str) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.role == "officer", User.unit_code == unit_code)
    ).all()


def count_registrations(session: Session, **filters: Any) -> int:
    query = select(func.count()).select_from(Registration)
    for name, value in filters.items():
        query = query.where(getattr(Registration, name) == value)
    return int(session.scalar(query) or 0)


# --- outbox and audit -------------------------------------------------------------------


def enqueue(
    session: Session,
    user: User,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    dedupe_key: str | None = None,
    channel: str | None = None,
) -> OutboxMessage:
    """A message for `user` on their channel (or for another system: channel="webhook")."""
    message = OutboxMessage(
        user_id=user.id,
        channel=channel or user.channel,
        kind=kind,
        payload=payload,
        dedupe_key=dedupe_key,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def notice_payloads(session: Session, user: User, since: datetime) -> set[str]:
    """Button payloads of the notices this user was sent since `since`.

    A notice (returned registration, new submission…) may carry buttons; pressing one
    later is as valid as pressing a button of the last answer.
    """
    rows = session.scalars(
        select(OutboxMessage.payload)
        .where(OutboxMessage.user_id == user.id, OutboxMessage.created_at >= since)
        .where(OutboxMessage.status == "sent")
        .order_by(OutboxMessage.id.desc())
        .limit(50)
    )
    return {str(button[1]) for payload in rows for button in payload.get("buttons", [])}


def audit(
    session: Session,
    now: datetime,
    actor: User | None,
    action: str,
    subject: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_user_id=actor.id if actor else None,
            action=action,
            subject=subject,
            detail=detail,
        )
    )


# --- review by the reviewing unit, and the Department's list -----------------------------


def lock_registration(session: Session, registration_id: int) -> Registration | None:
    """A registration read afresh and locked until the transaction ends (PostgreSQL),
    so of two officers acting on it at once the second sees what the first did."""
    return session.scalars(
        select(Registration)
        .where(Registration.id == registration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def pending_of_unit(
    session: Session, plan_id: str, unit_code: str, *, offset: int = 0, limit: int = 5
) -> tuple[Sequence[Registration], int]:
    """One page of a unit's submitted registrations, oldest first, and how many wait."""
    where = (
        Registration.plan_id == plan_id,
        Registration.unit_code == unit_code,
        Registration.status == "submitted",
    )
    total = int(session.scalar(select(func.count()).select_from(Registration).where(*where)) or 0)
    page = session.scalars(
        select(Registration)
        .where(*where)
        .order_by(Registration.submitted_at, Registration.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return page, total


@dataclass(frozen=True)
class UnitWaiting:
    """What waits for one reviewing unit: for the daily digest and the officer's status."""

    unit_code: str
    count: int
    oldest_code: str
    oldest_submitted_at: datetime


def waiting_by_unit(
    session: Session, plan_id: str, unit_code: str | None = None
) -> list[UnitWaiting]:
    """Per unit with submitted registrations: how many, and the oldest one (code, when)."""
    query = (
        select(Registration.unit_code, Registration.code, Registration.submitted_at)
        .where(Registration.plan_id == plan_id, Registration.status == "submitted")
        .where(Registration.submitted_at.is_not(None))
        .order_by(Registration.unit_code, Registration.submitted_at, Registration.id)
    )
    if unit_code is not None:
        query = query.where(Registration.unit_code == unit_code)
    counts: dict[str, int] = {}
    oldest: dict[str, tuple[str, datetime]] = {}
    for unit, code, submitted_at in session.execute(query):
        counts[unit] = counts.get(unit, 0) + 1
        if submitted_at is not None:  # always, by the query; this tells the type checker
            oldest.setdefault(unit, (code, submitted_at))
    return [UnitWaiting(unit, n, *oldest[unit]) for unit, n in counts.items()]


def registrations_in(
    session: Session,
    plan_id: str,
    *,
    statuses: Iterable[str] | None = None,
    unit_codes: Iterable[str] | None = None,
) -> Sequence[Registration]:
    """A plan's registrations, optionally of some statuses and units, by unit then code."""
    query = select(Registration).where(Registration.plan_id == plan_id)
    if statuses is not None:
        query = query.where(Registration.status.in_(list(statuses)))
    if unit_codes is not None:
        query = query.where(Registration.unit_code.in_(list(unit_codes)))
    return session.scalars(query.order_by(Registration.unit_code, Registration.code)).all()


def status_counts(session: Session, plan_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Registration.status, func.count())
        .where(Registration.plan_id == plan_id)
        .group_by(Registration.status)
    ).all()
    return {status: int(count) for status, count in rows}
