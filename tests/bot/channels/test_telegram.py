"""Telegram, end to end: python-telegram-bot against the Bot API test server on loopback,
over long polling and over the webhook of our web server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import App, build
from bot.channels.telegram import Telegram, make_bot, run_polling
from bot.channels.telegram_send import telegram_limiter
from bot.channels.telegram_web import PATH, SECRET_HEADER, TelegramChannel
from bot.clock import Clock
from bot.ratelimit import Rate
from bot.server import build_web_app
from bot.settings import Settings
from handlers import router
from storage import repository
from storage.models import OutboxMessage, ProcessedMessage, Registration, User
from tests.fakes.telegram_api import FakeTelegram, TelegramLimits
from tests.telegram_user import TelegramUser, until

SECRET = "s3cret-Token_for-tests"


def fast(app: App, fake: FakeTelegram) -> Telegram:
    """A bot whose own limits are far above what these tests send."""
    return Telegram(
        app,
        make_bot(fake.token, fake.base_url),
        limiter=telegram_limiter(100, 100, Rate(1000, 1000)),
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=TelegramLimits(enabled=False)) as server:
        yield server


@pytest.fixture
async def polling(app: App, fake: FakeTelegram) -> AsyncIterator[Telegram]:
    telegram = fast(app, fake)
    async with polled(telegram):
        yield telegram


class polled:  # lower case: reads as "async with polled(bot)"
    def __init__(self, telegram: Telegram) -> None:
        self.telegram = telegram
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Telegram:
        await self.telegram.start()
        self.task = asyncio.create_task(run_polling(self.telegram, self.stop, timeout=5))
        return self.telegram

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        await self.task
        await self.telegram.stop()


@dataclass
class Webhook:
    telegram: Telegram
    url: str


@pytest.fixture
async def webhook(app: App, fake: FakeTelegram) -> AsyncIterator[Webhook]:
    """Our web server on a free port, with the Telegram channel; the webhook set at start."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    app.settings = app.settings.model_copy(
        update={"telegram_webhook_secret": SecretStr(SECRET), "telegram_webhook_url": url}
    )
    channel = TelegramChannel(app, fast(app, fake))
    runner = web.AppRunner(build_web_app(app, [channel]))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield Webhook(channel.telegram, url)
    finally:
        await runner.cleanup()


def person(fake: FakeTelegram, telegram: Telegram, user_id: int = 1001) -> TelegramUser:
    async def settle() -> None:
        await fake.wait_until_delivered()
        await telegram.idle(user_id)

    fake.add_user(user_id, first_name="An", last_name="Nguyễn", language_code="vi")
    return TelegramUser(fake, user_id, settle)


async def register(user: TelegramUser) -> None:
    """A whole registration, tapping the inline buttons wherever the bot offers them."""
    await user.say("/start")
    assert user.has("Xin chào") and "📝 Đăng ký" in user.buttons
    await user.press("Đăng ký")
    assert user.has("91/2025/QH15")
    await user.press("Đồng ý")
    assert user.has("nhắc hạn")
    await user.press("Có, nhận tin")
    assert user.has("(1/15)", "Tên làng nghề")
    for answer, expect in [
        ("Bát Tràng", "xã/phường"),
        ("xã Bát Tràng", "quận/huyện/thị xã"),
        ("gia lam", "nghề gì"),
        ("gốm sứ", "số quyết định"),
        ("5427/QĐ-UBND", "ngày nào"),
        ("15/3/2010", "Đại diện làng nghề"),
    ]:
        await user.say(answer)
        assert user.has(expect), (answer, user.text)
    await user.press("Hợp tác xã")
    assert user.has("Tên đầy đủ")
    await user.say("HTX Gốm sứ Bát Tràng")
    await user.press("Có")
    for answer, expect in [
        ("Nguyễn Văn An", "Chức vụ"),
        ("Chủ nhiệm HTX", "Số điện thoại"),
        ("0912 345 678", "Email"),
    ]:
        await user.say(answer)
        assert user.has(expect), (answer, user.text)
    await user.press("Bỏ qua")
    await user.press("Chọn cả 3")
    await user.press("2015")
    await user.press("2016")
    assert "✓ 2015" in user.buttons and "✓ 2016" in user.buttons
    await user.press("Xong")
    assert user.has("Bát Tràng", "huyện Gia Lâm", "5427/QĐ-UBND", "0912 345 678")
    await user.press("Gửi hồ sơ")
    assert user.has("HN2017-GLA-0001", "huyện Gia Lâm", "31/05/2017")


def registered(app: App, user_id: int) -> Registration:
    with app.db.transaction() as session:
        registration = session.scalars(select(Registration)).one()
        user = session.get(User, registration.user_id)
        assert user is not None
        assert (user.channel, user.channel_user_id) == ("telegram", str(user_id))
        assert registration.status == "submitted"
        assert registration.prior_years == [2015, 2016]
        session.expunge(registration)
        return registration


