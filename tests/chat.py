"""A chat driver for conversation tests: "user says X, bot answers Y"."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.app import App
from bot.events import Incoming, Reply
from bot.text import fold

_ids = itertools.count(1)


@dataclass
class Chat:
    app: App
    user_id: str
    channel: str = "console"
    language: str | None = None
    replies: list[Reply] = field(default_factory=list)

    async def send(self, event: Incoming) -> list[Reply]:
        outcome = await self.app.dispatcher.handle(event)
        self.replies = list(outcome.replies)
        return self.replies

    def event(self, **values: object) -> Incoming:
        base: dict[str, object] = {
            "channel": self.channel,
            "user_id": self.user_id,
            "message_id": f"m{next(_ids)}",
            "at": self.app.clock.now(),
            "language_hint": self.language,
        }
        return Incoming(**(base | values))  # type: ignore[arg-type]

    async def say(self, text: str) -> list[Reply]:
        """The user types `text`."""
        return await self.send(self.event(text=text))

    async def press(self, label: str) -> list[Reply]:
        """The user taps the button whose label contains `label` (folded)."""
        for reply in self.replies:
            for button in reply.buttons:
                if fold(label) in fold(button.label):
                    return await self.send(self.event(kind="button", payload=button.payload))
        raise AssertionError(f"no button {label!r} in {self.buttons}")

    async def sticker(self) -> list[Reply]:
        return await self.send(self.event(kind="unsupported", text="sticker"))

    @property
    def text(self) -> str:
        """Everything the bot said in its last turn."""
        return "\n".join(reply.text for reply in self.replies)

    @property
    def buttons(self) -> list[str]:
        return [button.label for reply in self.replies for button in reply.buttons]

    def has(self, *fragments: str) -> bool:
        folded = fold(self.text)
        return all(fold(fragment) in folded for fragment in fragments)
