"""Driving the bot as a Zalo user: the fake OA signs and posts webhooks to a real aiohttp
server on 127.0.0.1 (built like `langnghe-bot serve` builds it), the bot answers through
`message/cs` on the fake, and the test reads what the user's phone would show."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from bot.app import App, build
from bot.channels.zalo import ZaloChannel
from bot.clock import Clock
from bot.server import build_web_app, configured_channels
from bot.settings import Settings
from bot.text import fold
from tests.fakes import FakeZaloOA, ZaloSentMessage


def serve_env(db_url: str, zalo: FakeZaloOA) -> dict[str, str]:
    """The environment of a `langnghe-bot serve` process pointed at the fake OA."""
    return {
        **os.environ,
        "LANGNGHE_DATABASE_URL": db_url,
        "LANGNGHE_TODAY": "2017-05-10",
        "LANGNGHE_ZALO_APP_ID": zalo.app_id,
        "LANGNGHE_ZALO_OA_ID": zalo.oa_id,
        "LANGNGHE_ZALO_OA_SECRET_KEY": zalo.oa_secret_key,
        "LANGNGHE_ZALO_APP_SECRET": zalo.app_secret,
        "LANGNGHE_ZALO_ACCESS_TOKEN": zalo.access_token,
        "LANGNGHE_ZALO_REFRESH_TOKEN": zalo.refresh_token,
        "LANGNGHE_ZALO_API_BASE": zalo.base_url,
        "LANGNGHE_ZALO_OAUTH_BASE": zalo.base_url,
    }


def zalo_settings(db_url: str, zalo: FakeZaloOA, **values: object) -> Settings:
    """Settings as an operator sets them, pointed at the fake instead of Zalo."""
    fields: dict[str, object] = {
        "database_url": db_url,
        "zalo_app_id": zalo.app_id,
        "zalo_oa_id": zalo.oa_id,
        "zalo_oa_secret_key": zalo.oa_secret_key,
        "zalo_app_secret": zalo.app_secret,
        "zalo_access_token": zalo.access_token,
        "zalo_refresh_token": zalo.refresh_token,
        "zalo_api_base": zalo.base_url,
        "zalo_oauth_base": zalo.base_url,
    }
    return Settings(**(fields | values))  # type: ignore[arg-type]


@dataclass
class ZaloBot:
    app: App
    channel: ZaloChannel
    url: str


@asynccontextmanager
async def running_bot(
    db_url: str,
    zalo: FakeZaloOA,
    clock: Clock,
    *,
    poll_seconds: float | None = None,
    **settings: object,
) -> AsyncIterator[ZaloBot]:
    """The bot's web server on a free loopback port, with the fake's webhook set to it."""
    app = build(zalo_settings(db_url, zalo, **settings), clock=clock)
    channels = configured_channels(app)
    channel = next(c for c in channels if isinstance(c, ZaloChannel))
    if poll_seconds is not None:
        channel.poll_seconds = poll_seconds
    runner = web.AppRunner(build_web_app(app, channels))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    zalo.webhook_url = f"http://127.0.0.1:{port}/zalo/webhook"
    try:
        yield ZaloBot(app, channel, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
        app.close()


@dataclass
class ZaloUser:
    """One person chatting with the OA: "user says X, the OA answers Y"."""

    zalo: FakeZaloOA
    bot: ZaloBot
    user_id: str
    turn: list[ZaloSentMessage] = field(default_factory=list)
    _seen: int = 0

    async def _answered(self, status: int) -> list[ZaloSentMessage]:
        assert status == 200
        return await self.wait()

    async def wait(self) -> list[ZaloSentMessage]:
        """What the OA sent since the last turn, once the bot has nothing left to do."""
        await self.bot.channel.wait_idle()
        sent = self.zalo.sent_to(self.user_id)
        self.turn, self._seen = sent[self._seen :], len(sent)
        return self.turn

    async def say(self, text: str) -> list[ZaloSentMessage]:
        return await self._answered(await self.zalo.send_text(self.user_id, text))

    async def tap(self, label: str) -> list[ZaloSentMessage]:
        """Tap the button of the last answer whose title contains `label` (folded)."""
        for message in self.turn:
            for button in message.buttons:
                if fold(label) in fold(button.title):
                    return await self._answered(
                        await self.zalo.tap_button(self.user_id, str(button.payload))
                    )
        raise AssertionError(f"no button {label!r} in {self.buttons}")

    async def tap_payload(self, payload: str) -> list[ZaloSentMessage]:
        """Tap a button of any earlier message (Zalo keeps old buttons tappable)."""
        return await self._answered(await self.zalo.tap_button(self.user_id, payload))

    async def sticker(self) -> list[ZaloSentMessage]:
        return await self._answered(await self.zalo.send_sticker(self.user_id))

    async def image(self) -> list[ZaloSentMessage]:
        return await self._answered(await self.zalo.send_image(self.user_id))

    async def location(self) -> list[ZaloSentMessage]:
        return await self._answered(await self.zalo.send_location(self.user_id))

    @property
    def text(self) -> str:
        return "\n".join(message.text or "" for message in self.turn)

    @property
    def buttons(self) -> list[str]:
        return [title for message in self.turn for title in message.button_titles]

    def has(self, *fragments: str) -> bool:
        folded = fold(self.text)
        return all(fold(fragment) in folded for fragment in fragments)