def check_presses(fake: FakeTelegram, user: TelegramUser, presses: int) -> None:
    """Each tap was answered once, and no keyboard that was tapped can be tapped again."""
    assert len(fake.callback_answers) == presses
    assert all(answer.text is None for answer in fake.callback_answers)
    edits = [m for m in fake.messages_to(user.user_id) if m.kind == "edit"]
    assert len(edits) == presses
    assert all(not m.keyboard and not user.keyboard_of(m) for m in edits)


async def test_whole_registration_over_polling(
    app: App, fake: FakeTelegram, polling: Telegram
) -> None:
    user = person(fake, polling)
    await register(user)
    assert registered(app, user.user_id).code == "HN2017-GLA-0001"
    check_presses(fake, user, presses=11)
    sent = [m for m in fake.messages_to(user.user_id) if m.kind == "send"]
    assert all(len(row) <= 2 for m in sent for row in m.keyboard)
    assert not fake.calls("setWebhook") and fake.calls("deleteWebhook")


async def test_whole_registration_over_webhook(
    app: App, fake: FakeTelegram, webhook: Webhook
) -> None:
    assert fake.webhook_url == webhook.url
    user = person(fake, webhook.telegram)
    await register(user)
    assert registered(app, user.user_id).code == "HN2017-GLA-0001"
    check_presses(fake, user, presses=11)
    assert fake.webhook_deliveries and all(
        d.status == 200 and d.secret_token == SECRET for d in fake.webhook_deliveries
    )


async def test_command_menu_in_vietnamese_and_english(
    fake: FakeTelegram, polling: Telegram
) -> None:
    vi = {c["command"]: c["description"] for c in fake.commands_for("vi")}
    en = {c["command"]: c["description"] for c in fake.commands_for("en")}
    assert vi["dangky"] == "Đăng ký hỗ trợ cho làng nghề"
    assert en["register"] == "Register a craft village for support"
    assert fake.commands_for("") == fake.commands_for("vi")  # no language: Vietnamese
    assert set(vi) | set(en) <= set(router.COMMANDS)  # each one does something


async def test_english_speaker_is_answered_in_english(
    fake: FakeTelegram, polling: Telegram
) -> None:
    user = person(fake, polling)
    user.language_code = "en"
    fake.add_user(user.user_id, language_code="en")
    await user.say("/start")
    assert user.has("Hello") and "📝 Register" in user.buttons


async def test_stale_button_gets_a_polite_answer(fake: FakeTelegram, polling: Telegram) -> None:
    user = person(fake, polling)
    await user.say("/start")
    menu = user.messages[-1]
    await user.say("/dangky")  # typed instead of tapped: the menu's buttons are now old
    assert user.has("91/2025/QH15")
    await user.press_on(menu, "Đăng ký")
    answer = await fake.wait_for_callback_answer(user.query_id)
    assert answer.text is not None and "không còn hiệu lực" in answer.text
    assert user.has("không còn hiệu lực", "91/2025/QH15")  # and the question again
    assert user.keyboard_of(menu) == []  # the old buttons are gone


async def test_sticker_is_politely_refused(fake: FakeTelegram, polling: Telegram) -> None:
    user = person(fake, polling)
    await user.sticker()
    assert user.has("chỉ đọc được tin nhắn chữ") and user.buttons


