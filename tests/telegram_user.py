"""A person on the Telegram test server: types, taps inline buttons, reads the bot's answer.

`settle` says when the bot has finished its answer: in-process tests wait until the test
server has handed over the update and the bot has sent everything; without it (the bot
in another process) the answer ends with the first message that carries buttons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.text import fold
from tests.fakes._telegram_records import BotMessage, InlineButton
from tests.fakes.telegram_api import FakeTelegram

Settle = Callable[[], Awaitable[None]]


@dataclass
class TelegramUser:
    fake: FakeTelegram
    user_id: int
    settle: Settle | None = None
    language_code: str = "vi"
    messages: list[BotMessage] = field(default_factory=list)  # the bot's last answer
    edits: list[BotMessage] = field(default_factory=list)  # messages it changed meanwhile
    last_update: dict[str, Any] = field(default_factory=dict)
    _seen: int = 0

    async def say(self, text: str) -> list[BotMessage]:
        """The user types `text`."""
        self.last_update = self.fake.send_text(self.user_id, text, language_code=self.language_code)
        return await self.answer()

    async def press(self, label: str) -> list[BotMessage]:
        """The user taps the button `label` (exact, else contained, accents optional)
        in the bot's last answer."""
        for message in reversed(self.messages):
            button = find_button(message, label)
            if button is not None:
                return await self.press_on(message, button.text)
        raise AssertionError(f"no button {label!r} in {self.buttons}")

    async def press_on(self, message: BotMessage, label: str) -> list[BotMessage]:
        """The user taps a button of any message still showing it (an old one too)."""
        button = find_button(message, label)
        assert button is not None and button.callback_data is not None, label
        self.last_update = self.fake.press_button(
            self.user_id, message.message_id, button.callback_data
        )
        return await self.answer()

    async def sticker(self) -> list[BotMessage]:
        self.last_update = self.fake.send_sticker(self.user_id)
        return await self.answer()

    async def answer(self) -> list[BotMessage]:
        """What the bot sent (and edited) since the user's last action."""
        if self.settle is not None:
            await self.settle()
            new = self.fake.messages_to(self.user_id)[self._seen :]
            self._seen += len(new)
        else:
            new = []
            while not (new and new[-1].kind == "send" and new[-1].keyboard):
                new.append(await self.fake.wait_for_message(self.user_id, timeout=15))
        self.messages = [m for m in new if m.kind == "send"]
        self.edits = [m for m in new if m.kind == "edit"]
        return self.messages

    @property
    def query_id(self) -> str:
        return str(self.last_update["callback_query"]["id"])

    @property
    def text(self) -> str:
        return "\n".join(m.text or m.caption or "" for m in self.messages)

    @property
    def buttons(self) -> list[str]:
        return [b.text for m in self.messages for b in m.buttons]

    def has(self, *fragments: str) -> bool:
        folded = fold(self.text)
        return all(fold(fragment) in folded for fragment in fragments)

    def keyboard_of(self, message: BotMessage) -> list[list[dict[str, Any]]]:
        """The inline keyboard a message shows now ([] once removed)."""
        current = self.fake.current_message(self.user_id, message.message_id) or {}
        return list((current.get("reply_markup") or {}).get("inline_keyboard", []))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (briefly polling) until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not so after {timeout}s")
        await asyncio.sleep(0.01)


def find_button(message: BotMessage, label: str) -> InlineButton | None:
    exact = [b for b in message.buttons if b.text == label]
    near = [b for b in message.buttons if fold(label) in fold(b.text)]
    matches = exact or near
    return matches[0] if matches else None
