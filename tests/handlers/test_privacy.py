"""Seeing and erasing one's own data."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage import questions, repository
from storage.models import AuditEntry, Consent, Question, Registration, User
from tests.chat import Chat
from tests.handlers.test_registration import fill_until_summary


async def test_see_and_erase_my_data(chat: Chat, app: App) -> None:
    await fill_until_summary(chat)
    await chat.press("Gửi hồ sơ")
    await chat.say("/dulieu")
    assert chat.has("HN2017-GLA-0001", "Sở Công Thương Hà Nội", "Nhận tin nhắc hạn", "2026-01")
    await chat.press("Xoá thông tin của tôi")
    assert chat.has("chắc chắn muốn xoá")
    await chat.press("Có, xoá")
    assert chat.has("Đã xoá")
    with app.db.transaction() as session:
        registration = session.scalars(select(Registration)).one()
        assert registration.contact_name is None and registration.contact_phone is None
        assert registration.village == "Bat Trang"  # the village's record stays
        assert all(c.withdrawn_at is not None for c in session.scalars(select(Consent)))
        assert not session.scalars(select(User)).one().reminders_enabled
        actions = [a.action for a in session.scalars(select(AuditEntry))]
        assert "privacy.erased" in actions
    await chat.say("/dangky")
    assert chat.has("91/2025/QH15")  # consent is asked again before anything new


async def test_changing_ones_mind_keeps_everything(chat: Chat, app: App) -> None:
    await fill_until_summary(chat)
    await chat.press("Gửi hồ sơ")
    await chat.say("/mydata")
    await chat.press("Xoá thông tin")
    await chat.press("Không, giữ lại")
    assert chat.has("giữ nguyên")
    with app.db.transaction() as session:
        assert session.scalars(select(Registration)).one().contact_phone == "0912345678"


async def test_erasure_also_empties_questions_passed_to_staff(chat: Chat, app: App) -> None:
    with app.db.transaction() as session:
        user = repository.get_or_create_user(session, "console", chat.user_id, app.clock.now())
        questions.ask(session, user, app.plan.id, "Số tôi 0912345678, hỏi vốn vay", app.clock.now())
    await chat.say("/dulieu")
    await chat.press("Xoá thông tin")
    await chat.press("Có, xoá")
    with app.db.transaction() as session:
        (question,) = session.scalars(select(Question)).all()
        assert question.text == "" and question.status == "erased"
        assert questions.queue(session, limit=10) == ([], 0)
