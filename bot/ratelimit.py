"""Sending at the highest rate a platform allows, and not one message faster.

One `RateLimiter` per platform account (a Telegram bot, a Zalo OA): at most `per_second`
messages in any window of one second overall, and one message per `chat_interval` seconds
to one chat. Both are kept as reservations in time, so waiting senders queue in order
instead of all waking at once. A small `margin` absorbs the jitter between our clock and
the platform's (the platform counts arrivals, we count departures).

It is channel-neutral: the outbox sender uses it for every transport, and a channel adapter
may share the same instance for its direct replies (`RateLimiter.for_channel`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    per_second: int  # messages in any 1 s window, for the whole bot / OA
    chat_interval: float  # seconds between two messages to one chat
    margin: float = 0.02  # widen both by this share, for clock and network jitter


# Telegram: "about 30 messages per second" per bot, "about 1 per second" per private chat.
# Zalo OA publishes no per-second figure (it answers -32 when flooded); these are cautious
# defaults that a Zalo transport may override with its own `limits` attribute.
DEFAULT_LIMITS: dict[str, Limits] = {
    "telegram": Limits(per_second=30, chat_interval=1.0),
    "zalo": Limits(per_second=10, chat_interval=0.5),
}


class RateLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._window = 1.0 * (1 + limits.margin)
        self._interval = limits.chat_interval * (1 + limits.margin)
        self._slots: deque[float] = deque(maxlen=max(1, limits.per_second))
        self._chat_next: dict[str, float] = {}
        self._chat_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def for_channel(cls, channel: str, limits: Limits | None = None) -> RateLimiter | None:
        """The limiter for a channel's defaults (None for channels without limits)."""
        chosen = limits or DEFAULT_LIMITS.get(channel)
        return cls(chosen) if chosen is not None else None

    @asynccontextmanager
    async def chat(self, chat_id: str) -> AsyncIterator[None]:
        """Hold this chat's turn: waits until the chat may receive the next message.

        Inside, call `slot()` right before the request leaves.
        """
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        try:
            async with lock:
                while (wait := self._chat_next.get(chat_id, 0.0) - self._clock()) > 0:
                    await asyncio.sleep(wait)
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._chat_locks.pop(chat_id, None)
                if self._chat_next.get(chat_id, 0.0) <= self._clock():
                    self._chat_next.pop(chat_id, None)

    async def slot(self, chat_id: str) -> None:
        """Wait for a place in the overall window; then the message may leave at once."""
        while True:
            now = self._clock()
            start = max(now, self._chat_next.get(chat_id, 0.0))
            if len(self._slots) == self._slots.maxlen:
                start = max(start, self._slots[0] + self._window)
            if start <= now:
                self._slots.append(now)
                self._chat_next[chat_id] = now + self._interval
                return
            await asyncio.sleep(start - now)

    def hold_chat(self, chat_id: str, seconds: float) -> None:
        """The platform said "retry after": nothing more to this chat until then."""
        until = self._clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
