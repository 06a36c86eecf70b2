"""What the fake Telegram remembers about the bot's calls, in shapes handy for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class InlineButton:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class SentDocument:
    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class BotMessage:
    """A snapshot of one bot message right after a send or an edit.

    Edits are recorded as new snapshots (``kind == "edit"``) so a test sees the whole story
    of a message, not only its final state.
    """

    kind: Literal["send", "edit"]
    method: str
    chat_id: int
    message_id: int
    date: int
    text: str | None  # as Telegram stores it: markup parsed away
    raw_text: str | None  # as the bot sent it
    parse_mode: str | None
    entities: tuple[dict[str, Any], ...]
    keyboard: tuple[tuple[InlineButton, ...], ...]
    reply_keyboard: tuple[tuple[str, ...], ...] | None
    document: SentDocument | None
    caption: str | None
    edit_date: int | None
    payload: dict[str, Any] = field(repr=False)  # the Message object returned to the bot

    @property
    def buttons(self) -> list[InlineButton]:
        return [button for row in self.keyboard for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b.callback_data for b in self.buttons if b.callback_data is not None]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for button in self.buttons]

    def button(self, text: str) -> InlineButton:
        for button in self.buttons:
            if button.text == text:
                return button
        raise LookupError(f"no button {text!r}; buttons are {self.button_texts}")


@dataclass(frozen=True)
class CallbackAnswer:
    callback_query_id: str
    user_id: int
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as the fake received and answered it."""

    method: str
    params: dict[str, Any]
    status: int
    description: str | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    update_id: int
    url: str
    status: int | None  # None when the request itself failed
    error: str | None
    secret_token: str | None
