"""Sending to Telegram: replies as messages with inline keyboards, files as documents,
within Telegram's limits (our own per-chat limiter; a 429 pauses only its chat).

Used by direct replies (which wait out a short retry_after) and by the outbox transport
(which hands a long wait back to the outbox as `Delivery.retry_after`).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.events import Attachment, Button, Reply
from bot.ratelimit import Rate, RateLimiter
from bot.sender import Delivery, Recipient

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # characters in one message
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
SHORT_LABEL = 18  # two buttons this short share a row

# Telegram: ~30 messages/s per bot, ~1/s per private chat (short bursts tolerated),
# 20/min per group. A bucket lets through `burst + rate * T` in T seconds, so these
# stay under each limit in every window. Overall: 1 + 29 = 30 in any second, and a
# broadcast runs at 29/s (97% of the limit; 25 + 5 allowed only 25/s sustained). The
# extra 0.2 keeps a sleep's millisecond of lateness from being lost (1.2 + 29 < 31).
OVERALL = Rate(per_second=29, burst=1.2)
GROUP = Rate(per_second=19 / 60, burst=1)


def telegram_limiter(
    chat_per_second: float = 1.0, chat_burst: float = 3, overall: Rate = OVERALL
) -> RateLimiter:
    private = Rate(chat_per_second, chat_burst)

    def per_chat(chat_id: Hashable) -> Rate:
        return GROUP if isinstance(chat_id, int) and chat_id < 0 else private

    return RateLimiter(overall, per_chat)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """One button per row; two short ones side by side."""
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        data = button.payload
        if not 0 < len(data.encode()) <= MAX_CALLBACK_DATA:
            raise ValueError(f"callback data must be 1-64 bytes: {data!r}")
        cell = InlineKeyboardButton(button.label, callback_data=data)
        last = rows[-1] if rows else []
        if len(last) == 1 and is_short(last[0].text) and is_short(button.label):
            last.append(cell)
        else:
            rows.append([cell])
    return InlineKeyboardMarkup(rows) if rows else None


def is_short(label: str) -> bool:
    return len(label) <= SHORT_LABEL


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A long text in parts under the limit, cut at line ends where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text] if text.strip() or not parts else parts


@dataclass(frozen=True)
class Piece:
    """One Telegram message of a reply: text, or a document with a caption."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    file: Attachment | None = None


def pieces(reply: Reply) -> list[Piece]:
    """A reply as messages; the keyboard goes on the last one."""
    markup = keyboard(reply.buttons)
    if reply.file is not None and len(reply.text) <= MAX_CAPTION:
        return [Piece(reply.text, markup, reply.file)]
    texts = [Piece(part) for part in split_text(reply.text)] if reply.text.strip() else []
    if reply.file is not None:
        texts.append(Piece("", None, reply.file))
    if not texts:
        return []  # Telegram sends no empty message
    last = texts[-1]
    return [*texts[:-1], Piece(last.text, markup, last.file)]


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int now, a timedelta in a later PTB
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Deferred(Exception):
    """Not sent now: try again after `seconds`."""

    def __init__(self, seconds: float, error: str) -> None:
        super().__init__(error)
        self.seconds = seconds
        self.error = error


class Blocked(Exception):
    """The chat can't be written to, for good (blocked the bot, deleted account)."""


class TelegramSender:
    def __init__(self, bot: Bot, limiter: RateLimiter) -> None:
        self.bot = bot
        self.limiter = limiter

    async def send(
        self, chat_id: int, reply: Reply, *, max_wait: float, attempts: int
    ) -> Message | None:
        """Send a reply (every piece); the last message sent is returned.

        Waits out a limit or a retry_after up to `max_wait` seconds, else raises Deferred;
        raises Blocked when the chat is gone for good.
        """
        message: Message | None = None
        for piece in pieces(reply):
            message = await self._send_piece(chat_id, piece, max_wait, attempts)
        return message

    async def _send_piece(
        self, chat_id: int, piece: Piece, max_wait: float, attempts: int
    ) -> Message:
        for attempt in range(1, attempts + 1):
            wait = await self.limiter.acquire(chat_id, max_wait=max_wait)
            if wait:
                raise Deferred(wait, "rate limit")
            try:
                return await self._call(chat_id, piece)
            except RetryAfter as error:
                seconds = retry_seconds(error)
                self.limiter.pause(chat_id, seconds)
                log.warning("telegram: chat %s must wait %ss", chat_id, seconds)
                if seconds > max_wait or attempt == attempts:
                    raise Deferred(seconds, str(error)) from error
            except Forbidden as error:
                raise Blocked(error.message) from error
            except BadRequest as error:
                if "chat not found" in error.message.lower():
                    raise Blocked(error.message) from error
                raise
            except NetworkError as error:  # timeouts, 5xx, a dropped connection
                if attempt == attempts:
                    raise Deferred(-1, str(error)) from error
                await asyncio.sleep(min(2**attempt, max_wait))
        raise AssertionError("unreachable")

    async def _call(self, chat_id: int, piece: Piece) -> Message:
        if piece.file is None:
            return await self.bot.send_message(chat_id, piece.text, reply_markup=piece.markup)
        document = InputFile(piece.file.content, filename=piece.file.filename)
        document.mimetype = piece.file.mime_type
        return await self.bot.send_document(
            chat_id, document, caption=piece.text or None, reply_markup=piece.markup
        )


class TelegramTransport:
    """The outbox's way to Telegram (bot.sender.Transport)."""

    channel = CHANNEL

    def __init__(self, sender: TelegramSender, *, max_wait: float = 5.0) -> None:
        self.sender = sender
        self.max_wait = max_wait
        # The outbox sender waits on the same limiter before it marks a message dispatched,
        # so the wait happens before the mark, not in here (see bot/sender.py).
        self.limiter = sender.limiter

    async def deliver(self, recipient: Recipient, payload: dict[str, Any]) -> Delivery:
        reply = Reply(
            str(payload.get("text", "")),
            tuple(Button(str(label), str(data)) for label, data in payload.get("buttons", [])),
        )
        try:
            message = await self.sender.send(
                int(recipient.channel_user_id), reply, max_wait=self.max_wait, attempts=1
            )
        except Deferred as deferred:
            return Delivery(retry_after=deferred.seconds, error=deferred.error)
        except Blocked as blocked:
            return Delivery(permanent=str(blocked)[:200], error=str(blocked))
        except BadRequest as error:  # our message is wrong: retried, then kept as failed
            return Delivery(retry_after=-1, error=f"bad request: {error.message}")
        return Delivery(platform_message_id=str(message.message_id) if message else None)
