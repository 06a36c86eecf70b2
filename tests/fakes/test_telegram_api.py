"""FakeTelegram behaves like the Bot API, as seen through python-telegram-bot itself."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from ._server import LoopbackServer
from .telegram_api import FakeTelegram, TelegramLimits

pytestmark = pytest.mark.asyncio

USER = 7_001_001


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


def retry_seconds(error: RetryAfter) -> float:
    # PTB 22 returns int or timedelta depending on PTB_TIMEDELTA, with a deprecation warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


# ------------------------------------------------------------------ basics


async def test_get_me_describes_the_bot(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.id == fake.bot_id == int(fake.token.split(":")[0])
    assert me.username == fake.bot_username
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_wrong_token_is_401_and_unknown_method_is_404(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("42:not-the-token", base_url=fake.base_url):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.api_url}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{fake.base_url}42:wrong/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"


async def test_json_body_and_query_string_are_accepted(fake: FakeTelegram) -> None:
    fake.add_user(USER)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_url}/getme") as response:  # methods are case-blind
            assert (await response.json())["result"]["is_bot"] is True
        body = {
            "chat_id": USER,
            "text": "Xin chào",
            "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
        }
        async with http.post(f"{fake.api_url}/sendMessage", json=body) as response:
            result = (await response.json())["result"]
    assert result["text"] == "Xin chào"
    assert isinstance(result["date"], int)
    assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"


# ------------------------------------------------------------------ receiving updates


async def test_user_message_arrives_through_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(USER, "/start ref-42", first_name="Lan", language_code="vi")
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.from_user is not None
    assert message.text == "/start ref-42"
    assert message.from_user.is_bot is False
    assert message.from_user.first_name == "Lan"
    assert message.from_user.language_code == "vi"
    assert message.chat.type == "private" and message.chat.id == USER
    assert isinstance(message.date, datetime)
    assert fake.pending_updates[0]["message"]["date"] == int(message.date.timestamp())
    [entity] = message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)

    # Unconfirmed updates come again; an offset above them confirms them.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    fake.send_text(USER, "chào")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.message.text for u in updates if u.message] == ["chào"]
    assert loop.time() - started < 3


async def test_limit_and_allowed_updates(fake: FakeTelegram, bot: Bot) -> None:
    for n in range(3):
        fake.send_text(USER, f"tin {n}")
    assert len(await bot.get_updates(limit=2, timeout=0)) == 2
    confirmed = await bot.get_updates(offset=-1, timeout=0)  # keeps only the newest
    assert [u.message.text for u in confirmed if u.message] == ["tin 2"]

    await bot.get_updates(offset=confirmed[0].update_id + 1, allowed_updates=["callback_query"])
    fake.send_text(USER, "bị lọc")
    assert await bot.get_updates(timeout=0) == ()
    assert fake.dropped_updates[-1]["message"]["text"] == "bị lọc"


async def test_second_bot_instance_ends_the_first_ones_long_poll_with_409(
    fake: FakeTelegram, bot: Bot
) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(fake.token, base_url=fake.base_url) as second_instance:
        await second_instance.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(older, 3)


async def test_sticker_and_photo_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_sticker(USER, emoji="🏺")
    fake.send_photo(USER, caption="mẫu")
    sticker_update, photo_update = await bot.get_updates(timeout=0)
    assert sticker_update.message is not None and photo_update.message is not None
    assert sticker_update.message.sticker is not None
    assert sticker_update.message.sticker.emoji == "🏺"
    assert len(photo_update.message.photo) == 3
    assert photo_update.message.caption == "mẫu"


# ------------------------------------------------------------------ sending


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    sent = await bot.send_message(
        USER, "Chọn làng nghề", reply_markup=keyboard(("Gốm Bát Tràng", "village:gom"))
    )
    assert sent.from_user is not None and sent.from_user.id == fake.bot_id
    assert sent.from_user.is_bot is True
    assert sent.chat.id == USER
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "village:gom"

    record = await fake.wait_for_message(USER, timeout=1)
    assert record.kind == "send" and record.text == "Chọn làng nghề"
    assert record.callback_data == ["village:gom"]
    assert record.button("Gốm Bát Tràng").callback_data == "village:gom"
    assert isinstance(record.payload["date"], int)


async def test_send_to_unknown_chat_and_empty_text(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(123, "ai đó?")


async def test_text_limit_is_4096_characters(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    fake.limits.enabled = False
    await bot.send_message(USER, "á" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "á" * 4097)
    # The limit counts text after markup is parsed away.
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)


async def test_callback_data_is_limited_to_64_bytes(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    fake.limits.enabled = False
    exactly_64 = "đ" * 32  # two bytes each in UTF-8
    await bot.send_message(USER, "ok", reply_markup=keyboard(("A", exactly_64)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "quá dài", reply_markup=keyboard(("A", exactly_64 + "x")))


async def test_parse_modes_are_checked_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    fake.limits.enabled = False
    sent = await bot.send_message(USER, "<b>Gốm</b> Bát Tràng", parse_mode=ParseMode.HTML)
    assert sent.text == "Gốm Bát Tràng"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 3)]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "dòng 1<br>dòng 2", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(USER, "Giá: 100.000đ", parse_mode=ParseMode.MARKDOWN_V2)
    escaped = await bot.send_message(USER, "*Giá:* 100\\.000đ", parse_mode=ParseMode.MARKDOWN_V2)
    assert escaped.text == "Giá: 100.000đ"


# ------------------------------------------------------------------ buttons and edits


async def test_pressing_a_button_gives_a_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER, first_name="Minh")
    sent = await bot.send_message(USER, "Chọn", reply_markup=keyboard(("Mây tre", "v:may")))
    update = fake.press_button(USER, sent.message_id, "v:may")
    [received] = await bot.get_updates(timeout=0)
    query = received.callback_query
    assert query is not None and query.message is not None
    assert query.id == update["callback_query"]["id"]
    assert query.data == "v:may"
    assert query.from_user.first_name == "Minh"
    assert query.chat_instance and query.chat_instance == update["callback_query"]["chat_instance"]
    assert query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="Đã chọn") is True
    assert fake.callback_answers[0].text == "Đã chọn"
    assert fake.callback_answers[0].data == "v:may"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)  # one answer per query


async def test_press_button_refuses_buttons_that_are_not_there(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_user(USER)
    sent = await bot.send_message(USER, "Chọn", reply_markup=keyboard(("A", "a")))
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(USER, sent.message_id, "b")
    with pytest.raises(ValueError, match="no bot message"):
        fake.press_button(USER, sent.message_id + 10, "a")


async def test_edit_reply_markup_and_not_modified(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    markup = keyboard(("A", "a"))
    sent = await bot.send_message(USER, "Chọn", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    edited = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert isinstance(edited, object) and fake.current_message(USER, sent.message_id) is not None
    assert "reply_markup" not in (fake.current_message(USER, sent.message_id) or {})
    with pytest.raises(ValueError):
        fake.press_button(USER, sent.message_id, "a")  # the button is gone

    await bot.edit_message_text("Đã chọn A", USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Đã chọn A", USER, sent.message_id)
    kinds = [(r.kind, r.method, r.text) for r in fake.messages_to(USER)]
    assert kinds == [
        ("send", "sendMessage", "Chọn"),
        ("edit", "editMessageReplyMarkup", "Chọn"),
        ("edit", "editMessageText", "Đã chọn A"),
    ]
    assert await bot.delete_message(USER, sent.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


async def test_send_document_keeps_bytes_and_name(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    data = "làng,nghề\nBát Tràng,gốm\n".encode()
    sent = await bot.send_document(USER, document=data, filename="lang-nghe.csv", caption="Xuất")
    assert sent.document is not None
    assert sent.document.file_name == "lang-nghe.csv"
    assert sent.document.file_size == len(data)
    assert sent.caption == "Xuất"
    record = fake.last_message_to(USER)
    assert record.document is not None and record.document.data == data
    assert record.document.file_name == "lang-nghe.csv"

    file = await bot.get_file(sent.document.file_id)  # downloads through base_file_url
    assert bytes(await file.download_as_bytearray()) == data
    resent = await bot.send_document(USER, document=sent.document.file_id)
    assert resent.document is not None and resent.document.file_id == sent.document.file_id


async def test_set_my_commands_per_language_and_scope(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Bắt đầu")], language_code="vi")
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands(
        [BotCommand("help", "Trợ giúp")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="vi",
    )
    assert [c.description for c in await bot.get_my_commands(language_code="vi")] == ["Bắt đầu"]
    assert fake.commands_for("en") == [{"command": "start", "description": "Start"}]
    assert fake.commands[("all_private_chats", "vi")][0]["command"] == "help"
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bắt_đầu", "x")])


# ------------------------------------------------------------------ limits and faults


async def test_injected_429_surfaces_as_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "một")
    assert retry_seconds(caught.value) == 7
    assert fake.too_many_requests_count == 1
    await bot.send_message(USER, "hai")  # only the next call fails
    assert fake.calls("sendMessage")[0].status == 429


async def test_private_chat_limit_tolerates_a_short_burst_then_429() -> None:
    clock = FakeClock()
    async with FakeTelegram(clock=clock, limits=TelegramLimits(private_chat_burst=3)) as fake:
        fake.add_user(USER)
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            for n in range(3):
                await bot.send_message(USER, f"tin {n}")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(USER, "quá nhanh")
            assert retry_seconds(caught.value) == 1
            clock.now += 1.0
            await bot.send_message(USER, "đã chờ 1 giây")
            assert fake.too_many_requests_count == 1
            assert len(fake.messages_to(USER)) == 4


async def test_group_and_overall_limits() -> None:
    clock = FakeClock()
    async with FakeTelegram(clock=clock) as fake:
        group = -100_200_300
        fake.add_group(group)
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            for n in range(20):
                clock.now += 1.0
                await bot.send_message(group, f"tin {n}")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(group, "tin 21")
            assert 1 <= retry_seconds(caught.value) <= 60

            clock.now += 120
            for user in range(1, 31):  # 30 different private chats within one second
                fake.add_user(user)
                await bot.send_message(user, "thông báo")
            fake.add_user(31)
            with pytest.raises(RetryAfter):
                await bot.send_message(31, "thông báo")
            assert fake.too_many_requests_count == 2


async def test_blocked_user_gets_403_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(USER, "/start")
    fake.block_user(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "còn đó không?")
    with pytest.raises(Forbidden):
        await bot.send_document(USER, document=b"x", filename="a.txt")
    updates = await bot.get_updates(timeout=0)
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    fake.send_text(USER, "/start")  # writing to the bot again unblocks it
    await bot.send_message(USER, "chào lại")
    statuses = [
        u["my_chat_member"]["new_chat_member"]["status"]
        for u in fake.pending_updates
        if "my_chat_member" in u
    ]
    assert statuses == ["kicked", "member"]  # nothing was confirmed yet


async def test_faults_403_500_502_and_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    other = USER + 1
    fake.add_user(USER)
    fake.add_user(other)
    fake.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "a")
    fake.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "b")
    fake.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "c")
    fake.fail_next("sendMessage", 429, retry_after=3, chat_id=other)
    await bot.send_message(USER, "d")  # the fault waits for its chat
    with pytest.raises(RetryAfter):
        await bot.send_message(other, "e")


# ------------------------------------------------------------------ webhooks


class WebhookReceiver:
    """A stand-in for the bot's webhook endpoint that can refuse deliveries."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        app = web.Application()
        app.router.add_post("/tg", self._handle)
        self.server = LoopbackServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        return web.Response(text="ok")


