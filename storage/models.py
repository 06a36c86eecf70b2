"""The database schema as SQLAlchemy 2.0 typed models.

Everything that must survive a restart lives here: users and their roles, consents,
the conversation state of every user, registrations with their status history, the
ids of processed incoming messages, the outbox and the audit log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime(),
    }


class User(Base):
    """One person on one channel (a Zalo user and a Telegram user are two rows)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    role: Mapped[str] = mapped_column(String(16), default="village")  # village|officer|staff
    unit_code: Mapped[str | None] = mapped_column(String(16))  # an officer's reviewing unit
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    consents: Mapped[list[Consent]] = relationship(back_populates="user")


class Consent(Base):
    """An explicit consent for one purpose, kept with the text version the person saw."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # registration | followup
    text_version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="consents")


class Conversation(Base):
    """Where a user is in a conversation, and the draft so far; one row per user."""

    __tablename__ = "conversations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The buttons of the last answer, [label, payload]: a typed number or label picks one,
    # and a pressed button not among them comes from an old message.
    offered: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Registration(Base):
    """A village's registration for the plan, from draft to its final status."""

    __tablename__ = "registrations"
    __table_args__ = (Index("ix_registrations_unit_status", "unit_code", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # submitted|returned|forwarded|...
    unit_code: Mapped[str] = mapped_column(String(16))
    village: Mapped[str] = mapped_column(String(200))
    village_key: Mapped[str] = mapped_column(String(200))  # folded, for duplicate checks
    commune: Mapped[str] = mapped_column(String(200))
    craft: Mapped[str] = mapped_column(String(200))
    decision_number: Mapped[str] = mapped_column(String(64))
    decision_date: Mapped[date] = mapped_column(Date)
    rep_type: Mapped[str] = mapped_column(String(32))
    rep_name: Mapped[str] = mapped_column(String(300))
    rep_legal_entity: Mapped[bool] = mapped_column(Boolean)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_position: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[list[Any]] = mapped_column(default=list)
    prior_years: Mapped[list[Any]] = mapped_column(default=list)
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    history: Mapped[list[StatusChange]] = relationship(
        back_populates="registration", order_by="StatusChange.id"
    )


class StatusChange(Base):
    """One step of a registration's history: who moved it where, when and why."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    registration: Mapped[Registration] = relationship(back_populates="history")


class Counter(Base):
    """Named sequences (registration numbers per unit), incremented under a row lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedMessage(Base):
    """Incoming message ids already handled, so a redelivered update is ignored."""

    __tablename__ = "processed_messages"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime]


class OutboxMessage(Base):
    """A message that must arrive, written in the transaction of the change behind it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # notice|reminder|broadcast|webhook
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Lower goes first: staff progress before a broadcast's thousands of rows.
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    route: Mapped[str | None] = mapped_column(String(16))  # Zalo: cs | promotion
    expires_at: Mapped[datetime | None]  # a reminder useless after this is dropped, not sent
    # Set in its own commit just before the request leaves: a row that has it but no result
    # may have arrived, so a broadcast or reminder is not sent again after a crash.
    dispatched_at: Mapped[datetime | None]


class Broadcast(Base):
    """An announcement by staff to a chosen audience; one outbox row per recipient."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # queued|sending|done|cancelled
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the preview, then results
    progress_reported: Mapped[int] = mapped_column(Integer, default=0)  # last % told to staff
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class JobCursor(Base):
    """How far a periodic job (the reminder scheduler) has looked, so a restart resumes."""

    __tablename__ = "job_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what to which record; written in the same transaction as the change."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Question(Base):
    """A question the bot could not answer from the plan, passed to Department staff."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # open | answered | erased
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]


class KnowledgeEntry(Base):
    """A question–answer pair staff added to the knowledge base from a reply."""

    __tablename__ = "kb_entries"
    __table_args__ = (Index("ix_kb_entries_plan", "plan_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Invite(Base):
    """A single-use, expiring code with which a reviewing unit's officer joins.

    Only a hash of the code is kept: the code itself is shown once, to the staff member
    who created it, and a leaked database holds no usable invitation.
    """

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_code: Mapped[str] = mapped_column(String(16))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class InboxEvent(Base):
    """A verified incoming platform event, stored before the platform gets its 200.

    Rows of one sender are processed in order (`id`); a crash leaves them here to be
    processed on the next start. `event_id` is the platform's id (Zalo `msg_id`), unique
    per channel, so a redelivered webhook is stored once.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index("ix_inbox_sender_status", "channel", "sender", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(64))  # the platform's user id
    kind: Mapped[str] = mapped_column(String(64))  # e.g. user_send_text, follow
    body: Mapped[str] = mapped_column(Text)  # the raw request body, as verified
    status: Mapped[str] = mapped_column(String(16), default="pending")  # |processing|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]  # a claimed row's lease ends here
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class ZaloToken(Base):
    """The Zalo OA access token and its single-use refresh token, replaced together."""

    __tablename__ = "zalo_tokens"

    oa_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime]
    refreshed_at: Mapped[datetime]
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
