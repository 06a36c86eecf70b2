"""Telegram by webhook, on the shared aiohttp server (`langnghe-bot serve`).

Route `/telegram/webhook`. At start the webhook is registered with a secret token when
LANGNGHE_TELEGRAM_WEBHOOK_URL is set; every delivery without that secret in the
`X-Telegram-Bot-Api-Secret-Token` header is refused with 401. An update is answered 200
once it is handled and committed (its replies are then sent in the background), so a
delivery Telegram repeats is a duplicate the dispatcher ignores.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from bot.app import App
from bot.channels.telegram import ALLOWED_UPDATES, Telegram
from bot.sender import OutboxSender

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramChannel:
    """bot.server.WebChannel for Telegram."""

    name = "telegram"

    def __init__(self, app: App, telegram: Telegram | None = None) -> None:
        secret = app.settings.telegram_webhook_secret.get_secret_value()
        if not secret:
            raise ValueError(
                "set LANGNGHE_TELEGRAM_WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -): "
                "webhook deliveries without it are refused"
            )
        self.secret = secret.encode()
        self.webhook_url = app.settings.telegram_webhook_url
        self.telegram = telegram or Telegram.from_settings(app)

    def setup(self, web_app: web.Application) -> None:
        web_app.router.add_post(PATH, self.webhook)
        web_app.on_startup.append(self._start)
        web_app.on_cleanup.append(self._stop)

    def sender(self) -> OutboxSender | None:
        return self.telegram.outbox_sender()

    async def _start(self, _: web.Application) -> None:
        await self.telegram.start()
        if self.webhook_url:
            await self.telegram.bot.set_webhook(
                self.webhook_url,
                secret_token=self.secret.decode(),
                allowed_updates=ALLOWED_UPDATES,
            )
            log.warning("telegram: webhook set to %s", self.webhook_url)
        else:
            log.warning("telegram: LANGNGHE_TELEGRAM_WEBHOOK_URL is not set; webhook unchanged")

    async def _stop(self, _: web.Application) -> None:
        await self.telegram.stop()

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("telegram: webhook delivery with a wrong secret from %s", request.remote)
            return web.Response(status=401, text="wrong secret token")
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        await self.telegram.process_json(data)
        return web.Response(text="ok")
