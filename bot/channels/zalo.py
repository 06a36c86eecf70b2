"""The Zalo Official Account channel: signed webhooks in, customer-service messages out.

Receiving. `POST /zalo/webhook` checks `X-ZEvent-Signature` (plain SHA-256 of app id +
raw body + timestamp + OA secret key) over the raw bytes, writes the verified event to
the durable inbox and only then answers 200, within milliseconds. Background tasks take
each user's events in order: texts and button taps go to the dispatcher as neutral
events, images, stickers, files and locations as kind="unsupported" (the core answers
"please type"), `follow`/`unfollow` set User.following; delivery receipts and echoes of
the OA's own sends are ignored. Events a crash left in the inbox run on the next start.

Replying. The dispatcher's replies are written to the outbox in the dispatcher's own
transaction, leased to this worker, and sent at once; nothing is lost between the commit
and the send. A reply that fails for a passing reason stays in the outbox, where the
outbox sender retries it.

Rendering. Zalo shows at most 5 buttons (`oa.query.show`, whose payload, the core's
stable payload, comes back as the user's text) and 2,000 characters a message. Longer
texts are split at paragraph, line or word boundaries; more buttons become numbered lines
("[3] Gia Lâm"), numbered across the turn as the core numbers them, and typing the
number presses the button.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app import App
from bot.channels.render import numbered
from bot.clock import Clock
from bot.db_workers import DatabaseWorkers
from bot.dispatcher import Dispatcher
from bot.events import Button, Incoming, Outcome, Reply
from bot.i18n import Translator
from bot.sender import Delivery, OutboxSender, Recipient, backoff
from bot.zalo_client import (
    NO_INTERACTION,
    NOT_FOLLOWER,
    RATE_LIMITED,
    ZaloAuthError,
    ZaloClient,
    ZaloError,
    ZaloHttpError,
    ZaloTokens,
)
from handlers.context import Context
from storage import inbox, outbox, repository
from storage.models import OutboxMessage, User

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/zalo/webhook"

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_QUERY_PAYLOAD = 1000
UPLOADABLE = (".pdf", ".doc", ".docx")  # all the OA upload API takes

# A core payload ("menu:register", "reg:unit:GLA") typed back by a button tap.
PAYLOAD_SHAPE = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9_.\-]+)+")

INBOX_LEASE = timedelta(seconds=60)  # a worker that died mid-event gives it up after this
REPLY_LEASE = timedelta(seconds=60)  # the outbox sender leaves fresh replies alone this long


# --- receiving ------------------------------------------------------------------------------


def signature(app_id: str, raw: bytes, timestamp: str, oa_secret_key: str) -> str:
    digest = hashlib.sha256()
    for part in (app_id.encode(), raw, timestamp.encode(), oa_secret_key.encode()):
        digest.update(part)
    return digest.hexdigest()


def verify(
    header: str | None, app_id: str, oa_secret_key: str, raw: bytes, timestamps: list[str]
) -> bool:
    """`X-ZEvent-Signature: mac=<hex>` against the body's timestamp or the
    X-ZEvent-Timestamp header (integrations disagree on which; either is accepted)."""
    if not header or not oa_secret_key:
        return False
    mac = header.strip()
    if mac.lower().startswith("mac="):
        mac = mac[4:]
    mac = mac.strip().lower()
    return any(
        hmac.compare_digest(signature(app_id, raw, ts, oa_secret_key), mac)
        for ts in dict.fromkeys(timestamps)
        if ts
    )


@dataclass(frozen=True)
class ZaloEvent:
    """What the bot keeps of a webhook event."""

    name: str  # user_send_text, user_send_sticker, follow, ...
    event_id: str  # Zalo's msg_id, or a stable id made from the event
    sender: str  # the user's id for this OA (what message/cs calls recipient.user_id)
    text: str = ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_event(body: dict[str, Any]) -> ZaloEvent | None:
    """The event to act on; None for what is ignored (receipts, `oa_send_*` echoes, …)."""
    name = body.get("event_name")
    if not isinstance(name, str):
        return None
    timestamp = str(body.get("timestamp") or "")
    if name in ("follow", "unfollow"):
        follower = _obj(body.get("follower")).get("id")
        if not follower:
            return None
        return ZaloEvent(name, f"{name}:{follower}:{timestamp}", str(follower))
    if not name.startswith("user_send_"):
        return None
    sender = _obj(body.get("sender")).get("id")
    if not sender:
        return None
    message = _obj(body.get("message"))
    event_id = str(message.get("msg_id") or f"{name}:{sender}:{timestamp}")
    text = message.get("text") if name == "user_send_text" else ""
    return ZaloEvent(name, event_id[:128], str(sender), str(text or ""))


def to_incoming(event: ZaloEvent, app: App) -> Incoming:
    """The neutral event. A tap on an `oa.query.show` button arrives as its payload in a
    text; payload-shaped text is a button press, so a tap on an old message's button is
    answered as a stale button, not taken as an answer."""
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": event.sender,
        "message_id": event.event_id,
        "at": app.clock.now(),
    }
    if event.name != "user_send_text":
        return Incoming(**base, kind="unsupported", text=event.name.removeprefix("user_send_"))
    typed = event.text.strip()
    if PAYLOAD_SHAPE.fullmatch(typed):
        return Incoming(**base, kind="button", payload=typed)
    return Incoming(**base, kind="text", text=event.text)


# --- rendering ------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length as Zalo may count it (UTF-16 units); never less than Python's count."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit`, cut at a paragraph break, else a line break, else a
    space (late in the part if possible), else anywhere but inside a letter's marks."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        size = _fitting_prefix(rest, limit)
        window = rest[: size + 1]  # the separator may sit just past the limit
        cut = 0
        for late_only in (True, False):
            for separator in ("\n\n", "\n", " "):
                at = window.rfind(separator, 0, size + 1)
                if at > 0 and (at >= size // 2 or not late_only):
                    cut = at
                    break
            if cut:
                break
        if not cut:
            cut = size
            while cut > 1 and unicodedata.combining(rest[cut]):
                cut -= 1
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


def _title(label: str) -> str:
    return label if len(label) <= MAX_TITLE else label[: MAX_TITLE - 1] + "…"


def render(payload: dict[str, Any], *, choose_hint: str) -> list[dict[str, Any]]:
    """The `message` objects for one reply or outbox payload
    {"text", "buttons": [[label, payload], …], "first_number"}; buttons on the last."""
    text = str(payload.get("text") or "")
    buttons = [Button(str(label), str(value)) for label, value in payload.get("buttons") or []]
    first = int(payload.get("first_number") or 1)
    as_buttons = len(buttons) <= MAX_BUTTONS and all(
        0 < len(b.payload) <= MAX_QUERY_PAYLOAD for b in buttons
    )
    if buttons and not as_buttons:
        text = "\n".join([text, "", choose_hint, *numbered(buttons, start=first)]).strip()
        buttons = []
    messages: list[dict[str, Any]] = [{"text": part} for part in split_text(text)]
    if buttons:
        if not messages:
            messages.append({})
        messages[-1]["attachment"] = {
            "type": "template",
            "payload": {
                "buttons": [
                    {"title": _title(b.label), "type": "oa.query.show", "payload": b.payload}
                    for b in buttons
                ]
            },
        }
    return messages


def reply_payloads(replies: list[Reply]) -> list[dict[str, Any]]:
    """Replies of one turn as outbox payloads; buttons numbered across the turn."""
    payloads = []
    number = 1
    for reply in replies:
        payload: dict[str, Any] = {
            "text": reply.text,
            "buttons": [[b.label, b.payload] for b in reply.buttons],
            "first_number": number,
        }
        if reply.file is not None:
            payload["file"] = {
                "filename": reply.file.filename,
                "mime_type": reply.file.mime_type,
                "content": base64.b64encode(reply.file.content).decode("ascii"),
            }
        number += len(reply.buttons)
        payloads.append(payload)
    return payloads


# --- sending --------------------------------------------------------------------------------


class ZaloTransport:
    """The outbox sender's transport: one payload, as one or more Zalo messages."""

    channel = CHANNEL

    def __init__(self, client: ZaloClient) -> None:
        self.client = client
        self._rate_strikes = 0

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery:
        t = Translator(recipient.language)
        message_id: str | None = None
        try:
            if payload.get("route") == "promotion":  # an announcement to a follower
                text = str(payload.get("text", ""))
                message_id = await self.client.send_promotion(recipient.channel_user_id, text)
                return Delivery(platform_message_id=message_id)
            messages = render(payload, choose_hint=t("zalo.choose_by_number"))
            file = payload.get("file")
            if isinstance(file, dict):
                messages.extend(await self._file_messages(file, t))
            for message in messages:
                message_id = await self.client.send_message(recipient.channel_user_id, message)
        except ZaloError as error:
            return self._failed(error)
        except ZaloAuthError as error:
            return Delivery(retry_after=-1, error=f"zalo token: {error}")
        except (ZaloHttpError, aiohttp.ClientError, TimeoutError, OSError) as error:
            # Recorded by type and text only: aiohttp's repr() would hold the headers.
            return Delivery(retry_after=-1, error=f"{type(error).__name__}: {error}"[:500])
        self._rate_strikes = 0
        return Delivery(platform_message_id=message_id)

    async def _file_messages(self, file: dict[str, Any], t: Translator) -> list[dict[str, Any]]:
        filename = str(file.get("filename") or "file")
        if not filename.lower().endswith(UPLOADABLE):
            return [{"text": t("zalo.file_unavailable", filename=filename)}]
        content = base64.b64decode(str(file.get("content") or ""))
        mime_type = str(file.get("mime_type") or "application/octet-stream")
        token = await self.client.upload_file(filename, content, mime_type)
        return [{"attachment": {"type": "file", "payload": {"token": token}}}]

    def _failed(self, error: ZaloError) -> Delivery:
        what = f"zalo {error.code}: {error.message}"[:200]
        if error.code in (NO_INTERACTION, NOT_FOLLOWER):
            return Delivery(permanent=what, error=what)
        if error.code == RATE_LIMITED:
            self._rate_strikes += 1
            return Delivery(retry_after=min(60, 2**self._rate_strikes), error=what)
        return Delivery(retry_after=-1, error=what)


