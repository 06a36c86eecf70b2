"""The web server's health check, over real HTTP on loopback."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.app import App
from bot.server import build_web_app
from tests.bot.test_sender import queue


async def test_healthz_reports_database_and_outbox(app: App) -> None:
    queue(app, "waiting")
    runner = web.AppRunner(build_web_app(app, []))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
            assert await response.json() == {"database": "ok", "outbox": {"pending": 1}}
    finally:
        await runner.cleanup()
