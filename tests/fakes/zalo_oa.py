"""A loopback Zalo Official Account (Open API v3 + OAuth v4) for tests.

Serves, on one 127.0.0.1 port, what the bot reaches at ``https://openapi.zalo.me`` and
``https://oauth.zaloapp.com`` (point both base URLs at ``fake.base_url``), and plays the
users' side by POSTing signed webhook events to the bot, following
/work/shared/platforms/zalo-oa.md and the payloads public integrations show.

Facts we are sure of are enforced exactly (HTTP 200 with ``{"error": N}`` for API errors,
2,000-character texts, at most 5 buttons, single-use refresh tokens, the webhook signature).
Error codes the shared notes do not give are marked "assumed" below; change them here if
Zalo's real answer turns out different.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web

from ._rate_limits import SlidingWindow
from ._server import AsyncService, ChangeSignal, LoopbackServer
from ._zalo_records import (
    UploadedFile,
    WebhookPost,
    ZaloApiCall,
    ZaloButton,
    ZaloSentMessage,
)

JsonDict = dict[str, Any]

VN_TZ = timezone(timedelta(hours=7))  # Zalo's sending-hour rules are in Vietnam time

# Error codes. From the shared notes: -32, -209, -216, -220, -224, -230, -234.
RATE_LIMITED = -32
INVALID_PARAMS = -201  # assumed: Zalo's generic "invalid parameters" code
OUT_OF_QUOTA = -211  # assumed
NOT_FOLLOWER = -213  # assumed
TOKEN_INVALID = -216
TOKEN_EXPIRED = -220
NO_INTERACTION = -230
OUTSIDE_HOURS = -234
ERROR_MESSAGES: dict[int, str] = {
    RATE_LIMITED: "Request exceeds the rate limit",
    INVALID_PARAMS: "Parameters are invalid",
    -209: "App has not been activated",
    OUT_OF_QUOTA: "Out of quota",
    NOT_FOLLOWER: "User has not followed the OA",
    TOKEN_INVALID: "Access token is invalid",
    TOKEN_EXPIRED: "Access token has expired",
    -224: "This feature needs a higher OA tier",
    NO_INTERACTION: "User has not interacted with the OA in the last 7 days",
    OUTSIDE_HOURS: "Promotion messages can only be sent from 06:00 to 22:00",
}
# OAuth v4 errors carry error_name/error_reason, as public integrations show.
REFRESH_INVALID = -14014
OAUTH_BAD_PARAMS = -14003
OAUTH_BAD_APP = -14002  # assumed

BUTTON_TYPES = frozenset(
    {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"}
)
MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_QUERY_PAYLOAD = 1000
INTERACTION_WINDOW = timedelta(days=7)
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_EXTENSIONS = (".pdf", ".doc", ".docx")


def zalo_signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """Hex of plain SHA-256 over app_id + raw body + timestamp + OA secret key (not HMAC).

    The webhook header is ``X-ZEvent-Signature: mac=<this>``.
    """
    digest = hashlib.sha256()
    digest.update(app_id.encode("utf-8"))
    digest.update(body)
    digest.update(timestamp.encode("utf-8"))
    digest.update(secret.encode("utf-8"))
    return digest.hexdigest()


class ZaloError(Exception):
    def __init__(self, error: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(error, "Error"))
        self.error = error
        self.message = message or ERROR_MESSAGES.get(error, "Error")


@dataclass
class _Fault:
    error: int
    message: str | None
    user_id: str | None
    endpoint: str
    remaining: int


@dataclass
class _User:
    id: str
    follower: bool = False
    last_interaction: datetime | None = None
    forced_inactive: bool = False
    quota_total: int = 0
    quota_used: int = 0
    last_promotion_day: date | None = None


@dataclass
class _Request:
    """A parsed OA API request: the JSON body, or the multipart upload."""

    body: Any
    upload: UploadedFile | None = None


OaHandler = Callable[[_Request], Awaitable[JsonDict]]


class FakeZaloOA(AsyncService):
    """The Zalo OA Open API on 127.0.0.1, plus the users' side for tests."""

    def __init__(
        self,
        *,
        app_id: str = "3456789012345678901",
        oa_id: str = "1234567890123456789",
        oa_secret_key: str = "FakeOaSecretKeyForTests01",
        app_secret: str = "FakeAppSecretForTests0001",
        access_token: str = "fake-oa-access-token-0",
        refresh_token: str = "fake-oa-refresh-token-0",
        webhook_url: str | None = None,
        access_token_ttl: int = 90000,
        rate_limit_per_second: int | None = 50,
        ack_timeout: float = 2.0,
        expired_token_error: int = TOKEN_EXPIRED,
        cs_quota_per_interaction: int = 8,
        enforce_cs_quota: bool = False,
        promotion_monthly_cap: int | None = None,
        upload_monthly_cap: int = 5000,
        timestamp_header: bool = False,
        now: datetime | None = None,
    ) -> None:
        self.app_id = app_id
        self.oa_id = oa_id
        self.oa_secret_key = oa_secret_key
        self.app_secret = app_secret
        self.webhook_url = webhook_url
        self.access_token_ttl = access_token_ttl
        self.ack_timeout = ack_timeout
        self.expired_token_error = expired_token_error
        self.cs_quota_per_interaction = cs_quota_per_interaction
        self.enforce_cs_quota = enforce_cs_quota
        self.promotion_monthly_cap = promotion_monthly_cap
        self.upload_monthly_cap = upload_monthly_cap
        # Some integrations read the timestamp from this header rather than the body.
        self.timestamp_header = timestamp_header
        self._frozen_now = now

        # What tests inspect.
        self.api_calls: list[ZaloApiCall] = []
        self.webhook_posts: list[WebhookPost] = []
        self.uploads: dict[str, UploadedFile] = {}
        self.refresh_count = 0
        self.rate_limited_count = 0

        self._access_tokens: dict[str, datetime] = {}  # token -> expiry
        self._refresh_tokens: dict[str, datetime] = {}  # unused token -> expiry
        self._current_access = access_token
        self._current_refresh = refresh_token
        self._access_tokens[access_token] = self.now() + timedelta(seconds=access_token_ttl)
        self._refresh_tokens[refresh_token] = self.now() + REFRESH_TOKEN_LIFETIME
        self._token_counter = itertools.count(1)

        self._users: dict[str, _User] = {}
        self._sent: dict[str, list[ZaloSentMessage]] = {}
        self._read_cursor: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._promotions_by_month: dict[tuple[int, int], int] = {}
        self._uploads_by_month: dict[tuple[int, int], int] = {}
        self._rate = (
            SlidingWindow(rate_limit_per_second, 1.0, time.monotonic)
            if rate_limit_per_second
            else None
        )
        self._last_event: tuple[bytes, dict[str, str], str | None] | None = None
        self._redeliveries = 0
        self._sent_signal = ChangeSignal()
        self._http: aiohttp.ClientSession | None = None

        app = web.Application(client_max_size=UPLOAD_MAX_BYTES * 2)
        routes: list[tuple[str, str, OaHandler]] = [
            ("/v3.0/oa/message/cs", "message/cs", self._send_cs),
            ("/v3.0/oa/message/promotion", "message/promotion", self._send_promotion),
            ("/v3.0/oa/quota/message", "quota/message", self._quota),
            ("/v2.0/oa/upload/file", "upload/file", self._upload),
        ]
        for path, endpoint, handler in routes:
            app.router.add_post(path, self._oa_endpoint(endpoint, handler))
        app.router.add_post("/v4/oa/access_token", self._refresh)
        self._server = LoopbackServer(app)

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self._server.start()
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        await self._server.close()

    @property
    def base_url(self) -> str:
        """Stands for both https://openapi.zalo.me and https://oauth.zaloapp.com."""
        return self._server.url

    # ----------------------------------------------------------------- clock

    def now(self) -> datetime:
        """The fake's "now" in Vietnam time (real time unless frozen by ``set_time``)."""
        return self._frozen_now or datetime.now(VN_TZ)

    def set_time(self, when: datetime) -> None:
        """Freeze the clock; a naive datetime is read as Vietnam time."""
        self._frozen_now = when if when.tzinfo else when.replace(tzinfo=VN_TZ)

    def advance(self, delta: timedelta) -> None:
        self._frozen_now = self.now() + delta

    def use_real_time(self) -> None:
        self._frozen_now = None

    # ----------------------------------------------------------------- tokens

    @property
    def access_token(self) -> str:
        """The most recently issued access token."""
        return self._current_access

    @property
    def refresh_token(self) -> str:
        """The refresh token that will work next (each works once)."""
        return self._current_refresh

    def expire_access_token(self) -> None:
        """Every access token issued so far is now expired (the refresh token still works)."""
        expired = self.now() - timedelta(seconds=1)
        for token in self._access_tokens:
            self._access_tokens[token] = expired

    # ----------------------------------------------------------------- users and faults

    def add_user(self, user_id: str, *, follower: bool = False, interacted: bool = True) -> None:
        """A user the OA knows, optionally following and having interacted just now."""
        user = self._user(user_id)
        user.follower = follower
        if interacted:
            self._interact(user)

    def set_last_interaction(self, user_id: str, when: datetime | None) -> None:
        user = self._user(user_id)
        user.last_interaction = when if when is None or when.tzinfo else when.replace(tzinfo=VN_TZ)

    def set_inactive(self, user_id: str) -> None:
        """Customer-service sends to this user fail with -230 until ``set_active``."""
        self._user(user_id).forced_inactive = True

    def set_active(self, user_id: str) -> None:
        self._user(user_id).forced_inactive = False

    def is_follower(self, user_id: str) -> bool:
        return self._user(user_id).follower

    def fail_next(
        self,
        error: int = RATE_LIMITED,
        *,
        message: str | None = None,
        user_id: str | None = None,
        endpoint: str = "message/cs",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``endpoint`` ("message/cs",
        "message/promotion", "quota/message", "upload/file") — optionally only those to
        ``user_id`` — with ``{"error": error}`` (e.g. -32, -230, -216, -220)."""
        self._faults.append(_Fault(error, message, user_id, endpoint, times))

    # ----------------------------------------------------------------- inspection

    def sent_to(self, user_id: str) -> list[ZaloSentMessage]:
        return list(self._sent.get(user_id, []))

    async def wait_for_message(self, user_id: str, timeout: float = 5.0) -> ZaloSentMessage:
        """The next message to ``user_id`` not yet returned by this method."""

        def available() -> bool:
            return len(self._sent.get(user_id, [])) > self._read_cursor.get(user_id, 0)

        if not await self._sent_signal.wait_for(available, timeout):
            raise TimeoutError(f"the OA sent nothing new to {user_id} within {timeout}s")
        index = self._read_cursor.get(user_id, 0)
        self._read_cursor[user_id] = index + 1
        return self._sent[user_id][index]

    # ----------------------------------------------------------------- user side (webhook)

    async def send_text(self, user_id: str, text: str) -> int:
        """The user writes ``text``; returns the HTTP status the bot's webhook answered."""
        self._interact(self._user(user_id))
        return await self._post_event(self._user_event(user_id, "user_send_text", {"text": text}))

    async def tap_button(self, user_id: str, payload: str) -> int:
        """The user taps an ``oa.query.*`` button the OA sent them; Zalo delivers the
        button's payload as an ordinary ``user_send_text``."""
        offered = any(payload in message.query_payloads for message in self._sent.get(user_id, []))
        if not offered:
            raise ValueError(f"the OA never sent {user_id} a query button with {payload!r}")
        return await self.send_text(user_id, payload)

    async def send_sticker(self, user_id: str) -> int:
        self._interact(self._user(user_id))
        sticker_id = secrets.token_hex(4)
        attachment = {
            "type": "sticker",
            "payload": {
                "id": sticker_id,
                "url": f"https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid={sticker_id}",
            },
        }
        return await self._post_event(
            self._user_event(user_id, "user_send_sticker", {"attachments": [attachment]})
        )

    async def send_image(self, user_id: str, *, caption: str | None = None) -> int:
        self._interact(self._user(user_id))
        url = f"https://photo-stal.zadn.vn/{secrets.token_hex(8)}.jpg"
        message: JsonDict = {
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]
        }
        if caption:
            message["text"] = caption
        return await self._post_event(self._user_event(user_id, "user_send_image", message))

    async def send_location(
        self, user_id: str, *, latitude: float = 21.0285, longitude: float = 105.8542
    ) -> int:
        self._interact(self._user(user_id))
        # Zalo sends the coordinates as strings.
        coordinates = {"latitude": str(latitude), "longitude": str(longitude)}
        attachment = {"type": "location", "payload": {"coordinates": coordinates}}
        return await self._post_event(
            self._user_event(user_id, "user_send_location", {"attachments": [attachment]})
        )

    async def follow(self, user_id: str, *, source: str = "oa_profile") -> int:
        user = self._user(user_id)
        user.follower = True
        self._interact(user)
        return await self._post_event(self._follow_event(user_id, "follow", source))

    async def unfollow(self, user_id: str) -> int:
        self._user(user_id).follower = False
        return await self._post_event(self._follow_event(user_id, "unfollow", "oa_profile"))

    async def click_chatnow(self, user_id: str) -> int:
        self._interact(self._user(user_id))
        event = {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "user_id": user_id,
            "user_id_by_app": self._user_id_by_app(user_id),
            "event_name": "user_click_chatnow",
            "timestamp": self._timestamp(),
        }
        return await self._post_event(event)

    async def user_received_message(self, user_id: str, msg_id: str | None = None) -> int:
        """Delivery receipt for ``msg_id`` (default: the last message sent to the user)."""
        msg_id = msg_id or self._last_sent_id(user_id)
        return await self._post_event(
            self._oa_side_event(user_id, "user_received_message", {"msg_id": msg_id})
        )

    async def user_seen_message(self, user_id: str, msg_ids: list[str] | None = None) -> int:
        """Read receipt; Zalo sends a list, since one look can cover several messages."""
        ids = msg_ids or [self._last_sent_id(user_id)]
        return await self._post_event(
            self._oa_side_event(user_id, "user_seen_message", {"msg_ids": ids})
        )

    async def oa_send_text(self, user_id: str, text: str) -> int:
        """Zalo's echo of a text the OA sent (from the API or the OA chat tool)."""
        message = {"text": text, "msg_id": secrets.token_hex(16)}
        return await self._post_event(self._oa_side_event(user_id, "oa_send_text", message))

    async def redeliver_last(self) -> int:
        """POST the last event again, same bytes and signature, as Zalo's retry does."""
        if self._last_event is None:
            raise RuntimeError("no event was delivered yet")
        body, headers, event_name = self._last_event
        self._redeliveries += 1
        return await self._post(body, {**headers, "num_retry": str(self._redeliveries)}, event_name)

    async def post_unsigned(self, body: bytes | Mapping[str, Any] = b"{}") -> int:
        """POST without a signature, like Zalo's check when the webhook URL is registered."""
        raw = body if isinstance(body, bytes) else self._encode(body)
        return await self._post(raw, {"Content-Type": "application/json"}, None)

    async def post_forged(
        self, body: bytes | Mapping[str, Any] | None = None, *, mac: str | None = None
    ) -> int:
        """POST an event whose signature does not match (made with the wrong secret, or
        ``mac`` as given)."""
        if body is None:
            body = self._user_event("forger", "user_send_text", {"text": "forged"})
        raw = body if isinstance(body, bytes) else self._encode(body)
        timestamp = self._timestamp()
        forged = mac or zalo_signature(self.app_id, raw, timestamp, "not-" + self.oa_secret_key)
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={forged}"}
        return await self._post(raw, headers, None)

    async def post_raw(self, body: bytes, headers: Mapping[str, str]) -> int:
        """POST exactly these bytes and headers (for tampering tests)."""
        return await self._post(body, dict(headers), None)

    @property
    def last_event(self) -> tuple[bytes, dict[str, str]]:
        """Bytes and headers of the last signed event, to replay or tamper with."""
        if self._last_event is None:
            raise RuntimeError("no event was delivered yet")
        return self._last_event[0], dict(self._last_event[1])

    # ----------------------------------------------------------------- event building

    def _user(self, user_id: str) -> _User:
        return self._users.setdefault(user_id, _User(user_id))

    def _interact(self, user: _User) -> None:
        # A user action opens the 7-day customer-service window and renews the reply quota.
        user.last_interaction = self.now()
        user.quota_total = self.cs_quota_per_interaction
        user.quota_used = 0

    def _timestamp(self) -> str:
        return str(int(self.now().timestamp() * 1000))

    def _user_id_by_app(self, user_id: str) -> str:
        digest = hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()
        return str(int(digest[:15], 16))

    def _user_event(self, user_id: str, event_name: str, message: JsonDict) -> JsonDict:
        return {
            "app_id": self.app_id,
            "sender": {"id": user_id},
            "user_id_by_app": self._user_id_by_app(user_id),
            "recipient": {"id": self.oa_id},
            "event_name": event_name,
            "message": {**message, "msg_id": secrets.token_hex(16)},
            "timestamp": self._timestamp(),
        }

    def _oa_side_event(self, user_id: str, event_name: str, message: JsonDict) -> JsonDict:
        # Receipts and echoes come from the OA's side: sender is the OA, recipient the user.
        return {
            "app_id": self.app_id,
            "sender": {"id": self.oa_id},
            "user_id_by_app": self._user_id_by_app(user_id),
            "recipient": {"id": user_id},
            "event_name": event_name,
            "message": message,
            "timestamp": self._timestamp(),
        }

    def _follow_event(self, user_id: str, event_name: str, source: str) -> JsonDict:
        return {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "user_id_by_app": self._user_id_by_app(user_id),
            "event_name": event_name,
            "source": source,
            "follower": {"id": user_id},
            "timestamp": self._timestamp(),
        }

    def _last_sent_id(self, user_id: str) -> str:
        sent = self._sent.get(user_id)
        if not sent:
            raise ValueError(f"the OA sent nothing to {user_id} yet")
        return sent[-1].message_id

    @staticmethod
    def _encode(event: Mapping[str, Any]) -> bytes:
        # Compact UTF-8, not ASCII-escaped: a bot that re-serialises the JSON before
        # checking the signature gets different bytes, as with the real Zalo.
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def _post_event(self, event: JsonDict) -> int:
        body = self._encode(event)
        timestamp = str(event["timestamp"])
        mac = zalo_signature(self.app_id, body, timestamp, self.oa_secret_key)
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}
        if self.timestamp_header:
            headers["X-ZEvent-Timestamp"] = timestamp
        self._last_event = (body, headers, event.get("event_name"))
        self._redeliveries = 0
        return await self._post(body, headers, event.get("event_name"))

    async def _post(self, body: bytes, headers: dict[str, str], event_name: str | None) -> int:
        if not self.webhook_url:
            raise RuntimeError("webhook_url is not set")
        assert self._http is not None, "use FakeZaloOA as an async context manager"
        started = time.monotonic()
        try:
            async with self._http.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.ack_timeout),
            ) as response:
                await response.read()
                status = response.status
        except TimeoutError as error:
            raise TimeoutError(
                f"the webhook did not answer {event_name or 'the POST'} within "
                f"{self.ack_timeout}s; Zalo expects an acknowledgement in about 2 s"
            ) from error
        self.webhook_posts.append(
            WebhookPost(event_name, body, headers, status, time.monotonic() - started)
        )
        return status

    # ----------------------------------------------------------------- OA API plumbing

    def _oa_endpoint(
        self, endpoint: str, handler: OaHandler
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            token = request.headers.get("access_token")
            body: Any = None
            try:
                self._check_token(token)
                parsed = await self._read_request(request, endpoint)
                body = parsed.body
                self._check_fault(endpoint, body)
                self._check_rate()
                data = await handler(parsed)
            except ZaloError as error:
                self.api_calls.append(ZaloApiCall(request.path, token, body, error.error))
                # Zalo answers errors with HTTP 200 and a non-zero "error".
                return web.json_response({"error": error.error, "message": error.message})
            self.api_calls.append(ZaloApiCall(request.path, token, body, 0))
            return web.json_response({"error": 0, "message": "Success", "data": data})

        return handle

    @staticmethod
    async def _read_request(request: web.Request, endpoint: str) -> _Request:
        if endpoint == "upload/file":
            form = await request.post()
            upload = form.get("file")
            if not isinstance(upload, web.FileField):
                raise ZaloError(INVALID_PARAMS, "file is missing")
            uploaded = UploadedFile("", upload.filename, upload.file.read())
            return _Request({"file": upload.filename}, uploaded)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError as error:
            raise ZaloError(INVALID_PARAMS, "Body is not valid JSON") from error
        if not isinstance(body, dict):
            raise ZaloError(INVALID_PARAMS, "Body must be a JSON object")
        return _Request(body)

    def _check_token(self, token: str | None) -> None:
        expires = self._access_tokens.get(token or "")
        if expires is None:
            raise ZaloError(TOKEN_INVALID)
        if expires <= self.now():
            raise ZaloError(self.expired_token_error)

    def _check_fault(self, endpoint: str, body: Any) -> None:
        recipient = body.get("recipient", {}) if isinstance(body, dict) else {}
        user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
        if user_id is None and isinstance(body, dict):
            user_id = body.get("user_id")
        for fault in self._faults:
            if fault.endpoint != endpoint:
                continue
            if fault.user_id is not None and fault.user_id != user_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            if fault.error == RATE_LIMITED:
                self.rate_limited_count += 1
            raise ZaloError(fault.error, fault.message)

    def _check_rate(self) -> None:
        if self._rate is None:
            return
        if self._rate.retry_after() > 0:
            self.rate_limited_count += 1
            raise ZaloError(RATE_LIMITED)
        self._rate.record()

    # ----------------------------------------------------------------- OA API endpoints

    @staticmethod
    def _recipient(body: JsonDict) -> str:
        recipient = body.get("recipient")
        user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise ZaloError(INVALID_PARAMS, "recipient.user_id is invalid")
        return user_id

    @staticmethod
    def _buttons(payload: JsonDict) -> tuple[ZaloButton, ...]:
        buttons = payload.get("buttons", [])
        if not isinstance(buttons, list):
            raise ZaloError(INVALID_PARAMS, "buttons must be an array")
        if len(buttons) > MAX_BUTTONS:
            raise ZaloError(INVALID_PARAMS, f"at most {MAX_BUTTONS} buttons are allowed")
        result: list[ZaloButton] = []
        for button in buttons:
            if not isinstance(button, dict):
                raise ZaloError(INVALID_PARAMS, "button must be an object")
            title, kind, value = button.get("title"), button.get("type"), button.get("payload")
            if not isinstance(title, str) or not 0 < len(title) <= MAX_BUTTON_TITLE:
                raise ZaloError(INVALID_PARAMS, f"button title must be 1-{MAX_BUTTON_TITLE} chars")
            if kind not in BUTTON_TYPES:
                raise ZaloError(INVALID_PARAMS, f"button type {kind!r} is invalid")
            if kind in ("oa.query.show", "oa.query.hide"):
                if not isinstance(value, str) or not 0 < len(value) <= MAX_QUERY_PAYLOAD:
                    raise ZaloError(
                        INVALID_PARAMS, f"query payload must be 1-{MAX_QUERY_PAYLOAD} chars"
                    )
            elif kind == "oa.open.url":
                url = value.get("url") if isinstance(value, dict) else None
                if not isinstance(url, str) or not re.match(r"https?://\S+$", url):
                    raise ZaloError(INVALID_PARAMS, "oa.open.url needs payload.url")
            elif kind == "oa.open.phone":
                if not isinstance(value, dict) or not value.get("phone_code"):
                    raise ZaloError(INVALID_PARAMS, "oa.open.phone needs payload.phone_code")
            elif (
                not isinstance(value, dict)
                or not value.get("phone_code")
                or not value.get("content")
            ):
                raise ZaloError(INVALID_PARAMS, "oa.open.sms needs payload.content, phone_code")
            result.append(ZaloButton(title, kind, value))
        return tuple(result)

    def _cs_content(self, message: Any) -> tuple[str | None, tuple[ZaloButton, ...], str | None]:
        if not isinstance(message, dict):
            raise ZaloError(INVALID_PARAMS, "message is missing")
        text = message.get("text")
        if text is not None and not isinstance(text, str):
            raise ZaloError(INVALID_PARAMS, "message.text must be a string")
        if text is not None and len(text) > MAX_TEXT:
            raise ZaloError(INVALID_PARAMS, f"message.text is longer than {MAX_TEXT} characters")
        attachment = message.get("attachment")
        buttons: tuple[ZaloButton, ...] = ()
        file_token: str | None = None
        if attachment is not None:
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            if not isinstance(payload, dict):
                raise ZaloError(INVALID_PARAMS, "attachment.payload is missing")
            kind = attachment.get("type")
            if kind == "template":
                buttons = self._buttons(payload)
            elif kind == "file":
                file_token = payload.get("token")
                if file_token not in self.uploads:
                    raise ZaloError(INVALID_PARAMS, "file token is invalid")
            else:
                raise ZaloError(INVALID_PARAMS, f"attachment type {kind!r} is not supported")
        if not text and attachment is None:
            raise ZaloError(INVALID_PARAMS, "message.text is empty")
        return text, buttons, file_token

    def _quota_json(self, user: _User) -> JsonDict:
        expires = (user.last_interaction or self.now()) + INTERACTION_WINDOW
        return {
            "quota_type": "reply",
            "remain": max(user.quota_total - user.quota_used, 0),
            "total": user.quota_total,
            "expired_date": expires.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _record_sent(self, sent: ZaloSentMessage) -> None:
        self._sent.setdefault(sent.user_id, []).append(sent)
        self._sent_signal.notify()

    async def _send_cs(self, request: _Request) -> JsonDict:
        body = request.body
        user_id = self._recipient(body)
        text, buttons, file_token = self._cs_content(body.get("message"))
        user = self._user(user_id)
        in_window = (
            user.last_interaction is not None
            and self.now() - user.last_interaction <= INTERACTION_WINDOW
        )
        if user.forced_inactive or not in_window:
            raise ZaloError(NO_INTERACTION)
        if self.enforce_cs_quota and user.quota_used >= user.quota_total:
            raise ZaloError(OUT_OF_QUOTA)
        user.quota_used += 1
        message_id = secrets.token_hex(16)
        self._record_sent(
            ZaloSentMessage("cs", message_id, user_id, text, buttons, file_token, self.now(), body)
        )
        return {"message_id": message_id, "user_id": user_id, "quota": self._quota_json(user)}

    async def _send_promotion(self, request: _Request) -> JsonDict:
        body = request.body
        user_id = self._recipient(body)
        message = body.get("message")
        attachment = message.get("attachment") if isinstance(message, dict) else None
        payload = attachment.get("payload") if isinstance(attachment, dict) else None
        if not isinstance(payload, dict):
            raise ZaloError(INVALID_PARAMS, "message.attachment.payload is missing")
        buttons = self._buttons(payload)
        user = self._user(user_id)
        if not user.follower:
            raise ZaloError(NOT_FOLLOWER)
        now = self.now().astimezone(VN_TZ)
        if not 6 <= now.hour <= 21:
            raise ZaloError(OUTSIDE_HOURS)
        if user.last_promotion_day == now.date():
            raise ZaloError(OUT_OF_QUOTA, "Only one promotion message a day per user")
        month = (now.year, now.month)
        cap = self.promotion_monthly_cap
        if cap is not None and self._promotions_by_month.get(month, 0) >= cap:
            raise ZaloError(OUT_OF_QUOTA, "Monthly promotion quota is used up")
        self._promotions_by_month[month] = self._promotions_by_month.get(month, 0) + 1
        user.last_promotion_day = now.date()
        message_id = secrets.token_hex(16)
        text = message.get("text") if isinstance(message, dict) else None
        self._record_sent(
            ZaloSentMessage("promotion", message_id, user_id, text, buttons, None, self.now(), body)
        )
        return {"message_id": message_id, "user_id": user_id}

    async def _quota(self, request: _Request) -> JsonDict:
        user_id = request.body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ZaloError(INVALID_PARAMS, "user_id is invalid")
        user = self._user(user_id)
        return {"user_id": user_id, **self._quota_json(user)}

    async def _upload(self, request: _Request) -> JsonDict:
        upload = request.upload
        assert upload is not None
        name = (upload.filename or "").lower()
        if not name.endswith(UPLOAD_EXTENSIONS):
            raise ZaloError(INVALID_PARAMS, "only PDF, DOC and DOCX files can be uploaded")
        if not upload.data or len(upload.data) > UPLOAD_MAX_BYTES:
            raise ZaloError(INVALID_PARAMS, "file must be 1 byte to 5 MB")
        now = self.now()
        month = (now.year, now.month)
        if self._uploads_by_month.get(month, 0) >= self.upload_monthly_cap:
            raise ZaloError(RATE_LIMITED, "Monthly upload limit reached")
        self._uploads_by_month[month] = self._uploads_by_month.get(month, 0) + 1
        token = secrets.token_urlsafe(24)
        self.uploads[token] = UploadedFile(token, upload.filename, upload.data)
        return {"token": token}

    # ----------------------------------------------------------------- OAuth

    @staticmethod
    def _oauth_error(error: int, name: str, reason: str) -> web.Response:
        return web.json_response(
            {
                "error": error,
                "error_name": name,
                "error_reason": reason,
                "ref_doc": "https://developers.zalo.me/docs/api/official-account-api",
                "error_description": reason,
            }
        )

    async def _refresh(self, request: web.Request) -> web.Response:
        form = await request.post()
        app_id = form.get("app_id")
        grant_type = form.get("grant_type")
        refresh_token = form.get("refresh_token")
        call = ZaloApiCall(request.path, None, dict(form), 0)
        if not app_id or grant_type != "refresh_token" or not refresh_token:
            self.api_calls.append(ZaloApiCall(call.path, None, call.body, OAUTH_BAD_PARAMS))
            return self._oauth_error(
                OAUTH_BAD_PARAMS,
                "Invalid parameter",
                "app_id, grant_type=refresh_token and refresh_token are required",
            )
        if app_id != self.app_id or request.headers.get("secret_key") != self.app_secret:
            self.api_calls.append(ZaloApiCall(call.path, None, call.body, OAUTH_BAD_APP))
            return self._oauth_error(OAUTH_BAD_APP, "Invalid app", "app_id or secret_key wrong")
        # Single use: popping the token is the check-and-consume, so two racing refreshes
        # with the same token cannot both succeed.
        expires = self._refresh_tokens.pop(str(refresh_token), None)
        if expires is None or expires <= self.now():
            self.api_calls.append(ZaloApiCall(call.path, None, call.body, REFRESH_INVALID))
            return self._oauth_error(
                REFRESH_INVALID,
                "Invalid refresh token",
                "Refresh token is invalid, expired or already used",
            )
        number = next(self._token_counter)
        access = f"fake-oa-access-token-{number}-{secrets.token_hex(6)}"
        refresh = f"fake-oa-refresh-token-{number}-{secrets.token_hex(6)}"
        self._access_tokens[access] = self.now() + timedelta(seconds=self.access_token_ttl)
        self._refresh_tokens[refresh] = self.now() + REFRESH_TOKEN_LIFETIME
        self._current_access, self._current_refresh = access, refresh
        self.refresh_count += 1
        self.api_calls.append(call)
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": str(self.access_token_ttl),
            }
        )