async def test_forged_webhook_secret_is_refused(
    app: App, fake: FakeTelegram, webhook: Webhook
) -> None:
    update = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 555, "type": "private", "first_name": "Mallory"},
            "from": {"id": 555, "is_bot": False, "first_name": "Mallory"},
            "text": "/start",
        },
    }
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: SECRET + "x"}):
            async with http.post(webhook.url, json=update, headers=headers) as response:
                assert response.status == 401
        async with http.post(webhook.url, data=b"{", headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 400
    await webhook.telegram.idle()
    with app.db.transaction() as session:
        assert session.scalars(select(User)).all() == []
        assert session.scalars(select(ProcessedMessage)).all() == []
    assert not fake.calls("sendMessage")


async def test_redelivered_update_is_handled_once(
    app: App, fake: FakeTelegram, webhook: Webhook
) -> None:
    user = person(fake, webhook.telegram)
    fake.redeliver_next_webhook()
    await user.say("/start")
    await until(lambda: len(fake.webhook_deliveries) == 2)  # the second follows the first
    await webhook.telegram.idle()
    first, second = fake.webhook_deliveries
    assert first.update_id == second.update_id and first.status == second.status == 200
    texts = [m.text or "" for m in fake.messages_to(user.user_id)]
    assert sum("Xin chào" in t for t in texts) == 1
    with app.db.transaction() as session:
        assert len(session.scalars(select(ProcessedMessage)).all()) == 1


@pytest.fixture
def sqlite_app(sqlite_url: str, clock: Clock) -> Iterator[App]:
    """For tests of timing behaviour, which does not depend on the database."""
    application = build(Settings(database_url=sqlite_url), clock=clock)
    yield application
    application.close()


async def test_a_429_in_one_chat_does_not_hold_up_another(sqlite_app: App) -> None:
    app = sqlite_app
    async with FakeTelegram() as fake:  # Telegram's published limits, on
        telegram = Telegram(app, make_bot(fake.token, fake.base_url))  # our default limits
        async with polled(telegram):
            person(fake, telegram, 1)
            quick = person(fake, telegram, 2)
            fake.fail_next("sendMessage", 429, retry_after=2, chat_id=1)
            fake.send_text(1, "/start")
            await until(lambda: fake.too_many_requests_count == 1)  # chat 1 must wait 2 s
            await quick.say("/start")
            assert quick.has("Xin chào")  # chat 2 answered while chat 1 still waits
            assert fake.messages_to(1) == []
            await telegram.idle()  # chat 1 gets its answer after its retry_after
            assert [m.text for m in fake.messages_to(1)] == [m.text for m in quick.messages]
            assert fake.too_many_requests_count == 1


async def test_replies_within_the_private_chat_limit(sqlite_app: App) -> None:
    """Bursts of replies to one chat stay within Telegram's limits: no 429 at all."""
    app = sqlite_app
    async with FakeTelegram() as fake:
        telegram = Telegram(app, make_bot(fake.token, fake.base_url))
        async with polled(telegram):
            user = person(fake, telegram)
            await user.say("/start")  # 2 messages
            await user.say("/trogiup")  # 1
            await user.press("Đăng ký")  # 1, plus the keyboard edit
            assert user.has("91/2025/QH15")
            await user.say("/start")  # 2: six in all, more than the test server's burst
            assert fake.too_many_requests_count == 0
            assert len([c for c in fake.calls("sendMessage") if c.status == 200]) == 6


async def test_a_user_who_blocked_the_bot_is_marked_unreachable(
    app: App, fake: FakeTelegram, polling: Telegram
) -> None:
    user = person(fake, polling)
    await user.say("/start")
    fake.fail_next("sendMessage", 403, chat_id=user.user_id)  # blocked before our answer
    await user.say("/start")  # two replies: the first gets 403, the second is not tried
    assert [c.status for c in fake.calls("sendMessage")] == [200, 200, 403]
    with app.db.transaction() as session:
        row = session.scalars(select(User)).one()
        assert not row.reachable and "blocked by the user" in (row.unreachable_reason or "")
        repository.enqueue(session, row, "notice", {"text": "tin", "buttons": []}, app.clock.now())
    await polling.outbox_sender().run_once()  # and the outbox does not try either
    assert len(fake.calls("sendMessage")) == 3
    with app.db.transaction() as session:
        assert session.scalars(select(OutboxMessage)).one().status == "undeliverable"


async def test_block_and_unblock_notices_change_reachability(
    app: App, fake: FakeTelegram, polling: Telegram
) -> None:
    user = person(fake, polling)
    await user.say("/start")

    def reachable() -> bool:
        with app.db.transaction() as session:
            return session.scalars(select(User)).one().reachable

    fake.block_user(user.user_id)  # Telegram tells the bot: my_chat_member "kicked"
    await fake.wait_until_delivered()
    assert not reachable()
    fake.unblock_user(user.user_id)
    await fake.wait_until_delivered()
    assert reachable()


async def test_group_messages_are_left_alone(fake: FakeTelegram, polling: Telegram) -> None:
    fake.add_group(-100123, "Hội làng nghề")
    fake.send_text(1001, "/start", chat_id=-100123)
    await fake.wait_until_delivered()
    await polling.idle()
    assert fake.messages_to(-100123) == [] and fake.messages_to(1001) == []


async def test_a_refused_token_is_reported_without_showing_it(app: App, fake: FakeTelegram) -> None:
    telegram = Telegram(app, make_bot("999:not-the-token", fake.base_url))
    with pytest.raises(RuntimeError, match="refused the bot token") as refused:
        await telegram.start()
    assert "not-the-token" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


async def test_one_chat_gets_its_answers_in_order_even_after_a_429(
    fake: FakeTelegram, polling: Telegram
) -> None:
    user = person(fake, polling)
    fake.fail_next("sendMessage", 429, retry_after=1, chat_id=user.user_id)
    for text in ("/trogiup", "/trangthai", "/ngonngu"):  # typed fast, before any answer
        fake.send_text(user.user_id, text)
    await user.answer()
    texts = [m.text or "" for m in user.messages]
    assert len(texts) == 3 and fake.too_many_requests_count == 1
    assert texts[0].startswith("Các lệnh có thể dùng")  # waited out its retry_after, first
    assert "chưa gửi hồ sơ" in texts[1]
    assert texts[2].startswith("Chọn ngôn ngữ")
