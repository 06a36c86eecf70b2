"""A small async client for the Zalo OA Open API v3 and its OAuth v4 token refresh.

The access token lives in the database (storage.zalo_tokens) and in a small cache here.
It is refreshed ahead of expiry, or once when Zalo says it expired. The refresh token
works only once, so the refresh runs inside a database transaction that holds the token
row (SELECT … FOR UPDATE on PostgreSQL, the BEGIN IMMEDIATE writer lock on SQLite): a
second worker waits, then finds the new pair and uses it instead of refreshing again.
The new pair is committed in that same transaction.

Base URLs come from settings, so tests and demos point the client at a test server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.orm import Session

from bot.clock import Clock
from storage import zalo_tokens
from storage.db import Database

log = logging.getLogger(__name__)

EXPIRED_TOKEN = frozenset({-216, -220})  # invalid or expired access token
RATE_LIMITED = -32
NO_INTERACTION = -230  # the user has not written to the OA in the last 7 days
NOT_FOLLOWER = -213  # a promotion message to someone who does not follow the OA

DEFAULT_EXPIRES_IN = 90000  # seconds; what Zalo grants an OA access token (25 hours)


class ZaloError(Exception):
    """Zalo answered with a non-zero "error"."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"zalo {code}: {message}")
        self.code = code
        self.message = message


class ZaloHttpError(Exception):
    """Zalo's server failed (HTTP 4xx/5xx); a passing failure. Unlike aiohttp's own error,
    its text never holds the request's headers (the access token, the app secret)."""

    def __init__(self, status: int, where: str) -> None:
        super().__init__(f"HTTP {status} from {where}")
        self.status = status


class ZaloAuthError(Exception):
    """No usable token: none stored, or the refresh was refused (an OA admin must
    authorise the app again and run `langnghe-bot zalo set-token`)."""


class ZaloTokens:
    """The OA's access token: cached, stored in the database, refreshed under its lock."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        oa_id: str,
        app_id: str,
        app_secret: str,
        oauth_base: str = "https://oauth.zaloapp.com",
        margin: timedelta = timedelta(minutes=10),
        timeout: float = 15.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.oa_id = oa_id
        self.app_id = app_id
        self._app_secret = app_secret
        self.refresh_url = oauth_base.rstrip("/") + "/v4/oa/access_token"
        self.margin = margin
        self.timeout = timeout
        self._cached: tuple[str, datetime] | None = None
        self._lock = asyncio.Lock()  # one refresh at a time in this process (an economy)

    def _fresh(self, expires_at: datetime) -> bool:
        return expires_at - self.margin > self.clock.now()

    async def access_token(self) -> str:
        """A token valid for at least `margin`; refreshed first if it is about to expire."""
        cached = self._cached
        if cached is not None and self._fresh(cached[1]):
            return cached[0]
        async with self._lock:
            cached = self._cached
            if cached is not None and self._fresh(cached[1]):
                return cached[0]
            stored = await asyncio.to_thread(self.stored)
            if stored is not None and self._fresh(stored[1]):
                self._cached = stored
                return stored[0]
            return await self._refresh(stale=None)

    async def refresh(self, stale: str) -> str:
        """Zalo refused `stale`: get a new token, unless another sender already did."""
        async with self._lock:
            cached = self._cached
            if cached is not None and cached[0] != stale and self._fresh(cached[1]):
                return cached[0]
            return await self._refresh(stale=stale)

    def seed(self, access_token: str, refresh_token: str, expires_in: int | None) -> bool:
        """Store a first pair unless the database already has one; True if stored."""
        with self.db.transaction() as session:
            if zalo_tokens.locked(session, self.oa_id) is not None:
                return False
            self._store(session, access_token, refresh_token, expires_in)
            return True

    def set(self, access_token: str, refresh_token: str, expires_in: int | None) -> None:
        """Store a pair, replacing whatever is stored (after an admin re-authorised)."""
        with self.db.transaction() as session:
            self._store(session, access_token, refresh_token, expires_in)
        self._cached = None

    def _store(
        self, session: Session, access_token: str, refresh_token: str, expires_in: int | None
    ) -> None:
        now = self.clock.now()
        expires_at = now + timedelta(seconds=expires_in or DEFAULT_EXPIRES_IN)
        zalo_tokens.store(session, self.oa_id, access_token, refresh_token, expires_at, now)

    def stored(self) -> tuple[str, datetime] | None:
        """The stored access token and its expiry, if a pair is stored."""
        with self.db.transaction() as session:
            row = zalo_tokens.current(session, self.oa_id)
            return None if row is None else (row.access_token, row.access_expires_at)

    async def _refresh(self, stale: str | None) -> str:
        token, expires_at = await asyncio.to_thread(self._refresh_in_transaction, stale)
        self._cached = (token, expires_at)
        return token

    def _refresh_in_transaction(self, stale: str | None) -> tuple[str, datetime]:
        """Runs in a worker thread; holds the token row's lock until the new pair commits."""
        with self.db.transaction() as session:
            row = zalo_tokens.locked(session, self.oa_id)
            if row is None:
                raise ZaloAuthError("no Zalo OA token is stored: run `langnghe-bot zalo set-token`")
            if self._fresh(row.access_expires_at) and row.access_token != stale:
                return row.access_token, row.access_expires_at  # another worker refreshed
            # The HTTP call runs on this thread's own loop, so the lock is held across it
            # without needing the main loop (which may itself be waiting for the database).
            reply = asyncio.run(self._post_refresh(row.refresh_token))
            access, refresh = reply.get("access_token"), reply.get("refresh_token")
            if not isinstance(access, str) or not isinstance(refresh, str):
                code = reply.get("error")
                reason = reply.get("error_name") or reply.get("message") or "no token in reply"
                log.error(
                    "Zalo refused the token refresh (%s: %s); an OA admin must authorise the "
                    "app again and run `langnghe-bot zalo set-token`",
                    code,
                    reason,
                )
                raise ZaloAuthError(f"refresh refused: {code} {reason}")
            expires_in = int(reply.get("expires_in") or DEFAULT_EXPIRES_IN)
            now = self.clock.now()
            expires_at = now + timedelta(seconds=expires_in)
            zalo_tokens.store(session, self.oa_id, access, refresh, expires_at, now)
            log.info("Zalo access token refreshed; valid for %s s", expires_in)
            return access, expires_at

    async def _post_refresh(self, refresh_token: str) -> dict[str, Any]:
        form = {
            "app_id": self.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(
                self.refresh_url, data=form, headers={"secret_key": self._app_secret}
            ) as response,
        ):
            if response.status >= 400:
                raise ZaloAuthError(f"HTTP {response.status} from the token endpoint")
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ZaloAuthError("refresh reply is not a JSON object")
        return body


