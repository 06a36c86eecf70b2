"""FakeZaloOA behaves like the Zalo OA API described in /work/shared/platforms/zalo-oa.md."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from ._server import LoopbackServer
from .zalo_oa import VN_TZ, FakeZaloOA, zalo_signature

pytestmark = pytest.mark.asyncio

USER = "5417089812345678901"


class SignedWebhook:
    """A minimal bot webhook: verifies the signature over the raw bytes, records events."""

    def __init__(self, app_id: str, oa_secret_key: str) -> None:
        self.app_id = app_id
        self.secret = oa_secret_key
        self.events: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []
        app = web.Application()
        app.router.add_post("/zalo", self._handle)
        self.server = LoopbackServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append((body, dict(request.headers)))
        header = request.headers.get("X-ZEvent-Signature")
        if header is None and body.strip() == b"{}":
            return web.Response(text="ok")  # Zalo's unsigned check when registering the URL
        event = json.loads(body)
        timestamp = str(event.get("timestamp", ""))
        expected = "mac=" + zalo_signature(self.app_id, body, timestamp, self.secret)
        if header != expected:
            return web.Response(status=401)
        self.events.append(event)
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def zalo() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        yield fake


@pytest_asyncio.fixture
async def webhook(zalo: FakeZaloOA) -> AsyncIterator[SignedWebhook]:
    receiver = SignedWebhook(zalo.app_id, zalo.oa_secret_key)
    await receiver.server.start()
    zalo.webhook_url = f"{receiver.server.url}/zalo"
    yield receiver
    await receiver.server.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    zalo: FakeZaloOA,
    path: str,
    body: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"access_token": token or zalo.access_token}
    async with http.post(f"{zalo.base_url}{path}", json=body, headers=headers) as response:
        assert response.status == 200  # Zalo answers errors with HTTP 200 too
        result: dict[str, Any] = await response.json()
        return result


def cs(user_id: str, text: str, buttons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"text": text}
    if buttons is not None:
        message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
    return {"recipient": {"user_id": user_id}, "message": message}


def query_button(title: str, payload: str) -> dict[str, Any]:
    return {"title": title, "type": "oa.query.show", "payload": payload}


# ------------------------------------------------------------------ webhook side


async def test_events_are_signed_over_the_raw_body(
    zalo: FakeZaloOA, webhook: SignedWebhook
) -> None:
    assert await zalo.send_text(USER, "Xin chào, làng gốm ở đâu?") == 200
    [(body, headers)] = webhook.raw
    event = json.loads(body)
    assert event["event_name"] == "user_send_text"
    assert event["sender"] == {"id": USER}
    assert event["recipient"] == {"id": zalo.oa_id}
    assert event["app_id"] == zalo.app_id and event["user_id_by_app"]
    assert event["message"]["text"] == "Xin chào, làng gốm ở đâu?" and event["message"]["msg_id"]
    assert isinstance(event["timestamp"], str) and event["timestamp"].isdigit()
    assert len(event["timestamp"]) == 13  # milliseconds

    plain = hashlib.sha256(
        (zalo.app_id + body.decode() + event["timestamp"] + zalo.oa_secret_key).encode()
    ).hexdigest()
    assert headers["X-ZEvent-Signature"] == f"mac={plain}"
    # The signature is over the bytes as sent: re-serialised JSON does not verify.
    reserialised = json.dumps(event).encode()
    timestamp = event["timestamp"]
    assert zalo_signature(zalo.app_id, reserialised, timestamp, zalo.oa_secret_key) != plain
    assert webhook.events == [event]


async def test_forged_unsigned_and_redelivered_posts(
    zalo: FakeZaloOA, webhook: SignedWebhook
) -> None:
    assert await zalo.post_unsigned() == 200  # the URL-registration check
    assert await zalo.post_unsigned({"event_name": "user_send_text"}) == 401
    assert await zalo.post_forged() == 401
    assert webhook.events == []

    await zalo.send_text(USER, "một lần")
    assert await zalo.redeliver_last() == 200
    (first, first_headers), (again, again_headers) = webhook.raw[-2:]
    assert first == again
    assert again_headers["X-ZEvent-Signature"] == first_headers["X-ZEvent-Signature"]
    assert again_headers["num_retry"] == "1"
    assert webhook.events[0]["message"]["msg_id"] == webhook.events[1]["message"]["msg_id"]


async def test_other_user_events(zalo: FakeZaloOA, webhook: SignedWebhook) -> None:
    await zalo.follow(USER)
    await zalo.send_sticker(USER)
    await zalo.send_image(USER)
    await zalo.send_location(USER, latitude=21.0285, longitude=105.8542)
    await zalo.oa_send_text(USER, "tin của OA")
    await zalo.unfollow(USER)
    names = [e["event_name"] for e in webhook.events]
    assert names == [
        "follow",
        "user_send_sticker",
        "user_send_image",
        "user_send_location",
        "oa_send_text",
        "unfollow",
    ]
    follow = webhook.events[0]
    assert follow["follower"] == {"id": USER} and follow["oa_id"] == zalo.oa_id
    assert "sender" not in follow
    location = webhook.events[3]["message"]["attachments"][0]
    assert location["payload"]["coordinates"] == {"latitude": "21.0285", "longitude": "105.8542"}
    echo = webhook.events[4]
    assert echo["sender"] == {"id": zalo.oa_id} and echo["recipient"] == {"id": USER}
    assert not zalo.is_follower(USER)


# ------------------------------------------------------------------ sending


async def test_send_text_and_receipts(
    zalo: FakeZaloOA, webhook: SignedWebhook, http: aiohttp.ClientSession
) -> None:
    await zalo.send_text(USER, "chào")
    reply = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "Chào bạn!"))
    assert reply["error"] == 0 and reply["message"] == "Success"
    assert reply["data"]["user_id"] == USER and reply["data"]["message_id"]
    assert reply["data"]["quota"]["remain"] == 7
    sent = await zalo.wait_for_message(USER, timeout=1)
    assert sent.text == "Chào bạn!" and sent.message_id == reply["data"]["message_id"]

    await zalo.user_received_message(USER)
    await zalo.user_seen_message(USER)
    received, seen = webhook.events[-2:]
    assert received["event_name"] == "user_received_message"
    assert received["message"]["msg_id"] == sent.message_id
    assert seen["message"]["msg_ids"] == [sent.message_id]

    quota = await call(http, zalo, "/v3.0/oa/quota/message", {"user_id": USER})
    assert quota["error"] == 0 and quota["data"]["remain"] == 7


async def test_text_is_limited_to_2000_characters(
    zalo: FakeZaloOA, http: aiohttp.ClientSession
) -> None:
    zalo.add_user(USER)
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "ạ" * 2000)))["error"] == 0
    too_long = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "ạ" * 2001))
    assert too_long["error"] == -201
    assert len(zalo.sent_to(USER)) == 1


async def test_buttons_at_most_five_and_validated(
    zalo: FakeZaloOA, webhook: SignedWebhook, http: aiohttp.ClientSession
) -> None:
    await zalo.send_text(USER, "menu")
    five = [query_button(f"Làng {n}", f"#village {n}") for n in range(5)]
    ok = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "Chọn làng:", five))
    assert ok["error"] == 0
    six = [*five, query_button("Thêm", "#more")]
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x", six)))["error"] == -201
    bad = [
        query_button("T" * 101, "p"),
        query_button("Tiêu đề", "p" * 1001),
        {"title": "Web", "type": "oa.open.web", "payload": "https://x.vn"},
        {"title": "Web", "type": "oa.open.url", "payload": {"url": "not a url"}},
    ]
    for button in bad:
        answer = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x", [button]))
        assert answer["error"] == -201, button
    url_button = {"title": "Bản đồ", "type": "oa.open.url", "payload": {"url": "https://x.vn"}}
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x", [url_button])))[
        "error"
    ] == 0

    sent = zalo.sent_to(USER)[0]
    assert sent.button_titles == [f"Làng {n}" for n in range(5)]
    # A tap on a query button arrives as the user's text message with the payload.
    assert await zalo.tap_button(USER, "#village 3") == 200
    assert webhook.events[-1]["event_name"] == "user_send_text"
    assert webhook.events[-1]["message"]["text"] == "#village 3"
    with pytest.raises(ValueError):
        await zalo.tap_button(USER, "#never-sent")


# ------------------------------------------------------------------ tokens


async def refresh(
    http: aiohttp.ClientSession, zalo: FakeZaloOA, token: str, secret: str | None = None
) -> dict[str, Any]:
    form = {"app_id": zalo.app_id, "grant_type": "refresh_token", "refresh_token": token}
    headers = {"secret_key": secret or zalo.app_secret}
    async with http.post(
        f"{zalo.base_url}/v4/oa/access_token", data=form, headers=headers
    ) as response:
        result: dict[str, Any] = await response.json()
        return result


async def test_refresh_tokens_work_once(zalo: FakeZaloOA, http: aiohttp.ClientSession) -> None:
    first_refresh = zalo.refresh_token
    fresh = await refresh(http, zalo, first_refresh)
    assert set(fresh) == {"access_token", "refresh_token", "expires_in"}
    assert fresh["expires_in"] == "90000"  # a string, as Zalo sends it
    assert fresh["access_token"] == zalo.access_token
    assert fresh["refresh_token"] == zalo.refresh_token != first_refresh

    reused = await refresh(http, zalo, first_refresh)
    assert reused["error"] == -14014 and reused["error_name"] == "Invalid refresh token"
    assert "access_token" not in reused
    wrong_secret = await refresh(http, zalo, fresh["refresh_token"], secret="nope")
    assert wrong_secret["error"] != 0
    assert (await refresh(http, zalo, fresh["refresh_token"]))["expires_in"] == "90000"
    assert zalo.refresh_count == 2


async def test_expired_and_invalid_access_tokens(
    zalo: FakeZaloOA, http: aiohttp.ClientSession
) -> None:
    zalo.add_user(USER)
    wrong = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x"), token="bogus")
    assert wrong["error"] == -216
    zalo.expire_access_token()
    expired = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x"))
    assert expired["error"] == -220
    fresh = await refresh(http, zalo, zalo.refresh_token)
    ok = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x"), fresh["access_token"])
    assert ok["error"] == 0

    zalo.advance(timedelta(seconds=90001))  # tokens also expire with time
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "x")))["error"] == -220


# ------------------------------------------------------------------ windows, limits, faults


async def test_seven_day_window_gives_230(zalo: FakeZaloOA, http: aiohttp.ClientSession) -> None:
    never = await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "chào"))
    assert never["error"] == -230
    zalo.add_user(USER)  # interacted just now
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "chào")))["error"] == 0
    zalo.set_inactive(USER)
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "chào")))["error"] == -230
    zalo.set_active(USER)
    zalo.set_last_interaction(USER, zalo.now() - timedelta(days=8))
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "chào")))["error"] == -230


async def test_rate_limit_gives_32() -> None:
    async with FakeZaloOA(rate_limit_per_second=3) as zalo, aiohttp.ClientSession() as http:
        zalo.add_user(USER)
        results = [
            (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, f"tin {n}")))["error"]
            for n in range(4)
        ]
        assert results == [0, 0, 0, -32]
        assert zalo.rate_limited_count == 1


async def test_fail_next_injects_errors(zalo: FakeZaloOA, http: aiohttp.ClientSession) -> None:
    zalo.add_user(USER)
    zalo.add_user("other")
    zalo.fail_next(-32)
    zalo.fail_next(-216, user_id="other")
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "a")))["error"] == -32
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs(USER, "b")))["error"] == 0
    assert (await call(http, zalo, "/v3.0/oa/message/cs", cs("other", "c")))["error"] == -216
    assert [m.text for m in zalo.sent_to(USER)] == ["b"]


async def test_promotions_followers_hours_and_once_a_day(
    zalo: FakeZaloOA, http: aiohttp.ClientSession
) -> None:
    promo = {
        "recipient": {"user_id": USER},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "promotion",
                    "elements": [{"type": "header", "content": "Hội chợ"}],
                },
            }
        },
    }
    zalo.set_time(datetime(2025, 3, 8, 22, 30, tzinfo=VN_TZ))
    assert (await call(http, zalo, "/v3.0/oa/message/promotion", promo))["error"] == -213
    zalo.add_user(USER, follower=True, interacted=False)
    assert (await call(http, zalo, "/v3.0/oa/message/promotion", promo))["error"] == -234
    zalo.set_time(datetime(2025, 3, 9, 6, 0))  # naive = Vietnam time
    assert (await call(http, zalo, "/v3.0/oa/message/promotion", promo))["error"] == 0
    assert (await call(http, zalo, "/v3.0/oa/message/promotion", promo))["error"] != 0
    zalo.advance(timedelta(days=1))
    assert (await call(http, zalo, "/v3.0/oa/message/promotion", promo))["error"] == 0
    assert [m.kind for m in zalo.sent_to(USER)] == ["promotion", "promotion"]


async def test_upload_then_send_file(zalo: FakeZaloOA, http: aiohttp.ClientSession) -> None:
    zalo.add_user(USER)
    form = aiohttp.FormData()
    form.add_field(
        "file", b"%PDF-1.4 fake", filename="danh-sach.pdf", content_type="application/pdf"
    )
    async with http.post(
        f"{zalo.base_url}/v2.0/oa/upload/file",
        data=form,
        headers={"access_token": zalo.access_token},
    ) as response:
        uploaded = await response.json()
    assert uploaded["error"] == 0
    token = uploaded["data"]["token"]
    assert zalo.uploads[token].data == b"%PDF-1.4 fake"
    body = {
        "recipient": {"user_id": USER},
        "message": {"attachment": {"type": "file", "payload": {"token": token}}},
    }
    assert (await call(http, zalo, "/v3.0/oa/message/cs", body))["error"] == 0
    assert zalo.sent_to(USER)[0].file_token == token


async def test_slow_webhook_is_reported_and_timestamp_header_is_optional() -> None:
    seen: list[dict[str, str]] = []

    async def slow(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if len(seen) == 1:
            await asyncio.sleep(0.6)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/zalo", slow)
    receiver = LoopbackServer(app)
    await receiver.start()
    try:
        async with FakeZaloOA(ack_timeout=0.2, timestamp_header=True) as zalo:
            zalo.webhook_url = f"{receiver.url}/zalo"
            with pytest.raises(TimeoutError, match="2 s"):
                await zalo.send_text(USER, "chậm")
            assert await zalo.redeliver_last() == 200
            body, _ = zalo.last_event
            assert seen[-1]["X-ZEvent-Timestamp"] == json.loads(body)["timestamp"]
            assert zalo.webhook_posts[-1].status == 200
    finally:
        await receiver.close()
