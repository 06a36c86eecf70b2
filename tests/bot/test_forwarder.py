"""The outbound webhook against a real aiohttp receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import App, build
from bot.clock import Clock
from bot.forwarder import DELIVERY_HEADER, SIGNATURE_HEADER, Forwarder, backoff, verify
from bot.settings import Settings
from storage import outbox
from storage.models import OutboxMessage
from tests.chat import Chat
from tests.people import officer, register, staff

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """Answers each POST with the next status of `answers` (then 200), and keeps them."""

    answers: list[int] = field(default_factory=list)
    retry_after: str | None = None
    seen: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.answers.pop(0) if self.answers else 200
        self.seen.append((status, dict(request.headers), body))
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        return web.Response(status=status, text="busy" if status >= 500 else "ok", headers=headers)

    @property
    def accepted(self) -> list[bytes]:
        return [body for status, _, body in self.seen if status == 200]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    server = web.Application()
    server.router.add_post("/hook", state.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}/hook"
    yield state
    await runner.cleanup()


def forwarding_app(db_url: str, clock: Clock, url: str) -> App:
    settings = Settings(database_url=db_url, forward_url=url, forward_secret=SECRET)
    return build(settings, clock=clock)


@pytest.fixture
def hooked(db_url: str, clock: Clock, receiver: Receiver) -> Iterator[App]:
    app = forwarding_app(db_url, clock, receiver.url)
    yield app
    app.close()


async def confirm_one(app: App, village: str = "Bat Trang") -> str:
    gla = await officer(app, f"officer-{village}")
    code = await register(app, f"v-{village}", village)
    await gla.say("/pending")
    await gla.press(code)
    await gla.press("Xác nhận")
    return code


def webhook_rows(app: App) -> list[OutboxMessage]:
    with app.db.transaction() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == outbox.WEBHOOK))
        )


async def test_retried_until_accepted_then_exactly_one_delivery(
    hooked: App, receiver: Receiver
) -> None:
    code = await confirm_one(hooked)
    forwarder = Forwarder(hooked.db, hooked.clock, receiver.url, SECRET)
    receiver.answers = [503, 500]

    assert (await forwarder.run_once()).retrying == 1
    assert (await forwarder.run_once()).total == 0  # not due yet: waits 30 s
    hooked.clock.advance(backoff(1))
    assert (await forwarder.run_once()).retrying == 1
    hooked.clock.advance(backoff(2))
    assert (await forwarder.run_once()).sent == 1
    sent_at = hooked.clock.now()
    hooked.clock.advance(timedelta(hours=2))
    assert (await forwarder.run_once()).total == 0  # sent: never again

    assert [status for status, _, _ in receiver.seen] == [503, 500, 200]
    (accepted,) = receiver.accepted
    delivery_ids = {headers[DELIVERY_HEADER] for _, headers, _ in receiver.seen}
    bodies = {body for _, _, body in receiver.seen}
    assert len(delivery_ids) == 1 and len(bodies) == 1  # the same delivery each time
    (_, headers, _) = receiver.seen[-1]
    assert verify(SECRET, accepted, headers[SIGNATURE_HEADER])
    assert not verify("wrong secret", accepted, headers[SIGNATURE_HEADER])
    document = json.loads(accepted)
    assert document["event"] == "registration.forwarded"
    assert document["registration"]["code"] == code
    assert document["registration"]["status"] == "forwarded"
    assert document["registration"]["unit"]["name"] == "huyện Gia Lâm"

    (row,) = webhook_rows(hooked)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 3, sent_at)


async def test_backoff_doubles_and_is_capped() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [30, 60, 120, 240] and waits[-1] == 3600


async def test_a_rejection_fails_at_once_and_staff_see_it(hooked: App, receiver: Receiver) -> None:
    await confirm_one(hooked)
    receiver.answers = [422]
    forwarder = Forwarder(hooked.db, hooked.clock, receiver.url, SECRET)
    assert (await forwarder.run_once()).failed == 1
    hooked.clock.advance(timedelta(hours=5))
    assert (await forwarder.run_once()).total == 0
    (row,) = webhook_rows(hooked)
    assert row.status == "failed" and row.last_error is not None and "HTTP 422" in row.last_error
    dept = staff(hooked)
    await dept.say("/trangthai")
    assert dept.has("lỗi, đã ngừng thử: 1", "HTTP 422")


async def test_retry_after_is_respected(hooked: App, receiver: Receiver) -> None:
    await confirm_one(hooked)
    receiver.answers, receiver.retry_after = [429], "600"
    forwarder = Forwarder(hooked.db, hooked.clock, receiver.url, SECRET)
    await forwarder.run_once()
    (row,) = webhook_rows(hooked)
    assert row.next_attempt_at == hooked.clock.now() + timedelta(seconds=600)


async def test_an_unreachable_receiver_is_retried_and_shown_to_staff(
    db_url: str, clock: Clock
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    app = forwarding_app(db_url, clock, url)
    try:
        await confirm_one(app)
        forwarder = Forwarder(app.db, app.clock, url, SECRET, timeout=2)
        for _ in range(outbox.MAX_ATTEMPTS - 1):
            assert (await forwarder.run_once()).retrying == 1
            app.clock.advance(timedelta(hours=1))
        assert (await forwarder.run_once()).failed == 1  # gave up after MAX_ATTEMPTS
        dept = staff(app)
        await dept.say("/status")
        assert dept.has("Chuyển sang hệ thống khác: lỗi, đã ngừng thử: 1", "Connect")
    finally:
        app.close()


async def test_nothing_is_queued_without_a_url(app: App) -> None:
    await confirm_one(app)
    assert webhook_rows(app) == []
    dept = Chat(app, "staff-1")
    staff(app)
    await dept.say("/status")
    assert dept.has("chưa cấu hình")
