"""What the fake Zalo OA remembers, in shapes handy for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True)
class ZaloButton:
    title: str
    type: str
    payload: Any  # a string for oa.query.*, an object for oa.open.*


@dataclass(frozen=True)
class ZaloSentMessage:
    """One message the OA sent through the API."""

    kind: Literal["cs", "promotion"]
    message_id: str
    user_id: str
    text: str | None
    buttons: tuple[ZaloButton, ...]
    file_token: str | None
    sent_at: datetime
    body: dict[str, Any] = field(repr=False)  # the request body as the bot sent it

    @property
    def button_titles(self) -> list[str]:
        return [button.title for button in self.buttons]

    @property
    def query_payloads(self) -> list[str]:
        return [b.payload for b in self.buttons if b.type in ("oa.query.show", "oa.query.hide")]


@dataclass(frozen=True)
class ZaloApiCall:
    path: str
    access_token: str | None
    body: Any
    error: int  # 0 on success, as in Zalo's answers


@dataclass(frozen=True)
class WebhookPost:
    """One POST the fake made to the bot's webhook, with the exact bytes sent."""

    event_name: str | None
    body: bytes
    headers: dict[str, str]
    status: int
    elapsed: float


@dataclass(frozen=True)
class UploadedFile:
    token: str
    filename: str | None
    data: bytes = field(repr=False)
