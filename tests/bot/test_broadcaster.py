"""Broadcasts through the real channel transports, against the platforms' test servers:
who blocked the bot fails with the platform's reason, who was already unreachable is not
tried, the others get their own text once, by the route the preview announced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot import broadcaster
from bot.app import App
from bot.audience import Audience, select_audience
from bot.channels.telegram import make_bot
from bot.channels.telegram_send import TelegramSender, TelegramTransport, telegram_limiter
from bot.channels.zalo import ZaloTransport
from bot.clock import Clock
from bot.reminders import load_rules
from bot.scheduler import for_app
from bot.sender import OutboxSender
from bot.zalo_client import ZaloClient, ZaloTokens
from storage.models import User
from tests.fakes import FakeZaloOA
from tests.fakes.telegram_api import FakeTelegram
from tests.season import person, register, rows


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_blocked_and_unreachable_are_reported_with_their_reasons(
    app: App, fake: FakeTelegram
) -> None:
    chats = {"an": 11, "binh": 12, "cuong": 13, "dung": 14}
    for name, chat in chats.items():
        fake.add_user(chat)
        user_id = person(app, str(chat), channel="telegram", name=name, reachable=name != "dung")
        register(app, user_id, "GLA", f"Làng {name}")
    fake.block_user(chats["binh"], notify=False)  # blocked the bot; we don't know it yet
    staff = person(app, "staff", role="staff")
    with app.db.transaction() as session:
        creator = session.get(User, staff)
        assert creator is not None
        plan, zalo, now = app.plan, load_rules(app.plan).zalo, app.clock.now()
        chosen = select_audience(session, plan, Audience("all"), zalo, now)
        text = "Kính gửi {village} ({code})"
        broadcaster.create(session, creator, text, Audience("all"), chosen, now)
    scheduler = for_app(app)
    scheduler.tick()
    bot = make_bot(fake.token, fake.base_url)
    await bot.initialize()
    transport = TelegramTransport(TelegramSender(bot, telegram_limiter()))
    sender = OutboxSender(app.db, app.clock, transport)
    while await sender.run_once():
        pass
    await bot.shutdown()
    scheduler.tick()
    assert [m.text for m in fake.messages_to(chats["an"])] == ["Kính gửi Làng an (HN2017-GLA-0001)"]
    assert fake.messages_to(chats["binh"]) == []
    assert [len(fake.messages_to(chats[n])) for n in ("cuong", "dung")] == [1, 0]
    report = rows(app, dedupe_key="bc:1:report")[0].payload["text"].splitlines()
    assert report[1:] == [
        "• Đã gửi tới: 2",
        "• Gửi không thành công: 1",
        "   – Forbidden: bot was blocked by the user: 1",
        "• Không liên lạc được: 1",
        "   – Forbidden: bot was blocked by the user: 1",
    ]


async def test_zalo_recipients_go_by_their_route(app: App) -> None:
    """Within 7 days: customer service; a follower beyond: promotion; nobody else is tried."""
    now = app.clock.now()
    async with FakeZaloOA(now=now) as zalo:
        zalo.add_user("z-1", interacted=True)
        zalo.add_user("z-2", follower=True, interacted=False)
        zalo.add_user("z-3", interacted=False)
        zalo.add_user("z-4", interacted=False)  # unfollowed; we have not heard yet
        old = now - timedelta(days=20)
        person(app, "z-1", channel="zalo", last_seen=now - timedelta(days=1))
        person(app, "z-2", channel="zalo", last_seen=old)
        person(app, "z-3", channel="zalo", last_seen=old, following=False)
        person(app, "z-4", channel="zalo", last_seen=old)
        staff = person(app, "staff", role="staff")
        with app.db.transaction() as session:
            creator = session.get(User, staff)
            assert creator is not None
            plan, rules = app.plan, load_rules(app.plan).zalo
            chosen = select_audience(session, plan, Audience("all"), rules, now)
            broadcaster.create(session, creator, "Họp ngày 20/6", Audience("all"), chosen, now)
        scheduler = for_app(app)
        scheduler.tick()
        tokens = ZaloTokens(app.db, Clock(), oa_id=zalo.oa_id, app_id=zalo.app_id,
                            app_secret=zalo.app_secret, oauth_base=zalo.base_url)  # fmt: skip
        tokens.seed(zalo.access_token, zalo.refresh_token, expires_in=None)
        client = ZaloClient(tokens, zalo.base_url)
        sender = OutboxSender(app.db, app.clock, ZaloTransport(client))
        while await sender.run_once():
            pass
        await client.close()
        scheduler.tick()
        assert [(m.kind, m.text) for m in zalo.sent_to("z-1")] == [("cs", "Họp ngày 20/6")]
        assert [(m.kind, m.text) for m in zalo.sent_to("z-2")] == [("promotion", "Họp ngày 20/6")]
        assert zalo.sent_to("z-3") == [] and zalo.sent_to("z-4") == []
    report = rows(app, dedupe_key="bc:1:report")[0].payload["text"].splitlines()
    assert report[1:] == [
        "• Đã gửi tới: 2",
        "• Gửi không thành công: 1",
        "   – zalo -213: User has not followed the OA: 1",
        "• Không liên lạc được: 1",
        "   – không quan tâm OA và không nhắn tin trong 7 ngày: 1",
    ]
