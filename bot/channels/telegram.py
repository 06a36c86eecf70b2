"""The Telegram channel (python-telegram-bot 22): updates in, replies out.

An update becomes a neutral `Incoming` (its update_id is the message id, so a redelivery
is a duplicate for the dispatcher); the replies go out as messages with inline keyboards.
A pressed button is answered (answerCallbackQuery, with the "no longer open" text for a
stale one) and its keyboard removed, so it can't be pressed twice.

Replies to one chat go out in order, one chat at a time, through the per-chat limiter;
a chat waiting out a 429 holds up no other chat. Updates arrive by long polling
(`run_polling`, for a laptop) or by webhook (`bot.channels.telegram_web`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from telegram import Bot, BotCommand, CallbackQuery, Message, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.app import App
from bot.channels.telegram_send import (
    CHANNEL,
    Blocked,
    Deferred,
    TelegramSender,
    TelegramTransport,
    retry_seconds,
    telegram_limiter,
)
from bot.events import Incoming, Reply
from bot.i18n import LANGUAGES, Translator
from bot.ratelimit import RateLimiter
from bot.sender import OutboxSender
from storage import repository

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.telegram.org"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
UNSUPPORTED = (
    "sticker", "photo", "document", "location", "voice", "video", "audio", "animation",
    "video_note", "contact", "venue", "poll", "dice",
)  # fmt: skip
BLOCKED_REASON = "blocked by the user"

# The command menu: (key in the catalogs, Vietnamese command, English command).
MENU = (
    ("start", "start", "start"),
    ("register", "dangky", "register"),
    ("status", "trangthai", "status"),
    ("back", "quaylai", "back"),
    ("cancel", "huy", "cancel"),
    ("language", "ngonngu", "lang"),
    ("help", "trogiup", "help"),
    ("privacy", "dulieu", "mydata"),
    ("reminders", "nhacnho", "reminders"),
)


def make_bot(token: str, base_url: str = "") -> Bot:
    """A PTB Bot for Telegram, or for another Bot API server at `base_url`
    ("http://127.0.0.1:8081" or ".../bot")."""
    api = (base_url or DEFAULT_API).rstrip("/").removesuffix("/bot")
    return Bot(
        token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=HTTPXRequest(connection_pool_size=64, pool_timeout=10.0),
        get_updates_request=HTTPXRequest(connection_pool_size=2),
    )


def menu_commands(language: str) -> list[BotCommand]:
    t = Translator(language)
    column = 2 if language == "en" else 1
    return [BotCommand(entry[column], t(f"tg.cmd.{entry[0]}")) for entry in MENU]


def to_incoming(update: Update, at: datetime) -> Incoming | None:
    """The neutral event for a message or a pressed button in a private chat; else None."""
    message, query = update.message, update.callback_query
    chat = message.chat if message else (query.message.chat if query and query.message else None)
    user = message.from_user if message else (query.from_user if query else None)
    if chat is None or user is None or chat.type != "private":
        return None
    base = {
        "channel": CHANNEL,
        "user_id": str(user.id),
        "message_id": str(update.update_id),
        "at": at,
        "display_name": user.full_name,
        "language_hint": user.language_code,
    }
    if query is not None:
        return Incoming(**base, kind="button", payload=query.data or "")  # type: ignore[arg-type]
    assert message is not None
    if message.text is not None:
        return Incoming(**base, kind="text", text=message.text)  # type: ignore[arg-type]
    what = next((name for name in UNSUPPORTED if getattr(message, name, None)), "message")
    return Incoming(**base, kind="unsupported", text=what)  # type: ignore[arg-type]


class Telegram:
    """Handles updates and sends replies for one bot; shared by polling and webhook mode."""

    def __init__(self, app: App, bot: Bot, *, limiter: RateLimiter | None = None) -> None:
        settings = app.settings
        self.app = app
        self.bot = bot
        self.limiter = limiter or telegram_limiter(
            settings.telegram_chat_per_second, settings.telegram_chat_burst
        )
        self.sender = TelegramSender(bot, self.limiter)
        self.transport = TelegramTransport(self.sender)
        self.reply_wait = 60.0  # a direct reply waits out a retry_after up to this long
        self._chains: dict[int, asyncio.Task[None]] = {}

    @classmethod
    def from_settings(cls, app: App, *, base_url: str | None = None) -> Telegram:
        token = app.settings.telegram_token.get_secret_value()
        if not token:
            raise ValueError("set LANGNGHE_TELEGRAM_TOKEN (the token from @BotFather)")
        return cls(app, make_bot(token, base_url or app.settings.telegram_base_url))

    def outbox_sender(self) -> OutboxSender:
        return OutboxSender(self.app.db, self.app.clock, self.transport)

    async def start(self) -> None:
        """Log in (getMe) and publish the command menu in Vietnamese and English."""
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its request log shows the token
        try:
            await self.bot.initialize()
        except InvalidToken:  # PTB's message would show the token
            raise RuntimeError("telegram refused the bot token (LANGNGHE_TELEGRAM_TOKEN)") from None
        await self.bot.set_my_commands(menu_commands("vi"))
        for language in LANGUAGES:
            await self.bot.set_my_commands(menu_commands(language), language_code=language)

    async def stop(self, grace: float = 10.0) -> None:
        """Send what is queued (for up to `grace` seconds), then log out."""
        try:
            await asyncio.wait_for(self.idle(), grace)
        except TimeoutError:
            log.warning("telegram: stopping with replies to %d chats unsent", len(self._chains))
        await self.bot.shutdown()

    async def idle(self, chat_id: int | None = None) -> None:
        """Until every reply queued so far (to `chat_id`, or to anyone) has been sent."""
        while chains := [t for c, t in self._chains.items() if chat_id in (None, c)]:
            await asyncio.gather(*chains, return_exceptions=True)

    # --- updates in -----------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Handle one update; its replies are queued for sending when this returns."""
        if update.my_chat_member is not None:
            member = update.my_chat_member
            if member.chat.type == "private":
                status = member.new_chat_member.status
                await self._set_reachable(member.from_user.id, status != "kicked")
            return
        event = to_incoming(update, self.app.clock.now())
        if event is None:
            if update.callback_query is not None:
                await self._answer(update.callback_query, None)
            return
        outcome = await self.app.dispatcher.handle(event)
        query = update.callback_query
        if outcome.duplicate:  # handled before; the first answer may have been lost
            if query is not None:
                await self._answer(query, None)
            return
        # Queued before any await, so one chat's answers keep the order of its updates.
        chat_id = int(event.user_id)
        if query is not None and isinstance(query.message, Message) and query.message.reply_markup:
            self._after(chat_id, lambda: self._remove_keyboard(chat_id, query))
        self._after(chat_id, lambda: self._reply(chat_id, outcome.replies))
        if query is not None:
            notice = outcome.stale_notice
            await self._answer(query, notice[:200] if notice else None)

    async def process_json(self, data: dict[str, object]) -> None:
        await self.process(Update.de_json(data, self.bot))

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=text)
        except TelegramError as error:  # too old, or already answered
            log.info("telegram: could not answer callback %s: %s", query.id, error)

    async def _remove_keyboard(self, chat_id: int, query: CallbackQuery) -> None:
        """The buttons of a pressed message are all out of date now."""
        assert query.message is not None
        try:
            await self.bot.edit_message_reply_markup(chat_id, query.message.message_id)
        except TelegramError as error:  # gone, or no keyboard any more
            log.info("telegram: keyboard of %s stays: %s", query.message.message_id, error)

    # --- replies out ----------------------------------------------------------------

    def _after(self, chat_id: int, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` after everything queued before for this chat (order kept per chat)."""
        previous = self._chains.get(chat_id)

        async def chained() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await job()

        task = asyncio.create_task(chained())
        self._chains[chat_id] = task
        task.add_done_callback(lambda done: self._forget(chat_id, done))

    def _forget(self, chat_id: int, task: asyncio.Task[None]) -> None:
        if self._chains.get(chat_id) is task:
            del self._chains[chat_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("telegram: sending to %s failed", chat_id, exc_info=task.exception())

    async def _reply(self, chat_id: int, replies: Sequence[Reply]) -> None:
        for index, reply in enumerate(replies):
            try:
                await self.sender.send(chat_id, reply, max_wait=self.reply_wait, attempts=4)
            except Blocked as blocked:
                log.warning("telegram: chat %s is closed: %s", chat_id, blocked)
                await self._set_reachable(chat_id, False, str(blocked))
                return
            except Deferred as deferred:
                await self._hand_over(chat_id, replies[index:], deferred.seconds)
                return

    async def _hand_over(self, chat_id: int, replies: Sequence[Reply], wait: float) -> None:
        """Replies that could not go out soon go through the outbox, which retries them."""

        def enqueue() -> None:
            now = self.app.clock.now()
            with self.app.db.transaction() as session:
                user = repository.get_user(session, CHANNEL, str(chat_id))
                if user is None:
                    return
                for reply in replies:
                    if reply.file is not None:
                        log.warning("telegram: file %s to %s dropped", reply.file.filename, chat_id)
                        continue
                    buttons = [[b.label, b.payload] for b in reply.buttons]
                    message = repository.enqueue(
                        session, user, "reply", {"text": reply.text, "buttons": buttons}, now
                    )
                    message.next_attempt_at = now + timedelta(seconds=max(wait, 0))

        log.warning("telegram: %d replies to %s go through the outbox", len(replies), chat_id)
        await asyncio.to_thread(enqueue)

    async def _set_reachable(self, user_id: int, reachable: bool, reason: str = "") -> None:
        def update() -> None:
            with self.app.db.transaction() as session:
                user = repository.get_user(session, CHANNEL, str(user_id))
                if user is not None and user.reachable != reachable:
                    user.reachable = reachable
                    user.unreachable_reason = None if reachable else (reason or BLOCKED_REASON)

        await asyncio.to_thread(update)


async def run_polling(telegram: Telegram, stop: asyncio.Event, *, timeout: int = 25) -> None:
    """Long polling until `stop`: an update is confirmed (next offset) only once handled."""
    bot = telegram.bot
    await bot.delete_webhook()
    offset: int | None = None
    failures = 0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
        )
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not fetch.done():
            fetch.cancel()
            break
        try:
            updates = fetch.result()
            failures = 0
        except RetryAfter as error:
            await asyncio.sleep(retry_seconds(error))
            continue
        except (Conflict, NetworkError) as error:  # another instance, a webhook, the network
            failures += 1
            log.warning("telegram: getUpdates failed (%s); retrying", error)
            await asyncio.sleep(min(30, 2**failures))
            continue
        if updates:
            await asyncio.gather(*(telegram.process(update) for update in updates))
            offset = updates[-1].update_id + 1
    if offset is not None:  # confirm what was handled, so a restart doesn't fetch it again
        try:
            await bot.get_updates(offset=offset, timeout=0, limit=1)
        except TelegramError as error:
            log.info("telegram: could not confirm updates: %s", error)


async def run(telegram: Telegram, stop: asyncio.Event) -> None:
    """Polling mode: the bot, its outbox sender, until `stop` is set."""
    await telegram.start()
    try:
        me = telegram.bot.username
        log.warning("telegram: @%s polling %s", me, telegram.bot.base_url.split("/bot")[0])
        sender = asyncio.create_task(telegram.outbox_sender().run_forever(stop))
        await run_polling(telegram, stop)
        await sender
    finally:
        await telegram.stop()


async def run_until_signal(app: App, *, base_url: str | None = None) -> None:
    """`langnghe-bot telegram --polling`: run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(Telegram.from_settings(app, base_url=base_url), stop)
