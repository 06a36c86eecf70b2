"""The neutral message model: what every channel turns its updates into, and back.

Handlers see only these types; a channel renders buttons the way it can (inline
keyboards, Zalo OA buttons, numbered lines in the console).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Kind = Literal["text", "button", "unsupported"]


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str  # stable and short (Telegram allows 64 bytes of callback data)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    file: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a person did: typed text, pressed a button, or sent something we can't read.

    `kind="unsupported"` covers stickers, photos, locations and the like; `text` then
    names what it was ("sticker", "image", ...).
    """

    channel: str
    user_id: str
    message_id: str
    at: datetime
    kind: Kind = "text"
    text: str = ""
    payload: str = ""
    display_name: str | None = None
    language_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the dispatcher returns to a channel: the replies to send now."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    # A pressed button the bot no longer offers: channels that answer presses (Telegram's
    # answerCallbackQuery) show this text on the press itself.
    stale_notice: str | None = None
