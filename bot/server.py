"""The one web server: Zalo and Telegram webhooks, health check, room for the back office.

Each web channel adds its routes and, if it has one, its outbox sender; `serve` runs the
server and every sender until it is stopped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from datetime import timedelta
from typing import Protocol

from aiohttp import web

from bot.app import App
from bot.scheduler import for_app
from bot.sender import OutboxSender
from storage import outbox

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("app", App)


class WebChannel(Protocol):
    name: str

    def setup(self, web_app: web.Application) -> None:
        """Add the channel's routes (and start/stop hooks) to the web application."""

    def sender(self) -> OutboxSender | None:
        """The outbox sender for this channel, if it sends."""


def configured_channels(app: App) -> list[WebChannel]:
    """The web channels whose credentials are set (Zalo OA, Telegram webhook)."""
    channels: list[WebChannel] = []
    from bot.channels.zalo import zalo_channel

    zalo = zalo_channel(app)
    if zalo is not None:
        channels.append(zalo)
    if app.settings.telegram_token.get_secret_value():
        from bot.channels.telegram_web import TelegramChannel

        channels.append(TelegramChannel(app))
    return channels


def build_web_app(app: App, channels: list[WebChannel]) -> web.Application:
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    for channel in channels:
        channel.setup(web_app)
    return web_app


async def healthz(request: web.Request) -> web.Response:
    """Database reachable and the outbox backlog; 503 when the database is not."""
    app = request.app[APP_KEY]

    def check() -> dict[str, object]:
        with app.db.transaction() as session:
            return {"database": "ok", "outbox": outbox.backlog(session)}

    try:
        body = await asyncio.to_thread(check)
    except Exception as error:
        log.warning("health check failed: %r", error)
        return web.json_response({"database": "unreachable"}, status=503)
    return web.json_response(body)


async def serve(app: App, channels: list[WebChannel], host: str, port: int) -> None:
    """Run the web server, the outbox senders and the scheduler until SIGINT/SIGTERM."""
    web_app = build_web_app(app, channels)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.warning("listening on http://%s:%s (channels: %s)", host, port,
                ", ".join(c.name for c in channels) or "none")  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler = for_app(app)
    senders = [s for s in (c.sender() for c in channels) if s is not None]
    for sender in senders:
        sender.quiet = sender.quiet or scheduler.quiet  # no reminder in quiet hours
        sender.lease = timedelta(seconds=app.settings.outbox_lease_seconds)
    tasks = [asyncio.create_task(s.run_forever(stop)) for s in senders]
    tasks.append(asyncio.create_task(scheduler.run_forever(stop)))
    # What start-up loaded (libraries, the plan, the catalogs) lives as long as the process:
    # take it out of the garbage collector's full passes, which otherwise pause the loop for
    # ~70 ms now and then — long enough to bunch messages past a platform's rate limit.
    gc.freeze()
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
