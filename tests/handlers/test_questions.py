"""Questions typed in the chat: answers with citations, honest "don't know", and staff."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.app import App
from storage.models import AuditEntry, KnowledgeEntry, OutboxMessage, Question, User
from tests.chat import Chat
from tests.handlers.test_registration import agree_and_start, reach


@pytest.mark.parametrize(
    ("typed", "facts"),
    [
        ("Hạn chót nộp hồ sơ là ngày nào?", ["31/05/2017", "mục II.6"]),
        ("han nop ho so khi nao", ["31/05/2017", "mục II.6"]),  # no diacritics
        ("bh het han nop hs vay ad", ["31/05/2017"]),  # shorthand
        ("kinh phj bn", ["3.000.000.000", "mục II.7"]),  # a typo and shorthand
        ("lang chua dc cong nhan co dang ky dc ko", ["UBND Thành phố", "mục II.3"]),
        ("htx co dc lam dai dien ko", ["tư cách pháp nhân", "mục III.4"]),
        ("dang ky 1 noi dung thoi co dc k", ["Không bắt buộc", "mục II.4"]),
        ("hop dong ky voi ai, khi nao", ["Sở Công Thương", "tháng 9/2017"]),
        ("tập huấn mấy ngày", ["3 ngày", "mục II.2"]),
    ],
)
async def test_questions_get_the_plans_facts_with_the_section(
    chat: Chat, typed: str, facts: list[str]
) -> None:
    await chat.say(typed)
    assert chat.has(*facts, "Nguồn"), chat.text
    assert "🙋 Gửi câu hỏi cho cán bộ" in chat.buttons  # not what was meant? ask staff


async def test_questions_in_english(app: App) -> None:
    chat = Chat(app, "en-1", language="en")
    await chat.say("When is the registration deadline?")
    assert chat.has("31 May 2017", "Source: section II.6")
    await chat.say("how much money is there")
    assert chat.has("₫3,000,000,000", "section II.7")


async def test_out_of_scope_gets_an_honest_answer_and_the_way_to_staff(chat: Chat) -> None:
    await chat.say("giá vàng hôm nay bao nhiêu")
    assert chat.has("Xin lỗi", "Kế hoạch", "giá vàng hôm nay bao nhiêu")
    assert not chat.has("Nguồn")
    assert "🙋 Gửi câu hỏi cho cán bộ" in chat.buttons


async def test_closest_topics_are_offered_as_buttons(chat: Chat) -> None:
    await chat.say("Làng có được hỗ trợ tham gia hội chợ triển lãm không?")
    assert chat.has("chưa tìm thấy", "chủ đề")
    topics = [b for b in chat.buttons if not b.startswith(("🙋", "☰"))]
    assert topics, chat.buttons
    await chat.press(topics[0])
    assert chat.has("Nguồn")


async def test_greetings_get_a_greeting_not_a_guess(chat: Chat) -> None:
    for text in ("xin chào", "cam on ad", "ok"):
        await chat.say(text)
        assert chat.has("Xin chào"), text
        assert "📝 Đăng ký" in chat.buttons


async def test_a_question_in_the_middle_of_the_form_is_answered(chat: Chat, app: App) -> None:
    await agree_and_start(chat)
    await chat.say("Bat Trang")
    await chat.say("han chot nop ho so la khi nao?")
    assert chat.has("31/05/2017", "mục II.6")
    assert chat.has("(2/15)", "xã/phường")  # and the form's question again
    await chat.say("xa Bat Trang")
    assert chat.has("(3/15)")
    with app.db.transaction() as session:
        from storage.models import Conversation

        draft = session.scalars(select(Conversation)).one().data
    assert draft["commune"] == "xa Bat Trang"  # the question was not taken as the answer


@pytest.mark.parametrize(
    ("marker", "answers", "typed"),
    [
        ("(1/15)", [], "Hội gốm Bát Tràng"),  # "hội" is not "hỏi"
        ("(8/15)", ["Bat Trang", "xa Bat Trang", "Gia Lam", "gom su", "5427/QĐ-UBND",
                    "15/03/2010", "3"], "Hoi gom"),
        ("(11/15)", ["Bat Trang", "xa Bat Trang", "Gia Lam", "gom su", "5427/QĐ-UBND",
                     "15/03/2010", "1", "UBND xa Bat Trang", "co", "Nguyen Van Han"],
         "Chu tich"),
    ],
)  # fmt: skip
async def test_a_normal_answer_is_not_taken_for_a_question(
    chat: Chat, marker: str, answers: list[str], typed: str
) -> None:
    await reach(chat, marker, answers)
    await chat.say(typed)
    assert not chat.has("Nguồn"), chat.text
    assert not chat.has(marker)  # it was taken as the answer: the form moved on


async def test_an_unclear_question_in_a_form_is_left_to_the_form(chat: Chat) -> None:
    await reach(chat, "(12/15)", ["Bat Trang", "xa Bat Trang", "Gia Lam", "gom su",
                                  "5427/QĐ-UBND", "15/03/2010", "1", "UBND xa", "có",
                                  "Nguyen Van An", "Chu tich"])  # fmt: skip
    await chat.say("gia vang bao nhieu?")  # a question, but not one the plan answers
    assert chat.has("Số điện thoại chưa đúng", "(12/15)")


async def staff(app: App, user_id: str) -> Chat:
    chat = Chat(app, user_id)
    await chat.say("/start")
    with app.db.transaction() as session:
        session.execute(update(User).where(User.channel_user_id == user_id).values(role="staff"))
    return chat


async def test_handoff_round_trip(app: App) -> None:
    villager = Chat(app, "village-7")
    officer = await staff(app, "staff-1")

    await villager.say("Làng có được hỗ trợ tham gia hội chợ triển lãm không?")
    assert villager.has("chưa tìm thấy")
    await villager.press("Gửi câu hỏi cho cán bộ")
    assert villager.has("Đã gửi câu hỏi #1", "Sở Công Thương Hà Nội")
    await villager.press("Kiểm tra điều kiện")  # the menu works on
    await villager.say("/huy")

    with app.db.transaction() as session:
        notice = session.scalars(select(OutboxMessage)).one()
        assert (
            notice.user_id
            == session.scalars(select(User.id).where(User.channel_user_id == "staff-1")).one()
        )
        assert "hội chợ triển lãm" in notice.payload["text"]

    await officer.say("/cauhoi")
    assert officer.has("Câu hỏi chờ trả lời: 1", "#1", "hội chợ triển lãm", "village-7")
    await officer.press("Trả lời #1")
    assert officer.has("Gõ câu trả lời")
    await officer.say("Kế hoạch 2017 không hỗ trợ hội chợ; xem chương trình xúc tiến thương mại.")
    assert officer.has("Đã gửi câu trả lời", "Thêm cặp hỏi–đáp")
    await officer.press("Thêm vào kho trả lời")
    assert officer.has("Đã thêm vào kho trả lời", "Không có câu hỏi nào đang chờ")

    with app.db.transaction() as session:
        question = session.scalars(select(Question)).one()
        assert question.status == "answered"
        asker = session.get(User, question.user_id)
        assert asker is not None
        reply = session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == asker.id)
        ).one()
        assert "không hỗ trợ hội chợ" in reply.payload["text"]
        assert "hội chợ triển lãm" in reply.payload["text"]  # the question it answers
        assert session.scalars(select(KnowledgeEntry)).one().question_id == question.id
        actions = [a.action for a in session.scalars(select(AuditEntry))]
        assert {"question.asked", "question.answered", "kb.entry_added"} <= set(actions)

    # the pair now answers the next person asking the same thing
    other = Chat(app, "village-8")
    await other.say("lang co duoc ho tro tham gia hoi cho trien lam khong")
    assert other.has("không hỗ trợ hội chợ", "cán bộ Sở Công Thương Hà Nội trả lời ngày 10/05/2017")


async def test_the_same_question_is_sent_once(app: App) -> None:
    villager = Chat(app, "v-9")
    for _ in range(2):
        await villager.say("cach nau banh chung")
        await villager.press("Gửi câu hỏi cho cán bộ")
    assert villager.has("đã được gửi (#1)")
    with app.db.transaction() as session:
        assert len(session.scalars(select(Question)).all()) == 1


async def test_only_staff_see_the_queue(app: App, chat: Chat) -> None:
    await chat.say("cach nau banh chung")
    await chat.press("Gửi câu hỏi cho cán bộ")
    await chat.say("/questions")
    assert chat.has("chỉ dành cho cán bộ")
    assert not chat.has("cach nau banh chung")
    with app.db.transaction() as session:
        assert session.scalars(select(Question)).one().status == "open"


async def test_a_reply_needs_text_and_two_staff_cannot_answer_twice(app: App) -> None:
    villager = Chat(app, "v-10")
    await villager.say("cach nau banh chung")
    await villager.press("Gửi câu hỏi cho cán bộ")
    first, second = await staff(app, "s-1"), await staff(app, "s-2")
    await first.say("/cauhoi")
    await second.say("/cauhoi")
    await first.press("Trả lời #1")
    await second.press("Trả lời #1")
    await first.say("!!")
    assert first.has("chưa đúng", "Gõ câu trả lời")  # not a real answer: asked again
    await first.say("Xin lỗi, câu này không thuộc chương trình.")
    await first.press("Không thêm")
    await second.say("Một câu trả lời khác")
    assert second.has("đã được trả lời")
    with app.db.transaction() as session:
        assert session.scalars(select(Question)).one().answer == (
            "Xin lỗi, câu này không thuộc chương trình."
        )
        assert session.scalars(select(KnowledgeEntry)).all() == []
