"""Delivers the outbox: claims due messages, hands each to its channel's transport,
and records the result. Messages that must arrive go this way (notices to other users,
reminders, broadcasts); direct replies are sent by the channel right after the commit.

A message with a platform message id is done and never sent again; a passing failure
comes back later (retry_after or backoff); a permanent one (blocked, unfollowed) marks the
recipient unreachable and is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from bot.clock import Clock
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    channel_user_id: str
    language: str


@dataclass(frozen=True)
class Delivery:
    """How one send went."""

    platform_message_id: str | None = None
    retry_after: float | None = None  # a passing failure: try again after this many seconds
    permanent: str | None = None  # failed for good, with the reason
    error: str | None = None  # the platform's words, for the record

    @property
    def ok(self) -> bool:
        return self.retry_after is None and self.permanent is None


class Transport(Protocol):
    channel: str

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery: ...


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … up to 10 minutes."""
    return timedelta(seconds=min(600, 2**attempts))


class OutboxSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        transport: Transport,
        *,
        batch: int = 50,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Send what is due now; returns how many messages were attempted."""
        claimed = await asyncio.to_thread(self._claim)
        await asyncio.gather(*(self._send(message_id, r, p) for message_id, r, p in claimed))
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("outbox sender for %s failed; retrying", self.transport.channel)
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)

    def _claim(self) -> list[tuple[int, Recipient, dict[str, Any]]]:
        with self.db.transaction() as session:
            messages = outbox.claim_due(
                session, self.transport.channel, self.clock.now(), limit=self.batch
            )
            claimed = []
            for message in messages:
                user = session.get(User, message.user_id)
                if user is None or not user.reachable:
                    reason = (user.unreachable_reason if user else None) or "unreachable"
                    outbox.mark_undeliverable(session, message, reason)
                    continue
                recipient = Recipient(user.id, user.channel_user_id, user.language)
                claimed.append((message.id, recipient, dict(message.payload)))
            return claimed

    async def _send(self, message_id: int, recipient: Recipient, payload: dict[str, Any]) -> None:
        async with self._slots:
            try:
                delivery = await self.transport.deliver(recipient, payload)
            except Exception as error:  # a network fault is a passing failure
                log.warning("sending outbox message %s failed: %r", message_id, error)
                delivery = Delivery(retry_after=-1, error=repr(error))
        await asyncio.to_thread(self._record, message_id, delivery)

    def _record(self, message_id: int, delivery: Delivery) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None:
                return
            if delivery.ok:
                outbox.mark_sent(message, now, delivery.platform_message_id)
            elif delivery.permanent is not None:
                outbox.mark_undeliverable(session, message, delivery.permanent)
            else:
                wait = delivery.retry_after or -1
                delay = timedelta(seconds=wait) if wait >= 0 else backoff(message.attempts)
                outbox.mark_retry(message, now, delivery.error or "temporary failure", delay)
