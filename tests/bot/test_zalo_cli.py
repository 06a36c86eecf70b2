"""The operator's side of Zalo: `zalo set-token`, `zalo token`, and `langnghe-bot serve`
with OA credentials running a conversation over the fake OA."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from storage import zalo_tokens
from storage.db import Database
from tests.fakes import FakeZaloOA
from tests.zalo import serve_env

USER = "5417089812345678901"
OA = "1234567890123456789"


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ, "LANGNGHE_ZALO_OA_ID": OA, **(env or {})},
    )


def test_set_token_stores_the_pair_and_never_prints_it(db_url: str) -> None:
    result = cli("zalo", "set-token", "--db", db_url, "--access-token", "acc-SECRET-1",
                 "--refresh-token", "ref-SECRET-1", "--expires-in", "3600")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "SECRET" not in result.stdout + result.stderr
    db = Database(db_url)
    with db.transaction() as session:
        row = zalo_tokens.current(session, OA)
        assert row is not None
        assert (row.access_token, row.refresh_token) == ("acc-SECRET-1", "ref-SECRET-1")
    db.close()
    status = cli("zalo", "token", "--db", db_url)
    assert status.returncode == 0 and "valid until" in status.stdout
    assert "SECRET" not in status.stdout


def test_set_token_replaces_an_old_pair(sqlite_url: str) -> None:
    cli("zalo", "set-token", "--db", sqlite_url, "--access-token", "a1", "--refresh-token", "r1")
    cli("zalo", "set-token", "--db", sqlite_url, "--access-token", "a2", "--refresh-token", "r2")
    db = Database(sqlite_url)
    with db.transaction() as session:
        row = zalo_tokens.current(session, OA)
        assert row is not None and (row.access_token, row.refresh_token) == ("a2", "r2")
    db.close()


def test_token_status_without_a_pair_says_what_to_do(sqlite_url: str) -> None:
    result = cli("zalo", "token", "--db", sqlite_url)
    assert result.returncode == 1
    assert "set-token" in result.stdout


def test_set_token_needs_the_oa_id(sqlite_url: str) -> None:
    result = cli("zalo", "set-token", "--db", sqlite_url, "--access-token", "a",
                 "--refresh-token", "r", env={"LANGNGHE_ZALO_OA_ID": ""})  # fmt: skip
    assert result.returncode == 2
    assert "LANGNGHE_ZALO_OA_ID" in result.stderr


# --- `langnghe-bot serve` with an OA configured ------------------------------------------------


THE_REST_OF_THE_FORM = [
    "1", "1",  # consent, follow-up messages
    "Bat Trang", "xa Bat Trang", "Gia Lam", "gom su", "5427/QĐ-UBND", "15/03/2010",
    "2", "HTX Gom su Bat Trang", "1", "Nguyen Van An", "Chu nhiem", "0912 345 678",
    "Bo qua", "4", "2015 2016", "1",  # skip the email, all items, years, submit
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def zalo() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        yield fake


async def test_serve_runs_a_whole_registration_over_zalo(db_url: str, zalo: FakeZaloOA) -> None:
    port = free_port()
    env = serve_env(db_url, zalo)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):  # until it listens (migrations run first)
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        zalo.webhook_url = f"http://127.0.0.1:{port}/zalo/webhook"
        assert await zalo.post_unsigned() == 200
        assert await zalo.send_text(USER, "/start") == 200
        await zalo.wait_for_message(USER, timeout=20)
        menu = await zalo.wait_for_message(USER, timeout=20)
        assert "menu:register" in menu.query_payloads
        assert await zalo.tap_button(USER, "menu:register") == 200
        consent = await zalo.wait_for_message(USER, timeout=20)
        assert "91/2025/QH15" in (consent.text or "")
        assert consent.query_payloads == ["reg:consent:yes", "reg:consent:no"]
        # The rest of the form, typed (numbers pick buttons); the bot takes one user's
        # messages in order, so each needs only the first answer to the one before.
        for line in THE_REST_OF_THE_FORM:
            assert await zalo.send_text(USER, line) == 200
            await zalo.wait_for_message(USER, timeout=20)
        for _ in range(200):  # until the last answer has been sent
            if any("HN2017-GLA-0001" in (m.text or "") for m in zalo.sent_to(USER)):
                break
            await asyncio.sleep(0.05)
        assert any("HN2017-GLA-0001" in (m.text or "") for m in zalo.sent_to(USER))
        for message in zalo.sent_to(USER):
            assert len(message.text or "") <= 2000 and len(message.buttons) <= 5
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(server.communicate(), 30)
    assert server.returncode == 0, stderr.decode()
    assert "channels: zalo" in stderr.decode()
    for secret in (zalo.oa_secret_key, zalo.app_secret, zalo.refresh_token):
        assert secret not in stderr.decode()
