"""Sending limits: a token bucket per key (a chat) and one for everything, in one process.

A send takes a token from both buckets at once. A platform's "retry after N seconds" for
one key pauses that key only: other keys go on (unlike PTB's AIORateLimiter, which stops
every request on one 429).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """`per_second` on average, with bursts of up to `burst` sends.

    In any window of T seconds at most `burst + per_second * T` sends go out.
    """

    per_second: float
    burst: float = 1.0


class _Bucket:
    __slots__ = ("paused_until", "rate", "tokens", "updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now
        self.paused_until = 0.0

    def wait(self, now: float) -> float:
        """Seconds until one send is allowed (0: now)."""
        self.tokens = min(
            self.rate.burst, self.tokens + (now - self.updated) * self.rate.per_second
        )
        self.updated = now
        refill = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate.per_second
        return max(refill, self.paused_until - now)

    def idle(self, now: float) -> bool:
        return self.wait(now) == 0 and self.tokens >= self.rate.burst


class RateLimiter:
    """Per-key token buckets plus an overall one; `pause(key, s)` honours a retry_after."""

    MAX_KEYS = 10_000  # idle full buckets are forgotten beyond this many

    def __init__(
        self,
        overall: Rate,
        per_key: Callable[[Hashable], Rate],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._per_key = per_key
        self._overall = _Bucket(overall, clock())
        self._keys: dict[Hashable, _Bucket] = {}

    def _bucket(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._keys.get(key)
        if bucket is None:
            if len(self._keys) >= self.MAX_KEYS:
                self._keys = {k: b for k, b in self._keys.items() if not b.idle(now)}
            bucket = self._keys[key] = _Bucket(self._per_key(key), now)
        return bucket

    def wait_time(self, key: Hashable) -> float:
        """How long a send to `key` would wait now, without taking anything."""
        now = self._clock()
        return max(self._overall.wait(now), self._bucket(key, now).wait(now))

    def try_take(self, key: Hashable) -> float:
        """Take a send for `key` if allowed now and return 0; else the seconds to wait."""
        now = self._clock()
        bucket = self._bucket(key, now)
        wait = max(self._overall.wait(now), bucket.wait(now))
        if wait <= 0:
            self._overall.tokens -= 1
            bucket.tokens -= 1
        return wait

    def pause(self, key: Hashable, seconds: float) -> None:
        """The platform said "retry after `seconds`" for `key`: nothing goes there before."""
        now = self._clock()
        bucket = self._bucket(key, now)
        bucket.paused_until = max(bucket.paused_until, now + seconds)

    async def acquire(self, key: Hashable, *, max_wait: float | None = None) -> float:
        """Wait for a send to `key` and take it (returns 0), unless that would mean waiting
        longer than `max_wait`: then take nothing and return the wait."""
        while True:
            wait = self.try_take(key)
            if wait <= 0:
                return 0.0
            if max_wait is not None and wait > max_wait:
                return wait
            await asyncio.sleep(wait)
