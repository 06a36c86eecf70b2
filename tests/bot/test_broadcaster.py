"""A broadcast through the real Telegram transport, against the Bot API test server: who
blocked the bot fails with Telegram's reason, who was already unreachable is not tried, the
others get their own village's text once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import broadcaster
from bot.app import App
from bot.audience import Audience, select_audience
from bot.channels.telegram import make_bot
from bot.channels.telegram_send import TelegramSender, TelegramTransport, telegram_limiter
from bot.reminders import load_rules
from bot.scheduler import for_app
from bot.sender import OutboxSender
from storage.models import User
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
