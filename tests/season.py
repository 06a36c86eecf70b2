"""Building the 2017 season in the database for reminder and broadcast tests.

People, consents, drafts and registrations are written the way the handlers write them
(repository functions), with the clock of the moment, so the scheduler sees real data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bot.app import App
from bot.sender import Delivery, Recipient
from storage import repository
from storage.models import Conversation, OutboxMessage, Registration, User


def person(
    app: App,
    who: str,
    *,
    channel: str = "console",
    role: str = "village",
    unit: str | None = None,
    consent: bool | None = True,
    reminders: bool = True,
    language: str = "vi",
    last_seen: datetime | None = None,
    following: bool = True,
    reachable: bool = True,
    name: str | None = None,
) -> int:
    """A user; `consent` None: never asked about follow-up messages."""
    now = app.clock.now()
    with app.db.transaction() as session:
        user = repository.get_or_create_user(
            session, channel, who, now, display_name=name or who, language=language
        )
        user.role, user.unit_code = role, unit
        user.reminders_enabled, user.following = reminders, following
        user.reachable = reachable
        user.unreachable_reason = None if reachable else "Forbidden: bot was blocked by the user"
        user.last_seen_at = last_seen or now
        if consent is not None:
            repository.record_consent(session, user, "followup", "2026-01", consent, now)
        session.flush()
        return user.id


def draft(app: App, user_id: int, village: str) -> None:
    """A registration started and left at the second question."""
    with app.db.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        conversation = repository.conversation_of(session, user, app.clock.now())
        conversation.flow, conversation.step = "reg", "commune"
        conversation.data = {"village": village}


def register(app: App, user_id: int, unit: str, village: str, status: str = "submitted") -> str:
    now = app.clock.now()
    with app.db.transaction() as session:
        user = session.get(User, user_id)
        number = repository.next_number(session, f"hanoi-2017:{unit}")
        registration = Registration(
            code=f"HN2017-{unit}-{number:04d}",
            plan_id="hanoi-2017",
            user_id=user_id,
            status="",
            unit_code=unit,
            village=village,
            village_key=village.lower(),
            commune="xã " + village,
            craft="gốm sứ",
            decision_number="5427/QĐ-UBND",
            decision_date=date(2010, 3, 15),
            rep_type="cooperative",
            rep_name="HTX " + village,
            rep_legal_entity=True,
            contact_name="Nguyễn Văn An",
            contact_position="Chủ nhiệm",
            contact_phone="0912345678",
            items=["training"],
            prior_years=[],
            created_at=now,
            submitted_at=now,
            updated_at=now,
        )
        session.add(registration)
        session.flush()
        repository.change_status(session, registration, "submitted", now, actor=user)
        if status != "submitted":
            repository.change_status(session, registration, status, now, actor=None)
        return registration.code


def set_status(app: App, code: str, status: str, reason: str | None = None) -> None:
    with app.db.transaction() as session:
        registration = repository.registration_by_code(session, code)
        assert registration is not None
        repository.change_status(session, registration, status, app.clock.now(), actor=None)
        registration.return_reason = reason


def submit_draft(app: App, user_id: int) -> None:
    with app.db.transaction() as session:
        conversation = session.get(Conversation, user_id)
        assert conversation is not None
        conversation.flow, conversation.step, conversation.data = None, None, {}


def rows(app: App, **filters: Any) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in filters.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


@dataclass
class Platform:
    """A platform stand-in for the outbox: records each delivery; some users are blocked."""

    channel: str = "console"
    blocked: set[str] = field(default_factory=set)
    received: list[tuple[str, str, str]] = field(default_factory=list)  # (who, text, id)

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery:
        if recipient.channel_user_id in self.blocked:
            return Delivery(permanent="Forbidden: bot was blocked by the user")
        message_id = f"p{len(self.received) + 1}"
        self.received.append((recipient.channel_user_id, payload["text"], message_id))
        return Delivery(message_id)
