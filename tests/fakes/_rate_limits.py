"""Rate-limit counters shared by the fakes (sliding window and token bucket)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class SlidingWindow:
    """At most ``limit`` events in any ``period`` seconds (how Telegram's per-group and
    per-bot limits behave from the outside)."""

    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._stamps: deque[float] = deque()

    def _forget_old(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()

    def retry_after(self) -> float:
        """0 when one more event is allowed now, else seconds until it is."""
        now = self._clock()
        self._forget_old(now)
        if len(self._stamps) < self.limit:
            return 0.0
        return self._stamps[0] + self.period - now

    def record(self) -> None:
        self._stamps.append(self._clock())


class TokenBucket:
    """Steady ``rate`` events per second with bursts up to ``capacity`` (Telegram tolerates
    short bursts in one private chat, then answers 429)."""

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def retry_after(self) -> float:
        self._refill()
        if self._tokens >= 1:
            return 0.0
        return (1 - self._tokens) / self.rate

    def record(self) -> None:
        self._refill()
        self._tokens -= 1


def whole_seconds(delay: float) -> int:
    """Telegram and Zalo report waits as whole seconds, never 0 when a wait is needed."""
    return max(1, math.ceil(delay))
