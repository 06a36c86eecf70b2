"""A loopback Telegram Bot API server for tests (python-telegram-bot talks to it over HTTP).

Point the bot at it with ``Bot(fake.token, base_url=fake.base_url,
base_file_url=fake.base_file_url)`` or the same two options of ``ApplicationBuilder``.

Behaviour follows https://core.telegram.org/bots/api and the published limits:

* Requests: JSON, form-encoded and multipart bodies, plus query strings, as Telegram accepts
  them; form values are JSON-encoded the way PTB sends them. Method names are
  case-insensitive, like Telegram's. Unknown method → 404 "Not Found"; wrong token → 401.
* Limits (``TelegramLimits``, on by default, for ``send*`` methods only): at most 30
  messages in any 1 s window per bot; per private chat a token bucket of 1 message/s with
  bursts of up to 5 (Telegram "may allow short bursts"); at most 20 messages in any 60 s
  window per group. Over a limit → 429 "Too Many Requests: retry after N" with
  ``parameters.retry_after`` = N whole seconds. Refused sends do not count.
* Updates are kept until confirmed by a later ``getUpdates`` offset or delivered to the
  webhook; ``getUpdates`` is refused with 409 while a webhook is set, and an older waiting
  long poll is ended with 409 when a newer one arrives, as Telegram does.
* Deviations, on purpose: webhooks may be plain ``http://`` on loopback (Telegram requires
  HTTPS on ports 443/80/88/8443); webhook retries come after ``webhook_retry_delay`` seconds,
  not minutes; files given by URL cannot be fetched (no network) and are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from ._rate_limits import SlidingWindow, TokenBucket, whole_seconds
from ._server import AsyncService, ChangeSignal, LoopbackServer
from ._telegram_records import (
    ApiCall,
    BotMessage,
    CallbackAnswer,
    InlineButton,
    SentDocument,
    WebhookDelivery,
)
from ._telegram_text import FormattingError, command_entities, parse_formatted, utf16_len

JsonDict = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForLoopbackTests0"

# Update types a bot receives unless it asks otherwise (Bot API, getUpdates.allowed_updates).
ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

BLOCKED = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
MARKUP_UNPARSABLE = "Bad Request: can't parse reply keyboard markup JSON object"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass
class TelegramLimits:
    """Telegram's published sending limits; change or disable them per test."""

    enabled: bool = True
    per_bot_per_second: int = 30
    private_chat_per_second: float = 1.0
    private_chat_burst: int = 5
    group_per_minute: int = 20


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


@dataclass
class _Fault:
    method: str
    error_code: int
    retry_after: int
    chat_id: int | None
    description: str | None
    remaining: int