# --- the channel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: str
    sender: str
    kind: str
    body: str


@dataclass(frozen=True)
class _Written:
    replies: list[Reply]
    batch: list[tuple[int, Recipient, dict[str, Any]]]


def _reply_key(event_id: str) -> str:
    return f"reply:{CHANNEL}:{event_id}:"


class ZaloChannel:
    """The webhook route, the inbox workers and the outbox transport of one OA."""

    name = CHANNEL

    def __init__(
        self,
        app: App,
        client: ZaloClient,
        *,
        app_id: str,
        oa_secret_key: str,
        first_tokens: tuple[str, str] | None = None,
        poll_seconds: float = 5.0,
    ) -> None:
        self.app = app
        self.client = client
        self.app_id = app_id
        self._oa_secret_key = oa_secret_key
        self._first_tokens = first_tokens
        self.poll_seconds = poll_seconds
        self.transport = ZaloTransport(client)
        self._inner = app.dispatcher.handler
        self.dispatcher = Dispatcher(
            app.db,
            app.plan,
            app.clock,
            handler=self.handle_in_transaction,
            default_language=app.dispatcher.default_language,
        )
        # All database work runs on these threads, never on the event loop: a token
        # refresh holds the database lock while it waits for Zalo, and the loop must stay
        # free meanwhile. Storing a webhook (what Zalo waits for) goes first.
        # On SQLite one thread does it all (one writer at a time anyway); PostgreSQL
        # takes writers in parallel, and keeps threads free for acknowledgements.
        if app.db.is_postgres:
            self._db = DatabaseWorkers(2, name="zalo-db")
            self._ack_db = DatabaseWorkers(1, name="zalo-ack")
        else:
            self._db = self._ack_db = DatabaseWorkers(1, name="zalo-db")
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        # Replies the handler wrapper wrote to the outbox, by event id, for `_process`.
        self._written: dict[str, _Written] = {}
        self._stopping = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None

    # --- WebChannel ---------------------------------------------------------------------

    def setup(self, web_app: web.Application) -> None:
        web_app.router.add_post(WEBHOOK_PATH, self.webhook)
        web_app.on_startup.append(self._on_startup)
        web_app.on_cleanup.append(self._on_cleanup)

    def sender(self) -> OutboxSender:
        return OutboxSender(self.app.db, self.app.clock, self.transport)

    async def _on_startup(self, _web_app: web.Application) -> None:
        await self.start()

    async def _on_cleanup(self, _web_app: web.Application) -> None:
        await self.stop()

    async def start(self) -> None:
        """Store the first token pair from settings if none is stored, and start the
        worker that picks up what a crash left in the inbox."""
        self._stopping.clear()
        if not await asyncio.to_thread(self._seed_tokens):
            log.warning(
                "no Zalo OA token is stored: replies cannot be sent until "
                "`langnghe-bot zalo set-token` stores the first pair"
            )
        self._recovery = asyncio.create_task(self._recover_forever())

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._recovery is not None:
            await self._recovery
            self._recovery = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_idle(), timeout)
        for task in list(self._draining.values()):
            task.cancel()  # its event stays leased in the inbox and is retried later
        await self.client.close()
        self._db.shutdown()
        self._ack_db.shutdown()

    async def wait_idle(self, sender: str | None = None) -> None:
        """Until no event (of `sender`, or of anyone) is being processed and answered."""
        while True:
            tasks = [t for s, t in self._draining.items() if sender in (None, s)]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    def _seed_tokens(self) -> bool:
        """Store the pair from settings unless one is stored; False if none is stored."""
        tokens: ZaloTokens = self.client.tokens
        if self._first_tokens is not None:
            tokens.seed(*self._first_tokens, expires_in=None)
        return tokens.stored() is not None

    # --- receiving ----------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = _json_object(raw)
        header = request.headers.get("X-ZEvent-Signature")
        if not header:
            if body == {}:
                return web.Response(text="ok")  # Zalo's check when the URL is registered
            log.warning("Zalo webhook without a signature refused")
            return web.Response(status=401, text="signature required")
        timestamps = [
            str((body or {}).get("timestamp") or ""),
            request.headers.get("X-ZEvent-Timestamp", ""),
        ]
        if not verify(header, self.app_id, self._oa_secret_key, raw, timestamps):
            log.warning("Zalo webhook with a wrong signature refused")
            return web.Response(status=401, text="bad signature")
        if body is None:
            return web.Response(status=400, text="not a JSON object")
        event = parse_event(body)
        if event is None:
            return web.Response(text="ok")  # receipts, echoes of our own sends, …
        raw_text = raw.decode("utf-8", "replace")
        stored = await self._ack_db.run(self._store, event, raw_text, urgent=True)
        if stored:
            self.kick(event.sender)
        return web.Response(text="ok")

    def _store(self, event: ZaloEvent, raw: str) -> bool:
        with self.app.db.transaction() as session:
            return inbox.add(
                session,
                CHANNEL,
                event.event_id,
                event.sender,
                event.name,
                raw,
                self.app.clock.now(),
            )

    # --- processing, one sender at a time -----------------------------------------------

    def kick(self, sender: str) -> None:
        """Make sure the sender's stored events get processed, in order."""
        if self._stopping.is_set():
            return
        if sender in self._draining:
            self._again.add(sender)  # the running task looks once more before it ends
            return
        self._draining[sender] = asyncio.create_task(self._drain(sender))

    async def _drain(self, sender: str) -> None:
        try:
            while True:
                self._again.discard(sender)
                batch = await self._db.run(self._take_and_handle, sender)
                if batch is None:
                    if sender in self._again:
                        continue
                    return
                await self._send_now(batch)
        except Exception:
            log.exception("Zalo inbox worker for a user failed; retried later")
        finally:
            self._draining.pop(sender, None)

    def _take_and_handle(self, sender: str) -> list[tuple[int, Recipient, dict[str, Any]]] | None:
        """On a database thread: take the sender's next event and handle it. Returns the
        replies to send now, or None when no event of this sender is due."""
        row = self._claim(sender)
        if row is None:
            return None
        try:
            event = parse_event(json.loads(row.body))
            if event is None or event.name in ("follow", "unfollow"):
                self._record_follow(row, event)
                return []
            # One sender's events come one at a time, in order (the inbox claim), so the
            # dispatcher's own per-user queue is not needed.
            outcome = self.dispatcher.process(to_incoming(event, self.app))
            written = self._written.pop(row.event_id, None)
            if written is not None and written.replies is outcome.replies:
                return written.batch  # the dispatcher committed them with the step
            return self._settle(row, outcome)
        except Exception as error:
            log.exception("Zalo event %s failed; it stays in the inbox", row.id)
            self._retry(row.id, repr(error))
            return []

    def _claim(self, sender: str) -> _Claimed | None:
        with self.app.db.transaction() as session:
            row = inbox.claim_next(
                session, CHANNEL, sender, self.app.clock.now(), lease=INBOX_LEASE
            )
            if row is None:
                return None
            return _Claimed(row.id, row.event_id, row.sender, row.kind, row.body)

    def handle_in_transaction(self, ctx: Context) -> None:
        """The core's handler, plus, in the same transaction: the replies go to the
        outbox and the inbox row is done."""
        self._inner(ctx)
        if ctx.event.channel != CHANNEL:
            return
        user = ctx.user
        messages = self._persist_replies(
            ctx.session, user, ctx.event.message_id, ctx.replies, ctx.now
        )
        inbox.mark_done(ctx.session, CHANNEL, ctx.event.message_id, ctx.now)
        recipient = Recipient(user.id, user.channel_user_id, user.language)
        # Valid only if the dispatcher commits and returns these very replies (checked by
        # identity in `_process`); otherwise `_settle` reads the database instead.
        self._written[ctx.event.message_id] = _Written(
            ctx.replies, [(m.id, recipient, dict(m.payload)) for m in messages]
        )

    def _persist_replies(
        self,
        session: Session,
        user: User,
        event_id: str,
        replies: list[Reply],
        now: Any,
    ) -> list[OutboxMessage]:
        messages = []
        for index, payload in enumerate(reply_payloads(replies)):
            message = repository.enqueue(
                session, user, "reply", payload, now, dedupe_key=f"{_reply_key(event_id)}{index}"
            )
            # Leased to this worker, which sends it right after the commit; should the
            # worker die first, the outbox sender takes it when the lease ends.
            message.status = "sending"
            message.attempts = 1
            message.next_attempt_at = now + REPLY_LEASE
            messages.append(message)
        session.flush()
        return messages

    def _settle(
        self, row: _Claimed, outcome: Outcome
    ) -> list[tuple[int, Recipient, dict[str, Any]]]:
        """After the dispatcher: the inbox row is done and the replies are in the outbox
        (written by `handle_in_transaction`, or here when the handler failed and the
        dispatcher apologised). Returns the replies to send now."""
        now = self.app.clock.now()
        with self.app.db.transaction() as session:
            inbox.mark_done(session, CHANNEL, row.event_id, now)
            if outcome.duplicate:
                return []  # handled before; its replies, if unsent, are the outbox's
            user = repository.get_or_create_user(session, CHANNEL, row.sender, now)
            messages = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.dedupe_key.startswith(
                            _reply_key(row.event_id), autoescape=True
                        )
                    )
                    .order_by(OutboxMessage.id)
                )
            )
            if not messages:
                messages = self._persist_replies(session, user, row.event_id, outcome.replies, now)
            recipient = Recipient(user.id, user.channel_user_id, user.language)
            return [(m.id, recipient, dict(m.payload)) for m in messages if m.status == "sending"]

    async def _send_now(self, batch: list[tuple[int, Recipient, dict[str, Any]]]) -> None:
        """Send a turn's replies in order; on a failure the rest wait in the outbox."""
        for index, (message_id, recipient, payload) in enumerate(batch):
            try:
                delivery = await self.transport.deliver(recipient, payload)
            except Exception as error:  # a network fault is a passing failure
                log.warning("Zalo reply %s failed: %r", message_id, error)
                delivery = Delivery(retry_after=-1, error=repr(error))
            rest = [] if delivery.ok else [m for m, _, _ in batch[index + 1 :]]
            await self._db.run(self._record, message_id, delivery, rest)
            if not delivery.ok:
                return

    def _record(self, message_id: int, delivery: Delivery, rest: list[int]) -> None:
        now = self.app.clock.now()
        with self.app.db.transaction() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None:
                return
            if delivery.ok:
                outbox.mark_sent(message, now, delivery.platform_message_id)
                message.payload = {}  # a copy of what was said (names, phone numbers)
                return
            if delivery.permanent is not None:
                outbox.mark_undeliverable(session, message, delivery.permanent)
            else:
                wait = delivery.retry_after or -1
                delay = timedelta(seconds=wait) if wait >= 0 else backoff(message.attempts)
                outbox.mark_retry(message, now, delivery.error or "temporary failure", delay)
            for later_id in rest:  # not tried yet: they follow the failed one, in order
                later = session.get(OutboxMessage, later_id)
                if later is None or later.status != "sending":
                    continue
                later.attempts = 0
                if delivery.permanent is not None:
                    outbox.mark_undeliverable(session, later, delivery.permanent)
                else:
                    later.status = "pending"
                    later.next_attempt_at = message.next_attempt_at

    def _record_follow(self, row: _Claimed, event: ZaloEvent | None) -> None:
        now = self.app.clock.now()
        with self.app.db.transaction() as session:
            if event is not None:
                user = repository.get_or_create_user(session, CHANNEL, event.sender, now)
                user.following = event.name == "follow"
                if user.following:
                    user.reachable = True  # following opens the conversation window too
                    user.unreachable_reason = None
                repository.audit(session, now, user, f"zalo.{event.name}")
            inbox.mark_done(session, CHANNEL, row.event_id, now)

    def _retry(self, row_id: int, error: str) -> None:
        with self.app.db.transaction() as session:
            row = inbox.mark_retry(session, row_id, self.app.clock.now(), error)
            if row is not None and row.status == "failed":
                log.error("Zalo event %s given up after %s attempts", row_id, row.attempts)

    async def _recover_forever(self) -> None:
        """On start and then every few seconds: events left by a crash, or due a retry."""
        while not self._stopping.is_set():
            try:
                senders = await self._db.run(self._due_senders)
                for sender in senders:
                    self.kick(sender)
            except Exception:
                log.exception("looking for unprocessed Zalo events failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    def _due_senders(self) -> list[str]:
        with self.app.db.transaction() as session:
            return list(inbox.senders_with_work(session, CHANNEL, self.app.clock.now()))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def zalo_channel(app: App) -> ZaloChannel | None:
    """The channel when the OA is configured (app id, OA id, OA secret key), else None."""
    settings = app.settings
    oa_secret_key = settings.zalo_oa_secret_key.get_secret_value()
    if not (settings.zalo_app_id and settings.zalo_oa_id and oa_secret_key):
        return None
    app_secret = settings.zalo_app_secret.get_secret_value()
    if not app_secret:
        log.warning("LANGNGHE_ZALO_APP_SECRET is not set: the access token cannot be refreshed")
    tokens = ZaloTokens(
        app.db,
        Clock(),  # tokens expire in real time, whatever day the season clock replays
        oa_id=settings.zalo_oa_id,
        app_id=settings.zalo_app_id,
        app_secret=app_secret,
        oauth_base=settings.zalo_oauth_base,
    )
    access = settings.zalo_access_token.get_secret_value()
    refresh = settings.zalo_refresh_token.get_secret_value()
    return ZaloChannel(
        app,
        ZaloClient(tokens, settings.zalo_api_base),
        app_id=settings.zalo_app_id,
        oa_secret_key=oa_secret_key,
        first_tokens=(access, refresh) if access and refresh else None,
    )