async def until(predicate: Any, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def test_webhook_delivery_secret_header_and_retry(fake: FakeTelegram, bot: Bot) -> None:
    receiver = WebhookReceiver(failures=1)
    await receiver.server.start()
    try:
        url = f"{receiver.server.url}/tg"
        assert await bot.set_webhook(url, secret_token="s3cret-Token_1") is True
        fake.send_text(USER, "qua webhook")
        await until(lambda: len(receiver.requests) == 2)
        await fake.wait_until_delivered()
        (first_headers, first), (second_headers, second) = receiver.requests
        assert first == second  # the refused update is retried unchanged
        assert first_headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-Token_1"
        assert second_headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-Token_1"
        update = Update.de_json(second, bot)
        assert update is not None and update.message is not None
        assert update.message.text == "qua webhook"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message
        assert [d.status for d in fake.webhook_deliveries] == [500, 200]

        fake.redeliver_next_webhook()
        fake.send_text(USER, "hai lần")
        await until(lambda: len(receiver.requests) == 4)
        assert receiver.requests[2][1] == receiver.requests[3][1]
    finally:
        await receiver.server.close()


async def test_get_updates_is_409_while_a_webhook_is_set(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/unreachable", drop_pending_updates=True)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    fake.send_text(USER, "polling lại")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["polling lại"]


async def test_secret_token_characters_are_checked(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await bot.set_webhook("http://127.0.0.1:9/x", secret_token="có dấu")


# ------------------------------------------------------------------ a whole PTB Application


async def test_application_in_polling_mode(fake: FakeTelegram) -> None:
    queries: list[CallbackQuery] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id,
            "Chào! Chọn làng:",
            reply_markup=keyboard(("Gốm", "v:gom"), ("Lụa", "v:lua")),
        )

    async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        queries.append(query)
        await query.answer("Đã ghi nhận")
        await query.edit_message_reply_markup(reply_markup=None)

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(chosen))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            fake.send_text(USER, "/start")
            menu = await fake.wait_for_message(USER)
            assert menu.callback_data == ["v:gom", "v:lua"]
            update = fake.press_button(USER, menu.message_id, "v:lua")
            answer = await fake.wait_for_callback_answer(update["callback_query"]["id"])
            assert answer.text == "Đã ghi nhận"
            edit = await fake.wait_for_message(USER)
            assert edit.kind == "edit" and edit.buttons == []
            assert queries[0].chat_instance == update["callback_query"]["chat_instance"]
        finally:
            await app.updater.stop()
            await app.stop()
    assert json.dumps(fake.pending_updates) == "[]"  # PTB confirmed everything on stop
