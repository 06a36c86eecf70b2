"""The per-key limiter, on a hand-driven clock."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from bot.ratelimit import Rate, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, overall: Rate | None = None) -> RateLimiter:
    def per_key(key: Hashable) -> Rate:
        return Rate(1, 3) if key != "group" else Rate(1 / 3, 1)

    return RateLimiter(overall or Rate(100, 100), per_key, clock=clock)


def test_a_burst_then_one_per_second() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert [limits.try_take("a") for _ in range(3)] == [0, 0, 0]
    assert limits.try_take("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limits.try_take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limits.try_take("a") == 0
    assert limits.try_take("group") == 0 and limits.try_take("group") == pytest.approx(3.0)


def test_a_retry_after_pauses_its_key_only() -> None:
    clock = Clock()
    limits = limiter(clock)
    limits.pause("a", 30)
    assert limits.wait_time("a") == pytest.approx(30)
    assert limits.try_take("b") == 0  # another chat goes on
    clock.now += 29
    assert limits.try_take("a") == pytest.approx(1)
    clock.now += 1
    assert limits.try_take("a") == 0


def test_the_overall_limit_holds_every_key() -> None:
    clock = Clock()
    limits = limiter(clock, overall=Rate(2, 2))
    assert limits.try_take("a") == 0 and limits.try_take("b") == 0
    assert limits.try_take("c") == pytest.approx(0.5)
    assert limits.wait_time("c") == pytest.approx(0.5)  # nothing was taken by refusing


async def test_acquire_gives_up_beyond_max_wait() -> None:
    limits = limiter(Clock())
    limits.pause("a", 60)
    assert await limits.acquire("a", max_wait=5) == pytest.approx(60)
    assert await limits.acquire("b", max_wait=5) == 0


def test_idle_keys_are_forgotten_when_there_are_too_many() -> None:
    clock = Clock()
    limits = limiter(clock)
    limits.MAX_KEYS = 10
    for key in range(10):
        limits.try_take(key)
    limits.pause("busy", 60)
    clock.now += 10  # every bucket is full again, except the paused one
    limits.try_take("new")
    assert limits.wait_time("busy") == pytest.approx(50)
    assert len(limits._keys) <= 3