class ZaloClient:
    """POSTs to the OA API with the current token; refreshes and retries once on expiry."""

    def __init__(self, tokens: ZaloTokens, api_base: str, *, timeout: float = 10.0) -> None:
        self.tokens = tokens
        self.api_base = api_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body; the `data` of a successful answer, ZaloError otherwise."""
        return await self._authorised(lambda token: self._post(path, token, json=body))

    async def _authorised(self, send: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        token = await self.tokens.access_token()
        reply = await send(token)
        if reply.get("error") in EXPIRED_TOKEN:
            log.info("Zalo says the access token expired (%s); refreshing", reply.get("error"))
            token = await self.tokens.refresh(stale=token)
            reply = await send(token)
        code = int(reply.get("error") or 0)
        if code != 0:
            raise ZaloError(code, str(reply.get("message") or ""))
        data = reply.get("data")
        return data if isinstance(data, dict) else {}

    async def _post(
        self,
        path: str,
        token: str,
        *,
        json: dict[str, Any] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> dict[str, Any]:
        url = f"{self.api_base}/{path.lstrip('/')}"
        headers = {"access_token": token}
        async with self._session().post(url, json=json, data=form, headers=headers) as response:
            if response.status >= 400:
                raise ZaloHttpError(response.status, path)
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ZaloError(-1, "the answer is not a JSON object")
        return body

    async def send_message(self, user_id: str, message: dict[str, Any]) -> str:
        """A customer-service message (`v3.0/oa/message/cs`); returns Zalo's message id."""
        data = await self.call(
            "v3.0/oa/message/cs", {"recipient": {"user_id": user_id}, "message": message}
        )
        return str(data.get("message_id") or "")

    async def send_promotion(self, user_id: str, text: str) -> str:
        """A promotion message (`v3.0/oa/message/promotion`): to followers only, 06:00–21:59,
        one a day per person and a monthly quota (bot/audience.py plans around these)."""
        template = {"template_type": "promotion", "language": "VI",
                    "elements": [{"type": "text", "align": "left", "content": text}],
                    "buttons": []}  # fmt: skip
        message = {"text": text, "attachment": {"type": "template", "payload": template}}
        data = await self.call(
            "v3.0/oa/message/promotion", {"recipient": {"user_id": user_id}, "message": message}
        )
        return str(data.get("message_id") or "")

    async def upload_file(self, filename: str, content: bytes, mime_type: str) -> str:
        """Upload a PDF/DOC/DOCX (`v2.0/oa/upload/file`); returns the token to send it."""

        def send(token: str) -> Awaitable[dict[str, Any]]:
            form = aiohttp.FormData()  # consumed when sent: a retry needs a new one
            form.add_field("file", content, filename=filename, content_type=mime_type)
            return self._post("v2.0/oa/upload/file", token, form=form)

        data = await self._authorised(send)
        return str(data.get("token") or "")