@dataclass
class _User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def as_json(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class _StoredMessage:
    payload: JsonDict
    from_bot: bool
    document: SentDocument | None = None
    reply_keyboard: tuple[tuple[str, ...], ...] | None = None


@dataclass
class _Chat:
    id: int
    type: str  # "private" | "group"
    user: _User | None = None
    title: str | None = None
    chat_instance: str = field(default_factory=lambda: str(random.randint(-(2**63), 2**63 - 1)))
    next_message_id: int = 1
    messages: dict[int, _StoredMessage] = field(default_factory=dict)

    def as_json(self) -> JsonDict:
        if self.user is not None:
            data = self.user.as_json()
            data.pop("is_bot")
            data.pop("language_code", None)
            data["type"] = "private"
            return data
        return {"id": self.id, "title": self.title, "type": self.type}

    def take_message_id(self) -> int:
        # Message ids are per chat in Telegram, shared by the user's and the bot's messages.
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class _Markup:
    """A parsed ``reply_markup``: what is echoed back plus what tests want to see."""

    echoed: JsonDict | None = None  # only inline keyboards come back in the Message
    keyboard: tuple[tuple[InlineButton, ...], ...] = ()
    reply_keyboard: tuple[tuple[str, ...], ...] | None = None


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


class _Params:
    """Request parameters from query string and body, typed the way Telegram coerces them."""

    def __init__(self, values: JsonDict, files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    @classmethod
    async def read(cls, request: web.Request) -> _Params:
        values: JsonDict = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as error:
                    raise ApiError(400, "Bad Request: can't parse JSON object") from error
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON object expected")
                values.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = _Upload(value.filename, value.content_type, value.file.read())
                    else:
                        values[key] = value
        return cls(values, files)

    def loggable(self) -> JsonDict:
        logged = dict(self.values)
        for name, upload in self.files.items():
            logged[name] = f"<file {upload.filename!r}, {len(upload.data)} bytes>"
        return logged

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None or name in self.files

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise ApiError(400, f'Bad Request: field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ApiError(400, f'Bad Request: field "{name}" must be of type Integer')

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise ApiError(400, f'Bad Request: field "{name}" must be a Number') from error

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                message = error or f"Bad Request: can't parse {name} JSON object"
                raise ApiError(400, message) from exc
        return value


class _Result:
    """A successful answer that carries a ``description`` too (setWebhook does)."""

    def __init__(self, value: Any, description: str) -> None:
        self.value = value
        self.description = description


Handler = Callable[[_Params], Awaitable[Any]]
_ChatLimiter = tuple[tuple[float, ...], SlidingWindow | TokenBucket]  # (settings, limiter)


class FakeTelegram(AsyncService):
    """The Telegram Bot API on 127.0.0.1, with a user-side API for tests."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "Làng Nghề Test Bot",
        bot_username: str = "langnghe_test_bot",
        limits: TelegramLimits | None = None,
        webhook_retry_delay: float = 0.05,
        webhook_max_attempts: int = 8,
        webhook_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.limits = limits or TelegramLimits()
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_timeout = webhook_timeout
        self._clock = clock

        # What tests inspect.
        self.api_calls: list[ApiCall] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.dropped_updates: list[JsonDict] = []  # filtered out by allowed_updates
        self.too_many_requests_count = 0

        self._users: dict[int, _User] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._files: dict[str, SentDocument] = {}
        self._file_paths: dict[str, str] = {}
        self._file_counter = itertools.count(1)
        self._log: dict[int, list[BotMessage]] = {}
        self._log_cursor: dict[int, int] = {}
        self._open_queries: dict[str, JsonDict] = {}
        self._query_counter = itertools.count(random.randint(10**17, 10**18))
        self._faults: list[_Fault] = []

        self._pending: list[JsonDict] = []
        self._next_update_id = random.randint(10**8, 9 * 10**8)
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        self._webhook_max_connections = 40
        self._webhook_allowed: list[str] | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._redeliver_next = 0

        self._global_window = SlidingWindow(self.limits.per_bot_per_second, 1.0, clock)
        self._chat_limiters: dict[int, _ChatLimiter] = {}

        self._updates_signal = ChangeSignal()
        self._log_signal = ChangeSignal()
        self._closing = False
        self._webhook_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._server = LoopbackServer(app)
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self._server.start()
        self._http = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._webhook_worker())

    async def close(self) -> None:
        # Wake every long poll first so the server's shutdown does not wait for them.
        self._closing = True
        self._updates_signal.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        await self._server.close()
        if self._http is not None:
            await self._http.close()

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url``: PTB appends the token, then ``/method``."""
        return f"{self._server.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self._server.url}/file/bot"

    @property
    def api_url(self) -> str:
        """The full method prefix, for raw HTTP calls: ``f"{api_url}/getMe"``."""
        return f"{self.base_url}{self.token}"

    # ----------------------------------------------------------------- user side

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        """Register a user who has started the bot (so the bot may write to them).

        New users default to first name "Test" and language "vi"; for a known user only the
        fields given change.
        """
        self._touch_user(user_id, first_name, last_name, username, language_code)

    def add_group(self, chat_id: int, title: str = "Test group") -> None:
        """A group the bot is a member of (group ids are negative in Telegram)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._chats.setdefault(chat_id, _Chat(chat_id, "group", title=title))

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> JsonDict:
        """The user writes ``text`` (to the bot, or into group ``chat_id``); returns the update.

        ``/commands`` get ``bot_command`` entities; a user who had blocked the bot unblocks it
        first, as Telegram's "Restart" does.
        """
        user = self._touch_user(user_id, first_name, last_name, username, language_code)
        content: JsonDict = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user, chat_id, content)

    def send_sticker(self, user_id: int, *, emoji: str = "👍") -> JsonDict:
        user = self._touch_user(user_id)
        file_number = next(self._file_counter)
        sticker = {
            "file_id": f"CAACAgIAAxkBAAI{file_number:08d}sticker",
            "file_unique_id": f"AgADst{file_number}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "FakeStickers",
            "file_size": 24_000,
        }
        return self._user_message(user, None, {"sticker": sticker})

    def send_photo(self, user_id: int, *, caption: str | None = None) -> JsonDict:
        user = self._touch_user(user_id)
        file_number = next(self._file_counter)
        sizes = [(90, 68, 1_500), (320, 240, 18_000), (800, 600, 75_000)]
        photo = [
            {
                "file_id": f"AgACAgIAAxkBAAI{file_number:08d}photo{index}",
                "file_unique_id": f"AQADph{file_number}{index}",
                "width": width,
                "height": height,
                "file_size": size,
            }
            for index, (width, height, size) in enumerate(sizes)
        ]
        content: JsonDict = {"photo": photo}
        if caption:
            content["caption"] = caption
        return self._user_message(user, None, content)

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> JsonDict:
        """The user presses an inline button; returns the ``callback_query`` update.

        Raises ValueError if that message does not carry a button with that data, because a
        real user could not press it.
        """
        user = self._touch_user(user_id)
        chat = self._chats.get(user_id if chat_id is None else chat_id)
        stored = chat.messages.get(message_id) if chat else None
        if chat is None or stored is None or not stored.from_bot:
            raise ValueError(f"no bot message {message_id} in chat {chat_id or user_id}")
        rows = (stored.payload.get("reply_markup") or {}).get("inline_keyboard", [])
        if not any(button.get("callback_data") == callback_data for row in rows for button in row):
            raise ValueError(
                f"message {message_id} has no button with callback_data {callback_data!r}"
            )
        query_id = str(next(self._query_counter))
        query = {
            "id": query_id,
            "from": user.as_json(),
            "message": json.loads(json.dumps(stored.payload)),
            "chat_instance": chat.chat_instance,
            "data": callback_data,
        }
        self._open_queries[query_id] = query
        return self._push_update("callback_query", query)

    def block_user(self, user_id: int, *, notify: bool = True) -> None:
        """The user blocks the bot: every send to them gets 403 until ``unblock_user``.

        Like Telegram, the bot also gets a ``my_chat_member`` update (status "kicked").
        """
        self._blocked.add(user_id)
        if notify and user_id in self._users:
            self._member_update(user_id, "member", "kicked")

    def unblock_user(self, user_id: int, *, notify: bool = True) -> None:
        self._blocked.discard(user_id)
        if notify and user_id in self._users:
            self._member_update(user_id, "kicked", "member")

    # ----------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int = 5,
        chat_id: int | None = None,
        *,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (optionally only to ``chat_id``)
        with an error: 429 (with ``retry_after``), 403 (blocked by the user), 400, 500,
        or 502 (an HTML page from the front proxy, as Telegram's nginx sends)."""
        self._faults.append(
            _Fault(method.lower(), error_code, retry_after, chat_id, description, times)
        )

    def redeliver_next_webhook(self) -> None:
        """Deliver the next webhook update twice, as Telegram may after a lost answer."""
        self._redeliver_next += 1

    # ----------------------------------------------------------------- inspection

    def messages_to(self, chat_id: int) -> list[BotMessage]:
        """Every send and edit to ``chat_id``, oldest first."""
        return list(self._log.get(chat_id, []))

    def last_message_to(self, chat_id: int) -> BotMessage:
        records = self._log.get(chat_id)
        if not records:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return records[-1]

    def current_message(self, chat_id: int, message_id: int) -> JsonDict | None:
        """The message as it is now (after edits), or None if unknown or deleted."""
        chat = self._chats.get(chat_id)
        stored = chat.messages.get(message_id) if chat else None
        return stored.payload if stored else None

    def commands_for(self, language_code: str = "", scope: str = "default") -> list[dict[str, str]]:
        return self.commands.get((scope, language_code), [])

    def calls(self, method: str) -> list[ApiCall]:
        return [call for call in self.api_calls if call.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JsonDict]:
        return list(self._pending)

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url

    async def wait_for_message(self, chat_id: int, timeout: float = 5.0) -> BotMessage:
        """The next send or edit to ``chat_id`` not yet returned by this method."""

        def available() -> bool:
            return len(self._log.get(chat_id, [])) > self._log_cursor.get(chat_id, 0)

        if not await self._log_signal.wait_for(available, timeout):
            raise TimeoutError(f"the bot sent nothing new to chat {chat_id} within {timeout}s")
        index = self._log_cursor.get(chat_id, 0)
        self._log_cursor[chat_id] = index + 1
        return self._log[chat_id][index]

    async def wait_for_callback_answer(
        self, callback_query_id: str, timeout: float = 5.0
    ) -> CallbackAnswer:
        def answer() -> CallbackAnswer | None:
            return next(
                (a for a in self.callback_answers if a.callback_query_id == callback_query_id),
                None,
            )

        if not await self._log_signal.wait_for(lambda: answer() is not None, timeout):
            raise TimeoutError(f"callback query {callback_query_id} was not answered")
        result = answer()
        assert result is not None
        return result

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Until every update was confirmed by getUpdates or accepted by the webhook."""
        if not await self._updates_signal.wait_for(lambda: not self._pending, timeout):
            raise TimeoutError(f"{len(self._pending)} updates still pending")

    # ----------------------------------------------------------------- HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error_response(method, {}, ApiError(401, "Unauthorized"))
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._error_response(method, {}, ApiError(404, "Not Found"))
        try:
            params = await _Params.read(request)
        except ApiError as error:
            return self._error_response(method, {}, error)
        try:
            fault = self._take_fault(method, params)
            if fault is not None:
                return self._fault_response(method, params, fault)
            result = await handler(params)
        except ApiError as error:
            return self._error_response(method, params.loggable(), error)
        body: JsonDict = {"ok": True}
        if isinstance(result, _Result):
            body.update(result=result.value, description=result.description)
        else:
            body["result"] = result
        self.api_calls.append(ApiCall(method, params.loggable(), 200))
        return web.json_response(body)

    def _error_response(self, method: str, params: JsonDict, error: ApiError) -> web.Response:
        body: JsonDict = {
            "ok": False,
            "error_code": error.error_code,
            "description": error.description,
        }
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        if error.error_code == 429:
            self.too_many_requests_count += 1
        self.api_calls.append(ApiCall(method, params, error.error_code, error.description))
        return web.json_response(body, status=error.error_code)

    def _take_fault(self, method: str, params: _Params) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None and params.integer("chat_id") != fault.chat_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _fault_response(self, method: str, params: _Params, fault: _Fault) -> web.Response:
        code = fault.error_code
        if code == 502 and fault.description is None:
            # Telegram's front proxy answers 502 with an HTML page, not JSON.
            self.api_calls.append(ApiCall(method, params.loggable(), 502, "Bad Gateway"))
            html = "<html><head><title>502 Bad Gateway</title></head><body></body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        defaults = {
            429: f"Too Many Requests: retry after {fault.retry_after}",
            403: BLOCKED,
            400: "Bad Request",
            500: "Internal Server Error",
        }
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        description = fault.description or defaults.get(code, phrase)
        retry_after = fault.retry_after if code == 429 else None
        return self._error_response(
            method, params.loggable(), ApiError(code, description, retry_after)
        )

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        for file_id, path in self._file_paths.items():
            if path == request.match_info["path"]:
                return web.Response(body=self._files[file_id].data)
        raise web.HTTPNotFound()

    # ----------------------------------------------------------------- updates

    def _touch_user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = _User(user_id, first_name or "Test", last_name, username, language_code or "vi")
            self._users[user_id] = user
            self._chats[user_id] = _Chat(user_id, "private", user=user)
            return user
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if username is not None:
            user.username = username
        if language_code is not None:
            user.language_code = language_code
        return user

    def _user_message(self, user: _User, chat_id: int | None, content: JsonDict) -> JsonDict:
        chat = self._chats[user.id] if chat_id is None else self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}; call add_group first")
        if chat.type == "private" and user.id in self._blocked:
            # A user can only write to a bot they blocked by unblocking it ("Restart").
            self.unblock_user(user.id)
        message: JsonDict = {
            "message_id": chat.take_message_id(),
            "from": user.as_json(),
            "chat": chat.as_json(),
            "date": int(time.time()),
            **content,
        }
        chat.messages[message["message_id"]] = _StoredMessage(message, from_bot=False)
        return self._push_update("message", message)

    def _member_update(self, user_id: int, old: str, new: str) -> None:
        bot = self._bot_user()
        new_member: JsonDict = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: JsonDict = {"user": bot, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        self._push_update(
            "my_chat_member",
            {
                "chat": self._chats[user_id].as_json(),
                "from": self._users[user_id].as_json(),
                "date": int(time.time()),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            },
        )

    def _push_update(self, kind: str, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        if kind not in self._allowed_updates:
            self.dropped_updates.append(update)
        else:
            self._pending.append(update)
            self._updates_signal.notify()
        return update

    def _set_allowed(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(400, "Bad Request: can't parse allowed updates")
        # An empty list means "all default types", as documented.
        self._allowed_updates = frozenset(value) & ALL_UPDATE_TYPES or DEFAULT_UPDATE_TYPES

    # ----------------------------------------------------------------- methods: bot & updates

    def _bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _get_me(self, params: _Params) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params) -> Any:
        if self._webhook_url is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.number("timeout") or 0.0, 0.0)
        self._set_allowed(params.obj("allowed_updates"))
        # Confirm: a positive offset forgets older updates; a negative one keeps the last -n.
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()  # lets an older long poll see it was superseded

        def done() -> bool:
            return (
                bool(self._pending)
                or generation != self._poll_generation
                or self._webhook_url is not None
                or self._closing
            )

        await self._updates_signal.wait_for(done, timeout)
        if generation != self._poll_generation:
            raise ApiError(409, POLL_CONFLICT)
        if self._webhook_url is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        return self._pending[:limit]

    async def _set_webhook(self, params: _Params) -> Any:
        url = params.text("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not re.match(r"https?://[^/\s]+", url):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.text("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: max_connections must be in 1..100")
        allowed = params.obj("allowed_updates")
        self._set_allowed(allowed)
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        already = url == self._webhook_url
        self._webhook_url = url
        self._webhook_secret = secret
        self._webhook_max_connections = max_connections
        self._webhook_allowed = allowed if isinstance(allowed, list) and allowed else None
        self._webhook_last_error = None
        self._updates_signal.notify()
        return _Result(True, "Webhook is already set" if already else "Webhook was set")

    async def _delete_webhook(self, params: _Params) -> Any:
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        was_set = self._webhook_url is not None
        self._webhook_url = None
        self._webhook_secret = None
        self._webhook_allowed = None
        self._updates_signal.notify()
        return _Result(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: _Params) -> Any:
        info: JsonDict = {
            "url": self._webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook_url is not None:
            info["max_connections"] = self._webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if self._webhook_allowed:
                info["allowed_updates"] = self._webhook_allowed
        if self._webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _webhook_worker(self) -> None:
        attempts = 0
        while not self._closing:
            await self._updates_signal.wait_for(
                lambda: self._closing or (self._webhook_url is not None and bool(self._pending)),
                3600,
            )
            if self._closing or self._webhook_url is None or not self._pending:
                continue
            update = self._pending[0]
            ok = await self._deliver(update)
            if ok:
                attempts = 0
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                    self._updates_signal.notify()
                if self._redeliver_next:
                    self._redeliver_next -= 1
                    await self._deliver(update)
                continue
            attempts += 1
            if attempts >= self.webhook_max_attempts:
                # Telegram gives up on an update "after a reasonable amount of attempts".
                attempts = 0
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                    self._updates_signal.notify()
            await asyncio.sleep(self.webhook_retry_delay)

    async def _deliver(self, update: JsonDict) -> bool:
        assert self._http is not None and self._webhook_url is not None
        url, secret = self._webhook_url, self._webhook_secret
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        status: int | None = None
        error: str | None = None
        try:
            async with self._http.post(
                url,
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                status = response.status
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {exc}"
        self.webhook_deliveries.append(
            WebhookDelivery(update["update_id"], url, status, error, secret)
        )
        if error is not None:
            self._webhook_last_error = (int(time.time()), error)
            return False
        return True

    # ----------------------------------------------------------------- methods: messages

    def _target_chat(self, params: _Params) -> _Chat:
        raw = params.values.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = params.integer("chat_id")
        except ApiError:
            chat_id = None  # "@channelusername": the fake has no channels
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.type == "private" and chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _check_rate(self, chat: _Chat) -> None:
        limits = self.limits
        if not limits.enabled:
            return
        # Rebuilt when a test changes the limits, so the new numbers apply at once.
        settings = (
            (limits.private_chat_per_second, limits.private_chat_burst)
            if chat.type == "private"
            else (limits.group_per_minute,)
        )
        known = self._chat_limiters.get(chat.id)
        if known is None or known[0] != settings:
            fresh: SlidingWindow | TokenBucket = (
                TokenBucket(limits.private_chat_per_second, limits.private_chat_burst, self._clock)
                if chat.type == "private"
                else SlidingWindow(limits.group_per_minute, 60.0, self._clock)
            )
            known = (settings, fresh)
            self._chat_limiters[chat.id] = known
        limiter = known[1]
        self._global_window.limit = limits.per_bot_per_second
        wait = max(self._global_window.retry_after(), limiter.retry_after())
        if wait > 0:
            seconds = whole_seconds(wait)
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        self._global_window.record()
        limiter.record()

    def _formatted(
        self, params: _Params, field_name: str, entities_field: str
    ) -> tuple[str | None, str | None, list[JsonDict]]:
        raw = params.text(field_name)
        if raw is None:
            return None, None, []
        parse_mode = params.text("parse_mode")
        if parse_mode:
            try:
                text, entities = parse_formatted(raw, parse_mode)
            except FormattingError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from error
        else:
            text = raw
            given = params.obj(entities_field)
            entities = given if isinstance(given, list) else []
        return raw, text, entities

    def _markup(self, params: _Params) -> _Markup:
        markup = params.obj("reply_markup", MARKUP_UNPARSABLE)
        if markup is None:
            return _Markup()
        if not isinstance(markup, dict):
            raise ApiError(400, MARKUP_UNPARSABLE)
        if "inline_keyboard" in markup:
            return self._inline_markup(markup["inline_keyboard"])
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(400, 'Bad Request: field "keyboard" must be an Array of Arrays')
            texts = tuple(
                tuple(b if isinstance(b, str) else str(b.get("text", "")) for b in row)
                for row in rows
            )
            return _Markup(reply_keyboard=texts)
        return _Markup()

    def _inline_markup(self, rows: Any) -> _Markup:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                "must be an Array of Arrays",
            )
        echoed_rows: list[list[JsonDict]] = []
        keyboard: list[tuple[InlineButton, ...]] = []
        for row in rows:
            echoed_row: list[JsonDict] = []
            buttons: list[InlineButton] = []
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        'Field "text" must be of type String',
                    )
                actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
                if len(actions) != 1:
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
                echoed_row.append({"text": button["text"], actions[0]: button[actions[0]]})
                buttons.append(InlineButton(button["text"], data, url))
            echoed_rows.append(echoed_row)
            keyboard.append(tuple(buttons))
        if not any(echoed_rows):
            return _Markup()  # an empty inline keyboard is no keyboard
        return _Markup(echoed={"inline_keyboard": echoed_rows}, keyboard=tuple(keyboard))

    def _reply_to(self, chat: _Chat, params: _Params) -> JsonDict | None:
        reply = params.obj("reply_parameters")
        message_id = (
            reply.get("message_id")
            if isinstance(reply, dict)
            else params.integer("reply_to_message_id")
        )
        if message_id is None:
            return None
        stored = chat.messages.get(int(message_id))
        if stored is None:
            allow = isinstance(reply, dict) and reply.get("allow_sending_without_reply")
            if allow or params.flag("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        original = dict(stored.payload)
        original.pop("reply_to_message", None)  # Telegram nests only one level
        return original

    def _store_bot_message(
        self,
        chat: _Chat,
        method: str,
        content: JsonDict,
        markup: _Markup,
        *,
        raw_text: str | None = None,
        parse_mode: str | None = None,
        document: SentDocument | None = None,
    ) -> JsonDict:
        payload: JsonDict = {
            "message_id": chat.take_message_id(),
            "from": self._bot_user(),
            "chat": chat.as_json(),
            "date": int(time.time()),
            **content,
        }
        if markup.echoed is not None:
            payload["reply_markup"] = markup.echoed
        chat.messages[payload["message_id"]] = _StoredMessage(
            payload, True, document, markup.reply_keyboard
        )
        self._record(chat.id, "send", method, payload, raw_text, parse_mode)
        return payload

    def _record(
        self,
        chat_id: int,
        kind: str,
        method: str,
        payload: JsonDict,
        raw_text: str | None,
        parse_mode: str | None,
    ) -> None:
        stored = self._chats[chat_id].messages[payload["message_id"]]
        rows = (payload.get("reply_markup") or {}).get("inline_keyboard", [])
        keyboard = tuple(
            tuple(InlineButton(b["text"], b.get("callback_data"), b.get("url")) for b in row)
            for row in rows
        )
        record = BotMessage(
            kind="send" if kind == "send" else "edit",
            method=method,
            chat_id=chat_id,
            message_id=payload["message_id"],
            date=payload["date"],
            text=payload.get("text"),
            raw_text=raw_text,
            parse_mode=parse_mode,
            entities=tuple(payload.get("entities") or payload.get("caption_entities") or ()),
            keyboard=keyboard,
            reply_keyboard=stored.reply_keyboard,
            document=stored.document,
            caption=payload.get("caption"),
            edit_date=payload.get("edit_date"),
            payload=json.loads(json.dumps(payload)),
        )
        self._log.setdefault(chat_id, []).append(record)
        self._log_signal.notify()

    async def _send_message(self, params: _Params) -> Any:
        chat = self._target_chat(params)
        raw, text, entities = self._formatted(params, "text", "entities")
        if raw is None or text is None or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        self._check_rate(chat)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        return self._store_bot_message(
            chat,
            "sendMessage",
            content,
            markup,
            raw_text=raw,
            parse_mode=params.text("parse_mode"),
        )

    def _bot_message(self, params: _Params, action: str) -> tuple[_Chat, _StoredMessage]:
        if params.has("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by FakeTelegram")
        chat = self._target_chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        if not stored.from_bot:
            raise ApiError(400, f"Bad Request: message can't be {action}ed")
        return chat, stored

    async def _edit_message_text(self, params: _Params) -> Any:
        chat, stored = self._bot_message(params, "edit")
        if "text" not in stored.payload:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        raw, text, entities = self._formatted(params, "text", "entities")
        if raw is None or text is None or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        # Leaving reply_markup out removes the inline keyboard, as in Telegram.
        markup = self._markup(params)
        old = stored.payload
        if (
            old.get("text") == text
            and (old.get("entities") or []) == entities
            and old.get("reply_markup") == markup.echoed
        ):
            raise ApiError(400, NOT_MODIFIED)
        old["text"] = text
        old.pop("entities", None)
        if entities:
            old["entities"] = entities
        self._apply_markup(old, markup)
        old["edit_date"] = int(time.time())
        self._record(chat.id, "edit", "editMessageText", old, raw, params.text("parse_mode"))
        return old

    async def _edit_message_reply_markup(self, params: _Params) -> Any:
        chat, stored = self._bot_message(params, "edit")
        markup = self._markup(params)
        old = stored.payload
        if old.get("reply_markup") == markup.echoed:
            raise ApiError(400, NOT_MODIFIED)
        self._apply_markup(old, markup)
        old["edit_date"] = int(time.time())
        self._record(chat.id, "edit", "editMessageReplyMarkup", old, None, None)
        return old

    @staticmethod
    def _apply_markup(payload: JsonDict, markup: _Markup) -> None:
        if markup.echoed is None:
            payload.pop("reply_markup", None)
        else:
            payload["reply_markup"] = markup.echoed

    async def _delete_message(self, params: _Params) -> Any:
        raw_chat = params.values.get("chat_id")
        chat = self._chats.get(params.integer("chat_id") or 0) if raw_chat is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        message_id = params.integer("message_id")
        if message_id is None or message_id not in chat.messages:
            raise ApiError(400, "Bad Request: message to delete not found")
        del chat.messages[message_id]
        self.deleted_messages.append((chat.id, message_id))
        return True

    async def _answer_callback_query(self, params: _Params) -> Any:
        query_id = params.text("callback_query_id")
        query = self._open_queries.pop(query_id or "", None)
        if query is None:
            # Unknown, or already answered: Telegram allows one answer per query.
            raise ApiError(400, QUERY_INVALID)
        text = params.text("text")
        if text is not None and len(text) > 200:
            self._open_queries[query["id"]] = query
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query["id"],
                user_id=query["from"]["id"],
                data=query.get("data"),
                text=text,
                show_alert=params.flag("show_alert"),
                url=params.text("url"),
                cache_time=params.integer("cache_time"),
            )
        )
        self._log_signal.notify()
        return True

    async def _send_chat_action(self, params: _Params) -> Any:
        chat = self._target_chat(params)
        action = params.text("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True

    # ----------------------------------------------------------------- methods: files

    def _document_from(self, params: _Params) -> SentDocument:
        upload = params.files.get("document")
        reference = params.text("document") if upload is None else None
        if reference is not None and reference.startswith("attach://"):
            upload = params.files.get(reference.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, "Bad Request: wrong remote file identifier specified")
        if upload is not None:
            if not upload.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            number = next(self._file_counter)
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime
            document = SentDocument(
                file_id=f"BQACAgIAAxkBAAI{number:08d}document",
                file_unique_id=f"AgADdoc{number}",
                file_name=upload.filename,
                mime_type=mime,
                data=upload.data,
            )
            self._files[document.file_id] = document
            return document
        if reference is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if reference in self._files:
            return self._files[reference]
        if reference.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    async def _send_document(self, params: _Params) -> Any:
        chat = self._target_chat(params)
        document = self._document_from(params)
        raw, caption, entities = self._formatted(params, "caption", "caption_entities")
        if caption is not None and utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        self._check_rate(chat)
        content: JsonDict = {"document": self._document_json(document)}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        return self._store_bot_message(
            chat,
            "sendDocument",
            content,
            markup,
            raw_text=raw,
            parse_mode=params.text("parse_mode"),
            document=document,
        )

    @staticmethod
    def _document_json(document: SentDocument) -> JsonDict:
        data: JsonDict = {
            "file_id": document.file_id,
            "file_unique_id": document.file_unique_id,
            "file_size": document.size,
        }
        if document.file_name:
            data["file_name"] = document.file_name
        if document.mime_type:
            data["mime_type"] = document.mime_type
        return data

    async def _get_file(self, params: _Params) -> Any:
        file_id = params.text("file_id") or ""
        document = self._files.get(file_id)
        if document is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        suffix = ""
        if document.file_name and "." in document.file_name:
            suffix = "." + document.file_name.rsplit(".", 1)[1]
        path = self._file_paths.setdefault(
            file_id, f"documents/file_{len(self._file_paths)}{suffix}"
        )
        return {
            "file_id": document.file_id,
            "file_unique_id": document.file_unique_id,
            "file_size": document.size,
            "file_path": path,
        }

    # ----------------------------------------------------------------- methods: commands

    @staticmethod
    def _scope_key(params: _Params) -> str:
        scope = params.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise ApiError(400, "Bad Request: wrong bot command scope type specified")
        kind = str(scope["type"])
        if kind in ("chat", "chat_administrators", "chat_member"):
            if scope.get("chat_id") is None:
                raise ApiError(400, "Bad Request: chat_id is empty")
            kind += f":{scope['chat_id']}"
        if kind.startswith("chat_member"):
            if scope.get("user_id") is None:
                raise ApiError(400, "Bad Request: user_id is empty")
            kind += f":{scope['user_id']}"
        return kind

    @staticmethod
    def _language(params: _Params) -> str:
        language = params.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return language

    async def _set_my_commands(self, params: _Params) -> Any:
        commands = params.obj("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        cleaned: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = (self._scope_key(params), self._language(params))
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: _Params) -> Any:
        return self.commands.get((self._scope_key(params), self._language(params)), [])

    async def _delete_my_commands(self, params: _Params) -> Any:
        self.commands.pop((self._scope_key(params), self._language(params)), None)
        return True
