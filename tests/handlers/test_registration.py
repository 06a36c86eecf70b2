"""The registration conversation, as a village representative would have it."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import ZONE
from storage.models import Consent, Conversation, Registration, StatusChange, User
from tests.chat import Chat


async def agree_and_start(chat: Chat) -> None:
    await chat.say("/start")
    await chat.press("Đăng ký")
    assert chat.has("Sở Công Thương", "91/2025/QH15")
    await chat.say("dong y")  # typed, no diacritics
    assert chat.has("nhắc hạn")
    await chat.press("Có, nhận tin")
    assert chat.has("(1/15)", "Tên làng nghề")


async def fill_until_summary(chat: Chat, village: str = "Bat Trang") -> None:
    await agree_and_start(chat)
    for answer, expect in [
        (village, "xã/phường"),
        ("xa Bat Trang", "quận/huyện/thị xã"),
        ("gia lam", "nghề gì"),
        ("gom su", "số quyết định"),
        ("Quyet dinh so 5427/qd-ubnd", "ngày nào"),
        ("15/3/2010", "Đại diện làng nghề"),
        ("2", "Tên đầy đủ"),  # the second button: cooperative
        ("HTX Gom su Bat Trang", "pháp nhân"),
        ("co", "Họ tên người liên hệ"),
        ("Nguyễn Văn An", "Chức vụ"),
        ("Chu nhiem HTX", "Số điện thoại"),
        ("0912.345.678", "Email"),
    ]:
        await chat.say(answer)
        assert chat.has(expect), (answer, chat.text)
    await chat.press("Bỏ qua")
    assert chat.has("nội dung hỗ trợ")
    await chat.press("cả 3")
    assert chat.has("2014, 2015, 2016")
    await chat.say("2015 2016")
    assert chat.has("kiểm tra lại hồ sơ")


async def test_whole_registration_without_diacritics(chat: Chat, app: App) -> None:
    await fill_until_summary(chat)
    assert chat.has("Bat Trang", "huyện Gia Lâm", "5427/QĐ-UBND", "15/03/2010", "0912 345 678")
    await chat.press("Gửi hồ sơ")
    assert chat.has("HN2017-GLA-0001", "huyện Gia Lâm", "31/05/2017")

    with app.db.transaction() as session:
        registration = session.scalars(select(Registration)).one()
        assert registration.status == "submitted"
        assert registration.unit_code == "GLA"
        assert registration.decision_number == "5427/QĐ-UBND"
        assert registration.decision_date == date(2010, 3, 15)
        assert registration.contact_phone == "0912345678"
        assert registration.rep_type == "cooperative"
        assert registration.items == ["training", "identity", "strategy"]
        assert registration.prior_years == [2015, 2016]
        history = session.scalars(select(StatusChange)).all()
        assert [h.to_status for h in history] == ["submitted"]
        purposes = {(c.purpose, c.granted) for c in session.scalars(select(Consent))}
        assert purposes == {("registration", True), ("followup", True)}


async def test_status_lists_my_registration(chat: Chat) -> None:
    await fill_until_summary(chat)
    await chat.press("Gửi hồ sơ")
    await chat.say("/trangthai")
    assert chat.has("HN2017-GLA-0001", "Bat Trang", "chờ quận/huyện xác nhận")


async def test_no_consent_stores_nothing(chat: Chat, app: App) -> None:
    await chat.say("/dangky")
    await chat.press("Không đồng ý")
    assert chat.has("không lưu thông tin")
    assert "📝 Đăng ký" in chat.buttons  # a way back in
    with app.db.transaction() as session:
        assert session.scalars(select(Consent)).all() == []
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.flow is None and conversation.data == {}


async def test_edit_an_answer_from_the_summary(chat: Chat, app: App) -> None:
    await fill_until_summary(chat)
    await chat.press("Sửa")
    await chat.press("Điện thoại")
    assert chat.has("Số điện thoại")
    await chat.say("+84 98 765 4321")
    assert chat.has("kiểm tra lại hồ sơ", "0987 654 321")  # straight back to the summary
    await chat.press("Gửi hồ sơ")
    with app.db.transaction() as session:
        assert session.scalars(select(Registration)).one().contact_phone == "0987654321"


async def test_same_village_twice_shows_the_existing_code(app: App) -> None:
    first, second = Chat(app, "a"), Chat(app, "b")
    await fill_until_summary(first)
    await first.press("Gửi hồ sơ")
    await fill_until_summary(second, village="Bát Tràng")
    await second.press("Gửi hồ sơ")
    assert second.has("đã có hồ sơ mã HN2017-GLA-0001")
    with app.db.transaction() as session:
        assert len(session.scalars(select(Registration)).all()) == 1


async def test_codes_count_per_unit(app: App) -> None:
    for n, village in enumerate(["Bat Trang", "Kieu Ky"]):
        chat = Chat(app, f"u{n}")
        await fill_until_summary(chat, village=village)
        await chat.press("Gửi hồ sơ")
        assert chat.has(f"HN2017-GLA-000{n + 1}")


async def test_pause_and_resume_keeps_every_answer(chat: Chat) -> None:
    await agree_and_start(chat)
    await chat.say("Van Phuc")
    await chat.say("/huy")
    assert chat.has("Bản nháp được giữ")
    await chat.say("/start")
    assert chat.has("hồ sơ làm dở", "Van Phuc")
    await chat.press("Tiếp tục")
    assert chat.has("(2/15)", "xã/phường")


async def test_start_in_the_middle_offers_to_continue_where_it_stopped(chat: Chat) -> None:
    await agree_and_start(chat)
    await chat.say("Van Phuc")
    await chat.say("Van Phuc ward")
    await chat.say("/start")
    assert chat.has("hồ sơ làm dở")
    await chat.press("Tiếp tục")
    assert chat.has("(3/15)")
    await chat.say("/dangky")
    await chat.press("Làm lại")
    assert chat.has("(1/15)")


async def test_back_goes_to_the_previous_question(chat: Chat) -> None:
    await agree_and_start(chat)
    await chat.say("Van Phuc")
    await chat.press("Quay lại")
    assert chat.has("(1/15)")
    await chat.say("/quaylai")
    assert chat.has("câu đầu tiên")


async def test_unit_spellings_and_typos(chat: Chat) -> None:
    await agree_and_start(chat)
    await chat.say("Quang Phu Cau")
    await chat.say("xa Quang Phu Cau")
    await chat.say("Huyện Ứng Hoà")
    assert chat.has("(4/15)"), chat.text
    await chat.press("Quay lại")
    await chat.say("thuong tinn")
    assert chat.has("Có phải")
    assert "huyện Thường Tín" in chat.buttons
    await chat.press("Thường Tín")
    assert chat.has("(4/15)")
    await chat.press("Quay lại")
    await chat.say("Paris")
    assert chat.has("Không tìm thấy")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("", "chưa gõ gì"),
        ("x" * 1001, "dài quá"),
        ("!!!", "chưa đúng"),
    ],
)
async def test_bad_text_answers_change_nothing(chat: Chat, answer: str, error: str) -> None:
    await agree_and_start(chat)
    await chat.say(answer)
    assert chat.has(error)
    assert chat.has("(1/15)")  # asked again, still the first question


async def reach(chat: Chat, step_marker: str, answers: list[str]) -> None:
    await agree_and_start(chat)
    for answer in answers:
        await chat.say(answer)
    assert chat.has(step_marker), chat.text


BEFORE_DECISION = ["Bat Trang", "xa Bat Trang", "Gia Lam", "gom su"]
BEFORE_PHONE = [*BEFORE_DECISION, "5427/QĐ-UBND", "15/03/2010", "1", "UBND xa Bat Trang", "có",
                "Nguyen Van An", "Chu tich"]  # fmt: skip


async def test_decision_date_in_the_future_is_refused(chat: Chat) -> None:
    await reach(chat, "(6/15)", [*BEFORE_DECISION, "5427/QĐ-UBND"])
    await chat.say("01/06/2017")  # the clock says 10 May 2017
    assert chat.has("không thể sau hôm nay (10/05/2017)", "(6/15)")
    await chat.say("31/02/2010")
    assert chat.has("không có trên lịch")
    await chat.say("hom qua")
    assert chat.has("ngày/tháng/năm")


async def test_wrong_decision_number(chat: Chat) -> None:
    await reach(chat, "(5/15)", BEFORE_DECISION)
    await chat.say("abc")
    assert chat.has("5427/QĐ-UBND", "(5/15)")


async def test_not_recognised_village_is_told_why_and_keeps_its_draft(chat: Chat) -> None:
    await reach(chat, "(5/15)", BEFORE_DECISION)
    await chat.press("Chưa được công nhận")
    assert chat.has("II.3", "chưa đủ điều kiện", "Bản nháp")
    await chat.press("Nhập số quyết định")
    assert chat.has("(5/15)")


async def test_representative_must_be_a_legal_entity(chat: Chat) -> None:
    await reach(chat, "(9/15)", [*BEFORE_DECISION, "5427/QĐ-UBND", "15/03/2010", "3", "Hoi gom"])
    await chat.press("Không")
    assert chat.has("III.4", "(7/15)")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("0912 345 678", "0912345678"), ("+84912345678", "0912345678"),
     ("024.3812.3456", "02438123456"), ("84 912 345 678", "0912345678")],
)  # fmt: skip
async def test_phone_forms(chat: Chat, app: App, typed: str, stored: str) -> None:
    await reach(chat, "(12/15)", BEFORE_PHONE)
    await chat.say(typed)
    assert chat.has("(13/15)"), chat.text
    with app.db.transaction() as session:
        draft = session.scalars(select(Conversation)).one().data
    assert draft["contact_phone"] == stored


async def test_wrong_and_old_phone_numbers(chat: Chat) -> None:
    await reach(chat, "(12/15)", BEFORE_PHONE)
    await chat.say("12345")
    assert chat.has("chưa đúng", "(12/15)")
    await chat.say("0168 123 4567")  # Viettel's old 11-digit number
    assert chat.has("số cũ", "0381 234 567"), chat.text
    await chat.press("Dùng số")
    assert chat.has("(13/15)")
    await chat.press("Quay lại")
    await chat.say("04 3812 3456")  # Hanoi's landlines gained a 2 in 2017
    assert chat.has("số cũ", "024 3812 3456")


async def test_stickers_unknown_commands_and_old_buttons(chat: Chat, app: App) -> None:
    await agree_and_start(chat)
    await chat.sticker()
    assert chat.has("chỉ đọc được tin nhắn chữ", "(1/15)")
    await chat.say("/abc")
    assert chat.has("chưa hiểu lệnh /abc", "(1/15)")
    old = chat.event(kind="button", payload="reg:consent:yes")  # from an earlier message
    await chat.send(old)
    assert chat.has("không còn hiệu lực", "(1/15)")
    forged = chat.event(kind="button", payload="reg:summary:submit")
    await chat.send(forged)
    assert chat.has("không còn hiệu lực")
    with app.db.transaction() as session:
        assert session.scalars(select(Registration)).all() == []


async def test_redelivered_message_is_handled_once(chat: Chat, app: App) -> None:
    await agree_and_start(chat)
    event = chat.event(text="Bat Trang")
    assert (await app.dispatcher.handle(event)).replies
    again = await app.dispatcher.handle(event)
    assert again.duplicate and again.replies == []
    with app.db.transaction() as session:
        assert session.scalars(select(Conversation)).one().step == "commune"


async def test_english_speaker(app: App) -> None:
    chat = Chat(app, "en-user", language="en")
    await chat.say("/start")
    assert chat.has("Hello")
    await chat.press("Register")
    assert chat.has("Data controller", "Department of Industry and Trade")
    await chat.say("yes")
    await chat.press("Yes, send me updates")
    assert chat.has("(1/15)", "village's name")


async def test_language_switch(chat: Chat, app: App) -> None:
    await chat.say("/ngonngu")
    await chat.press("English")
    assert chat.has("Switched to English")
    with app.db.transaction() as session:
        assert session.scalars(select(User)).one().language == "en"


async def test_registrations_close_with_the_plan_window(chat: Chat, app: App) -> None:
    app.clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=ZONE), frozen=True)
    await chat.say("/dangky")
    assert chat.has("01/05/2017", "31/05/2017", "II.6", "hết hạn")
    assert "📋 Trạng thái hồ sơ" in chat.buttons


async def test_registrations_not_open_before_may(chat: Chat, app: App) -> None:
    app.clock.set(datetime(2017, 4, 20, 9, 0, tzinfo=ZONE), frozen=True)
    await chat.say("/dangky")
    assert chat.has("chưa đến thời gian", "01/05/2017")


async def test_a_draft_finished_after_the_deadline_is_kept_not_sent(chat: Chat, app: App) -> None:
    await fill_until_summary(chat)
    app.clock.set(datetime(2017, 6, 2, 9, 0, tzinfo=ZONE), frozen=True)
    await chat.press("Gửi hồ sơ")
    assert chat.has("hết hạn")
    with app.db.transaction() as session:
        assert session.scalars(select(Registration)).all() == []
        assert session.scalars(select(Conversation)).one().data["village"] == "Bat Trang"
