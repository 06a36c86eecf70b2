"""Replies as Telegram messages (keyboards, long texts, files) and the outbox transport,
against the Bot API test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.telegram import make_bot
from bot.channels.telegram_send import (
    MAX_TEXT,
    TelegramSender,
    TelegramTransport,
    keyboard,
    pieces,
    split_text,
    telegram_limiter,
)
from bot.events import Attachment, Button, Reply
from bot.sender import OutboxSender
from storage import repository
from storage.models import OutboxMessage, User
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        for user_id in (1, 2):
            server.add_user(user_id)
        yield server


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[TelegramSender]:
    bot = make_bot(fake.token, fake.base_url)
    async with bot:
        yield TelegramSender(bot, telegram_limiter())


def test_two_short_buttons_share_a_row_long_ones_stand_alone() -> None:
    markup = keyboard(
        [Button("Có", "a:yes"), Button("Không", "a:no"), Button("⬅ Quay lại", "a:back"),
         Button("Chọn cả 3 nội dung hỗ trợ", "a:all"), Button("⏸ Tạm dừng", "a:pause")]
    )  # fmt: skip
    assert markup is not None
    rows = [[b.text for b in row] for row in markup.inline_keyboard]
    assert rows == [["Có", "Không"], ["⬅ Quay lại"], ["Chọn cả 3 nội dung hỗ trợ"], ["⏸ Tạm dừng"]]
    assert keyboard([]) is None


def test_callback_data_over_64_bytes_is_refused() -> None:
    assert keyboard([Button("ok", "x" * 64)]) is not None
    with pytest.raises(ValueError, match="64 bytes"):
        keyboard([Button("quá dài", "reg:village:" + "đ" * 30)])  # 72 bytes in UTF-8


def test_a_long_text_goes_in_parts_with_the_buttons_on_the_last() -> None:
    text = "\n".join(f"dòng {n}: " + "x" * 90 for n in range(100))
    parts = split_text(text)
    assert len(parts) == 3 and all(len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == text
    sent = pieces(Reply(text, (Button("Xong", "done"),)))
    assert [p.markup is not None for p in sent] == [False, False, True]


async def test_a_file_is_sent_as_a_document(fake: FakeTelegram, sender: TelegramSender) -> None:
    export = Attachment("ho-so.xlsx", b"PK\x03\x04 fake workbook", "application/vnd.ms-excel")
    await sender.send(1, Reply("Danh sách hồ sơ", file=export), max_wait=5, attempts=1)
    message = fake.last_message_to(1)
    assert message.method == "sendDocument" and message.caption == "Danh sách hồ sơ"
    assert message.document is not None and message.document.data == export.content
    assert message.document.file_name == "ho-so.xlsx"


def queue(app: App, who: str, text: str) -> None:
    with app.db.transaction() as session:
        user = repository.get_or_create_user(session, "telegram", who, app.clock.now())
        buttons = [["Xem", "menu:status"]]
        repository.enqueue(session, user, "notice", {"text": text, "buttons": buttons},
                           app.clock.now())  # fmt: skip


def outbox(app: App) -> list[tuple[str, str | None]]:
    with app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.status, m.platform_message_id) for m in rows]


async def test_outbox_a_429_defers_only_its_own_chat(
    app: App, fake: FakeTelegram, sender: TelegramSender
) -> None:
    queue(app, "1", "thông báo cho 1")
    queue(app, "2", "thông báo cho 2")
    fake.fail_next("sendMessage", 429, retry_after=30, chat_id=1)
    await OutboxSender(app.db, app.clock, TelegramTransport(sender)).run_once()
    (status_1, _), (status_2, message_id) = outbox(app)
    assert status_1 == "pending" and status_2 == "sent"
    assert message_id == str(fake.last_message_to(2).message_id)
    assert fake.last_message_to(2).button_texts == ["Xem"]
    with app.db.transaction() as session:
        waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        assert waiting.one().next_attempt_at == app.clock.now() + timedelta(seconds=30)


async def test_outbox_a_blocked_user_is_unreachable_and_never_retried(
    app: App, fake: FakeTelegram, sender: TelegramSender
) -> None:
    queue(app, "1", "thứ nhất")
    queue(app, "1", "thứ hai")
    fake.block_user(1, notify=False)
    outbox_sender = OutboxSender(app.db, app.clock, TelegramTransport(sender), batch=1)
    await outbox_sender.run_once()
    await outbox_sender.run_once()
    assert [status for status, _ in outbox(app)] == ["undeliverable", "undeliverable"]
    assert [c.status for c in fake.calls("sendMessage")] == [403]  # the second never tried
    with app.db.transaction() as session:
        user = session.scalars(select(User)).one()
        assert not user.reachable and "blocked by the user" in (user.unreachable_reason or "")


@pytest.mark.parametrize("code", [500, 502])
async def test_outbox_a_server_error_is_retried_later(
    app: App, fake: FakeTelegram, sender: TelegramSender, code: int
) -> None:
    queue(app, "2", "thông báo")
    fake.fail_next("sendMessage", code)
    await OutboxSender(app.db, app.clock, TelegramTransport(sender)).run_once()
    assert outbox(app) == [("pending", None)]
    with app.db.transaction() as session:
        assert session.scalars(select(User)).one().reachable
