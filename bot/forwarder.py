"""Forwarding confirmed registrations to another system: the outbound webhook.

A registration the district confirms is written to the outbox (kind and channel
"webhook") in the same transaction as the confirmation. This loop claims due rows,
POSTs each one's JSON to LANGNGHE_FORWARD_URL and records the result:

- 2xx: sent, never again.
- 408, 429, 5xx, a timeout or a refused connection: tried again later, waiting twice as
  long each time (30 s, 1 min, 2 min … at most 1 h, or longer if the receiver's
  Retry-After asks), until storage.outbox.MAX_ATTEMPTS, then "failed".
- any other 4xx: the receiver rejects it; "failed" at once, for staff to look at.

Each request carries `X-Langnghe-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact
body with LANGNGHE_FORWARD_SECRET, and `X-Langnghe-Delivery: <id>`, the same on every
retry: a receiver that saw a delivery id already can acknowledge it and do nothing (a
crash between the POST and recording it sends it again; delivery is at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.clock import Clock
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Langnghe-Signature"
DELIVERY_HEADER = "X-Langnghe-Delivery"
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
_RETRYABLE = {408, 425, 429}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, 1 min, 2 min, … at most 1 h."""
    delay: timedelta = FIRST_DELAY * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_DELAY)


@dataclass
class Round:
    """What one pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class _Result:
    ok: bool
    error: str = ""
    retry: bool = True
    retry_after: timedelta | None = None


class Forwarder:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        url: str,
        secret: str,
        *,
        batch: int = 20,
        timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.url = url
        self.secret = secret
        self.batch = batch
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def run_once(self, http: aiohttp.ClientSession | None = None) -> Round:
        """Claim what is due, send it, record each result; the round's counts."""
        with self.db.transaction() as session:
            claimed = outbox.claim_due(session, outbox.WEBHOOK, self.clock.now(), limit=self.batch)
            jobs = [(m.id, m.payload) for m in claimed]
        if not jobs:
            return Round()
        own = http is None
        http = http or aiohttp.ClientSession(timeout=self.timeout)
        try:
            results = [(i, await self._post(http, i, payload)) for i, payload in jobs]
        finally:
            if own:
                await http.close()
        return self._record(results)

    async def run(self, *, interval: float = 5.0, stop: asyncio.Event | None = None) -> None:
        """Keep forwarding until `stop` is set."""
        stop = stop or asyncio.Event()
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            while not stop.is_set():
                try:
                    done = await self.run_once(http)
                    if done.total:
                        log.info("forwarded %s", done)
                except Exception:
                    log.exception("forwarding round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _post(self, http: aiohttp.ClientSession, message_id: int, payload: object) -> _Result:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            DELIVERY_HEADER: str(message_id),
        }
        try:
            async with http.post(self.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return _Result(ok=True)
                text = (await response.text())[:200]
                error = f"HTTP {response.status}: {text}".strip()
                retry = response.status in _RETRYABLE or response.status >= 500
                return _Result(False, error, retry, _retry_after(response.headers))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return _Result(False, f"{type(exc).__name__}: {exc}"[:200])

    def _record(self, results: list[tuple[int, _Result]]) -> Round:
        done = Round()
        now = self.clock.now()
        with self.db.transaction() as session:
            for message_id, result in results:
                message = session.get(OutboxMessage, message_id)
                if message is None:
                    continue
                if result.ok:
                    outbox.mark_sent(message, now, None)
                    done.sent += 1
                elif result.retry:
                    delay = max(backoff(message.attempts), result.retry_after or timedelta(0))
                    outbox.mark_retry(message, now, result.error, delay)
                    if message.status == "failed":
                        done.failed += 1
                    else:
                        done.retrying += 1
                else:
                    message.status = "failed"
                    message.last_error = result.error
                    done.failed += 1
                if not result.ok:
                    log.warning("webhook delivery %s: %s", message_id, result.error)
        return done


def _retry_after(headers: Mapping[str, str]) -> timedelta | None:
    value = headers.get("Retry-After")
    if value is not None and value.strip().isdigit():
        return min(timedelta(seconds=int(value.strip())), MAX_DELAY)
    return None
