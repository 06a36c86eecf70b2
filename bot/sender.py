"""Delivers the outbox: claims due messages, hands each to its channel's transport,
and records the result. Messages that must arrive go this way (notices to other users,
reminders, broadcasts); direct replies are sent by the channel right after the commit.

A message with a platform message id is done and never sent again; a passing failure
comes back later (retry_after or backoff); a permanent one (blocked, unfollowed) marks the
recipient unreachable and is never retried.

Pace: one `RateLimiter` (bot/ratelimit.py) per platform account, overall and per chat. A
transport that limits itself exposes it as `transport.limiter` (shared with the channel's
direct replies): the sender then waits until the limiter would let the message through and
lets the transport take the token. Otherwise the sender owns a limiter with the channel's
defaults (`DEFAULT_RATES`) and takes the token itself. A "retry after" pauses that chat only.

Claiming is a pipeline: more rows are claimed while earlier ones wait for their turn, so the
limiter, not the database, sets the rate. Just before a request leaves, the row is marked
dispatched in its own commit (storage.outbox); that is what lets a restart after kill -9
resume where it stopped without sending anything twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.ratelimit import Rate, RateLimiter
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

    A transport that waits on a `bot.ratelimit.RateLimiter` itself exposes it as `limiter`
    (keyed like the sender's `chat_key`); without one the sender paces it.
    """

    channel: str

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery: ...


@dataclass(frozen=True)
class Claimed:
    message_id: int
    attempts: int  # the fencing token: the lease is ours while this matches
    recipient: Recipient
    payload: dict[str, Any]


# The platforms' published limits, as token buckets that never exceed them in any 1 s window
# (a bucket lets `burst + rate * T` through in T seconds): Telegram 30/s per bot and about
# 1/s per private chat; Zalo OA publishes no figure (the test server allows 50/s).
DEFAULT_RATES: dict[str, tuple[Rate, Rate]] = {
    "telegram": (Rate(per_second=29, burst=1), Rate(per_second=1, burst=1)),
    "zalo": (Rate(per_second=48, burst=1.2), Rate(per_second=5, burst=3)),
}


def default_limiter(channel: str) -> RateLimiter | None:
    rates = DEFAULT_RATES.get(channel)
    if rates is None:
        return None
    overall, per_chat = rates
    return RateLimiter(overall, lambda _key: per_chat)


def chat_key(channel_user_id: str) -> Hashable:
    """Limiter key of a chat: Telegram's numeric chat ids as ints (groups are negative)."""
    return int(channel_user_id) if channel_user_id.lstrip("-").isdigit() else channel_user_id


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
        concurrency: int = 32,
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
        shared: RateLimiter | None = getattr(transport, "limiter", None)
        self.transport_limits = shared is not None  # the transport takes the tokens
        self.limiter = shared or limiter or default_limiter(transport.channel)
        self.quiet = quiet
        self._slots = asyncio.Semaphore(concurrency)
        self._turn = asyncio.Lock()  # one message at a time from its mark to its token
        self._lead = 0.005  # seconds a dispatch mark takes to commit (estimated as we go)

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
        async with self._slots:
            delivery = await self._deliver(item)
        if delivery is not None:
            await asyncio.to_thread(self._record, item.message_id, delivery)

    async def _deliver(self, item: Claimed) -> Delivery | None:
        """Wait for the limiter, mark the row dispatched, send; None if it is not ours.

        The mark is a commit of a few milliseconds. With a limiter it starts that long before
        the message's turn comes (one message at a time), so the commit costs no sending time
        and at most one message is ever marked and still waiting for its turn.
        """
        limiter = self.limiter
        if limiter is None:
            if not await self._dispatch(item):
                return None
            return await self._attempt(item)
        key = chat_key(item.recipient.channel_user_id)
        while (wait := limiter.wait_time(key)) > self._lead:  # e.g. this chat's own pace
            await asyncio.sleep(wait - self._lead)
        async with self._turn:
            while (wait := limiter.wait_time(key)) > self._lead:
                await asyncio.sleep(wait - self._lead)
            if not await self._dispatch(item):
                return None
            if self.transport_limits:  # the transport takes the token: be first in line
                while (wait := limiter.wait_time(key)) > 0:
                    await asyncio.sleep(wait)
            else:
                await limiter.acquire(key)
            attempt = asyncio.create_task(self._attempt(item))
            await asyncio.sleep(0)  # it takes its token before the next message looks
        delivery = await attempt
        if not self.transport_limits and delivery.retry_after and delivery.retry_after > 0:
            limiter.pause(key, delivery.retry_after)
        return delivery

    async def _dispatch(self, item: Claimed) -> bool:
        started = time.perf_counter()
        ours = await asyncio.to_thread(self._mark_dispatched, item)
        took = time.perf_counter() - started
        self._lead = min(0.05, 0.8 * self._lead + 0.2 * 1.5 * took)  # a moving estimate
        return ours

    async def _attempt(self, item: Claimed) -> Delivery:
        try:
            return await self.transport.deliver(item.recipient, item.payload)
        except Exception as error:  # a network fault is a passing failure
            log.warning("sending outbox message %s failed: %r", item.message_id, error)
            return Delivery(retry_after=-1, error=repr(error))

    def _mark_dispatched(self, item: Claimed) -> bool:
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
