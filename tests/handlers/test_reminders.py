"""/nhacnho: reminders on and off, consent first, and a draft in progress is kept."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.models import Consent, Conversation, User
from tests.chat import Chat
from tests.handlers.test_registration import agree_and_start


def user_of(app: App, who: str) -> User:
    with app.db.transaction() as session:
        return session.scalars(select(User).where(User.channel_user_id == who)).one()


async def test_turn_reminders_off_and_on_again(chat: Chat, app: App) -> None:
    await agree_and_start(chat)  # agreed to follow-up messages on the way
    await chat.say("/nhacnho")
    assert chat.has("Nhắc hạn đang BẬT")
    await chat.press("Tắt nhắc hạn")
    assert chat.has("Đã tắt nhắc hạn", "(1/15)")  # and the registration question again
    assert not user_of(app, "village-1").reminders_enabled
    await chat.say("/nhacnho")
    assert chat.has("Nhắc hạn đang TẮT")
    await chat.press("Bật nhắc hạn")
    assert chat.has("Đã bật nhắc hạn")
    assert user_of(app, "village-1").reminders_enabled
    with app.db.transaction() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.flow == "reg" and conversation.step == "village"


async def test_turning_on_without_consent_asks_for_it_first(chat: Chat, app: App) -> None:
    await chat.say("/nhacnho")
    assert chat.has("Nhắc hạn đang TẮT")
    await chat.press("Bật nhắc hạn")
    assert chat.has("đồng ý nhận tin nhắn theo dõi", "Sở Công Thương")
    with app.db.transaction() as session:
        assert session.scalars(select(Consent)).all() == []  # silence is not consent
    await chat.press("Đồng ý nhận nhắc hạn")
    assert chat.has("Đã bật nhắc hạn")
    with app.db.transaction() as session:
        consent = session.scalars(select(Consent)).one()
        assert (consent.purpose, consent.granted) == ("followup", True)


async def test_saying_no_keeps_them_off(chat: Chat, app: App) -> None:
    await chat.say("/reminders")
    await chat.press("Bật nhắc hạn")
    await chat.press("Không")
    assert chat.has("Nhắc hạn vẫn tắt")
    with app.db.transaction() as session:
        assert session.scalars(select(Consent)).all() == []


async def test_a_reminder_button_works_from_an_old_message(chat: Chat, app: App) -> None:
    """Reminders carry command buttons; one pressed days later still does its job."""
    await agree_and_start(chat)
    await chat.say("Bat Trang")
    await chat.say("/trangthai")  # the last answer offers other buttons now
    await chat.send(chat.event(kind="button", payload="/dangky"))
    assert chat.has("Bat Trang", "Tiếp tục")  # offered to resume the draft


async def test_english_alias_and_language(app: App) -> None:
    chat = Chat(app, "en-user", language="en")
    await chat.say("/reminders")
    assert chat.has("Reminders are OFF")
    assert chat.buttons[0] == "Turn reminders on"
