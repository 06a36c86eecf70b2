"""Delivers the outbox: claims due messages, hands each to its channel's transport,
and records the result. Messages that must arrive go this way (notices to other users,
reminders, broadcasts); direct replies are sent by the channel right after the commit.

A message with a platform message id is done and never sent again; a passing failure
comes back later (retry_after or backoff); a permanent one (blocked, unfollowed) marks the
recipient unreachable and is never retried.

Pace: one `RateLimiter` per sender (the platform's overall and per-chat limits), waited on
right before each request; a "retry after" from the platform holds that chat. Claiming is a
pipeline: more rows are claimed while earlier ones wait for their turn, so the limiter, not
the database, sets the rate. Just before a request leaves, the row is marked dispatched in
its own commit (storage.outbox), which is what lets a restart after kill -9 resume without
sending anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.ratelimit import Limits, RateLimiter
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
    """A channel's way to send one outbox message.

    A transport may also carry `limits: bot.ratelimit.Limits` (its platform's rates); without
    it the channel's defaults in bot.ratelimit apply.
    """

    channel: str

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery: ...


@dataclass(frozen=True)
class Claimed:
    message_id: int
    attempts: int  # the fencing token: the lease is ours while this matches
    recipient: Recipient
    payload: dict[str, Any]


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … up to 10 minutes."""
    return timedelta(seconds=min(600, 2**attempts))


# Which kinds of message wait while it is quiet hours (None: nothing ever waits).
QuietPolicy = Callable[[datetime], tuple[str, ...]]


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
        lease: timedelta = timedelta(seconds=60),
        limiter: RateLimiter | None = None,
        quiet: QuietPolicy | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.lease = lease
        limits: Limits | None = getattr(transport, "limits", None)
        self.limiter = limiter or RateLimiter.for_channel(transport.channel, limits)
        self.quiet = quiet
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Send what is due now; returns how many messages were attempted."""
        claimed = await asyncio.to_thread(self._claim, self.batch)
        await asyncio.gather(*(self._send(item) for item in claimed))
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Claim while earlier messages wait for their turn; stop when `stop` is set."""
        running: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            finished.set()

        while not stop.is_set():
            finished.clear()
            claimed: list[Claimed] = []
            if len(running) <= self.batch // 2:
                try:
                    claimed = await asyncio.to_thread(self._claim, self.batch - len(running))
                except Exception:
                    log.exception("claiming for %s failed; retrying", self.transport.channel)
            for item in claimed:
                task = asyncio.create_task(self._send(item))
                running.add(task)
                task.add_done_callback(done)
            if claimed and len(running) <= self.batch // 2:
                continue  # sending faster than claiming: claim again at once
            waiters = [asyncio.create_task(stop.wait())]
            if running:
                waiters.append(asyncio.create_task(finished.wait()))
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        held = self.quiet(now) if self.quiet else ()
        with self.db.transaction() as session:
            messages = outbox.claim_due(
                session,
                self.transport.channel,
                now,
                limit=limit,
                lease=self.lease,
                hold_kinds=held,
            )
            claimed = []
            for message in messages:
                user = session.get(User, message.user_id)
                if user is None or not user.reachable:
                    reason = (user.unreachable_reason if user else None) or "unreachable"
                    message.attempts -= 1  # nothing was tried
                    outbox.mark_undeliverable(session, message, reason)
                    continue
                recipient = Recipient(user.id, user.channel_user_id, user.language)
                claimed.append(
                    Claimed(message.id, message.attempts, recipient, dict(message.payload))
                )
            return claimed

    async def _send(self, item: Claimed) -> None:
        chat = item.recipient.channel_user_id
        limiter = self.limiter
        async with contextlib.AsyncExitStack() as stack:
            if limiter is not None:
                await stack.enter_async_context(limiter.chat(chat))
            async with self._slots:
                if limiter is not None:
                    await limiter.slot(chat)
                if not await asyncio.to_thread(self._dispatch, item):
                    return  # our lease ran out and the row went elsewhere (or was cancelled)
                try:
                    delivery = await self.transport.deliver(item.recipient, item.payload)
                except Exception as error:  # a network fault is a passing failure
                    log.warning("sending outbox message %s failed: %r", item.message_id, error)
                    delivery = Delivery(retry_after=-1, error=repr(error))
                if limiter is not None and delivery.retry_after and delivery.retry_after > 0:
                    limiter.hold_chat(chat, delivery.retry_after)
        await asyncio.to_thread(self._record, item.message_id, delivery)

    def _dispatch(self, item: Claimed) -> bool:
        with self.db.transaction() as session:
            return outbox.mark_dispatched(session, item.message_id, item.attempts, self.clock.now())

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
