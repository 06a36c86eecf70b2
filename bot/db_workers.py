"""Threads that run a channel's database work off the event loop, urgent work first.

SQLite has one writer at a time, and a writer that finds the lock taken sleeps in growing
steps (1, 2, 5 … 100 ms): many threads writing at once make everyone slower. So on SQLite
one thread does all the work, in order of urgency (storing a webhook before answering
it comes before processing). PostgreSQL takes writers in parallel, so it gets several.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

URGENT, NORMAL = 0, 1
_STOP = 2


class DatabaseWorkers:
    def __init__(self, threads: int, name: str = "db") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._name = name
        self._size = threads
        self._threads: list[threading.Thread] = []

    async def run(self, fn: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        """`fn(*args)` on a worker thread; its result (or exception) here."""
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"{self._name}-{n}", daemon=True)
                for n in range(self._size)
            ]
            for thread in self._threads:
                thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not future.done():
                outcome()

        def job() -> None:
            callback: Callable[[], None]
            try:
                callback = functools.partial(future.set_result, fn(*args))
            except BaseException as error:
                callback = functools.partial(future.set_exception, error)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, callback)

        self._queue.put((URGENT if urgent else NORMAL, next(self._order), job))
        return await future

    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()

    def shutdown(self) -> None:
        """Let the threads finish what is queued, then end (new ones start on next use)."""
        for _ in self._threads:
            self._queue.put((_STOP, next(self._order), None))
        self._threads = []
