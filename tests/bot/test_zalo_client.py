"""The Zalo client's token: refreshed once however many senders and workers find it expired,
and the single-use refresh token is never lost. Over real HTTP against the fake OA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from bot.clock import Clock
from bot.zalo_client import ZaloAuthError, ZaloClient, ZaloTokens
from storage import zalo_tokens
from storage.db import Database
from tests.fakes import FakeZaloOA

USER = "5417089812345678901"


@pytest_asyncio.fixture
async def zalo() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        fake.add_user(USER)
        yield fake


def client_for(db: Database, zalo: FakeZaloOA, clock: Clock | None = None) -> ZaloClient:
    tokens = ZaloTokens(
        db,
        clock or Clock(),
        oa_id=zalo.oa_id,
        app_id=zalo.app_id,
        app_secret=zalo.app_secret,
        oauth_base=zalo.base_url,
    )
    return ZaloClient(tokens, zalo.base_url)


def stored_pair(db: Database, oa_id: str) -> tuple[str, str]:
    with db.transaction() as session:
        row = zalo_tokens.current(session, oa_id)
        assert row is not None
        return row.access_token, row.refresh_token


def refresh_errors(zalo: FakeZaloOA) -> list[int]:
    return [c.error for c in zalo.api_calls if c.path == "/v4/oa/access_token" and c.error]


async def test_an_expired_token_is_refreshed_once_for_two_concurrent_senders(
    db_url: str, zalo: FakeZaloOA
) -> None:
    db = Database(db_url)
    client = client_for(db, zalo)
    assert client.tokens.seed(zalo.access_token, zalo.refresh_token, expires_in=None)
    zalo.expire_access_token()
    try:
        ids = await asyncio.gather(
            client.send_message(USER, {"text": "một"}),
            client.send_message(USER, {"text": "hai"}),
        )
    finally:
        await client.close()
        db.close()
    assert all(ids)
    assert [m.text for m in zalo.sent_to(USER)] in (["một", "hai"], ["hai", "một"])
    assert zalo.refresh_count == 1
    assert refresh_errors(zalo) == []
    assert stored_pair(Database(db_url), zalo.oa_id) == (zalo.access_token, zalo.refresh_token)


async def test_two_workers_sharing_the_database_refresh_once(db_url: str, zalo: FakeZaloOA) -> None:
    """Two engines (two workers): the lock is the database's, not the process's."""
    first_db, second_db = Database(db_url), Database(db_url)
    first, second = client_for(first_db, zalo), client_for(second_db, zalo)
    first.tokens.seed(zalo.access_token, zalo.refresh_token, expires_in=None)
    # Both workers have used the old token, so both hold it in memory.
    await first.send_message(USER, {"text": "trước"})
    await second.send_message(USER, {"text": "trước"})
    zalo.expire_access_token()
    try:
        await asyncio.gather(
            *(c.send_message(USER, {"text": f"sau {n}"}) for n in range(3) for c in (first, second))
        )
    finally:
        await first.close()
        await second.close()
    assert zalo.refresh_count == 1
    assert refresh_errors(zalo) == []  # the used refresh token was never tried again
    assert len(zalo.sent_to(USER)) == 8
    for db in (first_db, second_db):
        assert stored_pair(db, zalo.oa_id) == (zalo.access_token, zalo.refresh_token)
        db.close()


async def test_the_token_is_refreshed_ahead_of_its_expiry(db_url: str, zalo: FakeZaloOA) -> None:
    db = Database(db_url)
    clock = Clock()
    client = client_for(db, zalo, clock)
    client.tokens.seed(zalo.access_token, zalo.refresh_token, expires_in=3600)
    try:
        await client.send_message(USER, {"text": "một"})
        assert zalo.refresh_count == 0
        clock.advance(timedelta(minutes=55))  # 5 minutes left: inside the margin
        await client.send_message(USER, {"text": "hai"})
    finally:
        await client.close()
    assert zalo.refresh_count == 1
    assert [c.error for c in zalo.api_calls if c.path == "/v3.0/oa/message/cs"] == [0, 0]
    assert stored_pair(db, zalo.oa_id) == (zalo.access_token, zalo.refresh_token)
    db.close()


async def test_a_refused_refresh_changes_nothing(db_url: str, zalo: FakeZaloOA) -> None:
    db = Database(db_url)
    client = client_for(db, zalo)
    client.tokens.seed(zalo.access_token, "a-refresh-token-already-used", expires_in=None)
    zalo.expire_access_token()
    try:
        with pytest.raises(ZaloAuthError, match="-14014"):
            await client.send_message(USER, {"text": "một"})
    finally:
        await client.close()
    assert stored_pair(db, zalo.oa_id)[1] == "a-refresh-token-already-used"
    assert zalo.sent_to(USER) == []
    db.close()


async def test_no_stored_token_is_an_auth_error(db_url: str, zalo: FakeZaloOA) -> None:
    db = Database(db_url)
    client = client_for(db, zalo)
    try:
        with pytest.raises(ZaloAuthError, match="set-token"):
            await client.send_message(USER, {"text": "một"})
    finally:
        await client.close()
        db.close()
