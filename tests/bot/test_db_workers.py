"""Database worker threads: results and errors come back; urgent work jumps the queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.db_workers import DatabaseWorkers


async def test_results_and_errors_come_back_to_the_caller() -> None:
    workers = DatabaseWorkers(1)
    assert await workers.run(lambda a, b: a + b, 2, 3) == 5

    def broken() -> None:
        raise ValueError("no such table")

    with pytest.raises(ValueError, match="no such table"):
        await workers.run(broken)
    workers.shutdown()


async def test_urgent_work_runs_before_work_already_waiting() -> None:
    workers = DatabaseWorkers(1)
    gate = threading.Event()
    order: list[str] = []
    busy = asyncio.ensure_future(workers.run(gate.wait))  # the one thread is taken
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(workers.run(order.append, name)) for name in ("a", "b")]
    await asyncio.sleep(0)
    urgent = asyncio.ensure_future(workers.run(order.append, "ack", urgent=True))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(busy, *waiting, urgent)
    assert order == ["ack", "a", "b"]
    workers.shutdown()
