"""The district's review, as an officer and a village representative would have it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import App
from bot.channels.console import Console
from storage import roles
from storage.models import OutboxMessage, Registration, StatusChange, User
from tests.chat import Chat
from tests.people import officer, press_forged, register, staff


def registration(app: App, code: str) -> Registration:
    with app.db.transaction() as session:
        r = session.scalars(select(Registration).where(Registration.code == code)).one()
        r.history  # noqa: B018 - load it before the session closes
        return r


def notices_to(app: App, user_id: str) -> list[str]:
    with app.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload["text"].as_string())
                .join(User, User.id == OutboxMessage.user_id)
                .where(User.channel_user_id == user_id)
                .order_by(OutboxMessage.id)
            )
        )


async def test_pending_lists_the_units_submissions_oldest_first(app: App) -> None:
    gla = await officer(app)
    await register(app, "v1", "Bat Trang")
    app.clock.advance(timedelta(hours=1))
    await register(app, "v2", "Kieu Ky")
    await register(app, "v3", "Van Phuc", "ha dong")  # another unit
    await gla.say("/choduyet")
    assert gla.has("huyện Gia Lâm: 2 hồ sơ")
    assert gla.text.index("Bat Trang") < gla.text.index("Kieu Ky")
    assert "Van Phuc" not in gla.text
    assert gla.buttons[:2] == ["📄 HN2017-GLA-0001 — Bat Trang", "📄 HN2017-GLA-0002 — Kieu Ky"]


async def test_pending_pages_five_at_a_time(app: App) -> None:
    gla = await officer(app)
    villages = ["Bat Trang", "Kieu Ky", "Da Ton", "Ninh Hiep", "Phu Thi", "Dang Xa", "Yen Vien"]
    for n, village in enumerate(villages):
        await register(app, f"v{n}", village)
        app.clock.advance(timedelta(minutes=5))
    await gla.say("/pending")
    assert gla.has("7 hồ sơ", "trang 1/2", "5. HN2017-GLA-0005")
    assert "Dang Xa" not in gla.text
    await gla.press("Trang sau")
    assert gla.has("trang 2/2", "6. HN2017-GLA-0006 — Dang Xa", "7. HN2017-GLA-0007")
    await gla.press("Trang trước")
    assert gla.has("trang 1/2")


async def test_open_shows_every_field_and_confirm_forwards(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v1", "Bat Trang")
    await gla.say("/pending")
    await gla.press(code)
    every_field = [
        code, "Bat Trang", "xa Bat Trang", "huyện Gia Lâm", "gom su", "5427/QĐ-UBND",
        "15/03/2010", "Hợp tác xã", "HTX Bat Trang", "Nguyen Van An", "Chu nhiem",
        "0912 345 678", "Tư vấn chiến lược", "2015, 2016", "làng nghề gửi hồ sơ",
    ]  # fmt: skip
    assert gla.has(*every_field)
    await gla.press("Xác nhận, chuyển Sở")
    assert gla.has("Đã xác nhận hồ sơ", code, "Không có hồ sơ nào chờ")
    r = registration(app, code)
    assert r.status == "forwarded" and r.forwarded_at == app.clock.now()
    assert [h.to_status for h in r.history] == ["submitted", "forwarded"]
    assert any("đã được UBND huyện Gia Lâm xác nhận" in text for text in notices_to(app, "v1"))


async def test_return_needs_a_reason_and_tells_the_village_in_its_language(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v-en", "Bat Trang", language="en")
    await gla.say("/pending")
    await gla.press(code)
    await gla.press("Trả lại")
    assert gla.has("Lý do trả lại")
    await gla.say("   ")
    assert gla.has("Cần có lý do")
    await gla.say("ok")  # not a reason
    assert gla.has("Cần có lý do")
    await gla.say("x" * 600)
    assert gla.has("dài quá (tối đa 500 ký tự)")
    await gla.press("Không trả lại nữa")
    assert "✅ Xác nhận, chuyển Sở" in gla.buttons  # back on the card, nothing changed
    assert registration(app, code).status == "submitted"
    await gla.press("Trả lại")
    await gla.say("So quyet dinh chua dung, de nghi kiem tra lai")
    assert gla.has("Đã trả lại hồ sơ", code)
    r = registration(app, code)
    assert r.status == "returned"
    assert r.return_reason == "So quyet dinh chua dung, de nghi kiem tra lai"
    assert r.history[-1].note == r.return_reason
    (notice,) = [n for n in notices_to(app, "v-en") if "returned" in n]
    assert "Reason: So quyet dinh chua dung" in notice and "Fix registration" in notice


async def test_the_whole_chain_ends_in_export_and_shortlist(app: App) -> None:
    """register -> returned with a reason -> fixed and resubmitted -> confirmed -> listed."""
    gla, dept = await officer(app), staff(app)
    code = await register(app, "village", "Bat Trang")
    await gla.say("/pending")
    await gla.press(code)
    await gla.press("Trả lại")
    await gla.say("So dien thoai khong goi duoc")

    village = Chat(app, "village")
    await village.say("/trangthai")
    assert village.has("bị trả lại", "So dien thoai khong goi duoc")
    await village.press(f"Sửa hồ sơ {code}")
    assert village.has("bị trả lại với lý do", "kiểm tra lại hồ sơ")
    await village.press("Sửa")
    await village.press("Điện thoại")
    await village.say("0987 654 321")
    await village.press("Gửi hồ sơ")
    assert village.has(f"Mã hồ sơ: {code}")  # the same code
    assert any("sửa và gửi lại" in n for n in notices_to(app, "officer-gla"))

    await gla.say("/pending")
    assert gla.has("đã sửa, gửi lại")
    await gla.press(code)
    assert gla.has("quận/huyện trả lại — lý do: So dien thoai khong goi duoc",
                   "làng nghề sửa và gửi lại (đã sửa: Điện thoại)", "0987 654 321")  # fmt: skip
    await gla.press("Xác nhận")

    with app.db.transaction() as session:
        (r,) = session.scalars(select(Registration)).all()  # still one registration
        assert (r.code, r.status, r.contact_phone) == (code, "forwarded", "0987654321")
        history = session.scalars(select(StatusChange).order_by(StatusChange.id)).all()
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, "submitted"), ("submitted", "returned"), ("returned", "submitted"),
            ("submitted", "forwarded"),
        ]  # fmt: skip

    await dept.say("/export xlsx")
    sheet = load_workbook(BytesIO(dept.replies[0].file.content)).active  # type: ignore[union-attr]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][rows[0].index("Mã hồ sơ")] == code
    assert rows[1][rows[0].index("Điện thoại")] == "0987654321"
    await dept.say("/uutien")
    assert dept.has(f"1. ⭐ Bat Trang — huyện Gia Lâm ({code})", "nhóm 1/4", "mục II.4")


async def test_a_second_officer_is_told_it_was_already_handled(app: App) -> None:
    first = await officer(app, "gla-1")
    second = await officer(app, "gla-2")
    code = await register(app, "v1")
    for person in (first, second):
        await person.say("/pending")
        await person.press(code)
    await second.press("Trả lại")  # the second is typing a reason...
    await first.press("Xác nhận")
    await second.say("Thieu giay to")
    assert second.has("đã được xử lý trước đó", "chuyển Sở")
    r = registration(app, code)
    assert r.status == "forwarded" and r.return_reason is None
    assert [h.to_status for h in r.history] == ["submitted", "forwarded"]


async def test_two_officers_confirming_at_once_forward_it_once(app: App) -> None:
    first = await officer(app, "gla-1")
    second = await officer(app, "gla-2")
    code = await register(app, "v1")
    for person in (first, second):
        await person.say("/pending")
        await person.press(code)
    await asyncio.gather(first.press("Xác nhận"), second.press("Xác nhận"))
    confirmed = [person.has("Đã xác nhận hồ sơ") for person in (first, second)]
    told = [person.has("đã được xử lý trước đó") for person in (first, second)]
    assert sorted(confirmed) == [False, True] and sorted(told) == [False, True]
    r = registration(app, code)
    assert [h.to_status for h in r.history] == ["submitted", "forwarded"]


async def test_a_forged_payload_for_another_units_registration_is_refused(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v1", "Van Phuc", "ha dong")
    other = registration(app, code)
    await gla.say("/pending")
    # Even if a payload for another unit's registration got past the router (offered by
    # the last answer, as a compromised or buggy channel could make it look), the
    # handler refuses it: checked against the officer's unit on the server.
    for payload in (f"rv:list:{other.id}", f"rv:card:confirm.{other.id}",
                    f"rv:card:return.{other.id}"):  # fmt: skip
        await press_forged(gla, payload)
        assert gla.has("Không tìm thấy hồ sơ này"), gla.text
        assert "Van Phuc" not in gla.text
    assert registration(app, code).status == "submitted"
    assert [h.to_status for h in registration(app, code).history] == ["submitted"]


async def test_an_officer_moved_to_another_unit_cannot_use_old_buttons(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v1")
    await gla.say("/pending")
    await gla.press(code)  # offered: confirm/return for a Gia Lâm registration
    with app.db.transaction() as session:  # staff moves them to Hà Đông meanwhile
        invite, _ = roles.create_invite(session, "HDO", app.clock.now(), created_by=None)
    await gla.say(f"/join {invite}")
    assert gla.has("quận Hà Đông")
    confirm = f"rv:card:confirm.{registration(app, code).id}"
    await gla.send(gla.event(kind="button", payload=confirm))
    assert gla.has("không còn hiệu lực")  # the router: not offered by the last answer
    await press_forged(gla, confirm)  # and even if it were, the handler says no
    assert gla.has("Không tìm thấy hồ sơ này")
    assert registration(app, code).status == "submitted"


async def test_a_revoked_officer_mid_review_is_stopped(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v1")
    await gla.say("/pending")
    await gla.press(code)
    await gla.press("Trả lại")
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "officer-gla")).one()
        roles.revoke_officer(session, user, app.clock.now(), actor=None)
    await gla.say("Thieu giay to")  # the reason, typed after the role was taken away
    assert not gla.has("Đã trả lại")
    assert registration(app, code).status == "submitted"
    await gla.say("/pending")
    assert gla.has("dành cho cán bộ tiếp nhận hồ sơ")


async def test_officer_status_shows_what_waits(app: App) -> None:
    gla = await officer(app)
    await gla.say("/trangthai")
    assert gla.has("Không có hồ sơ nào chờ")
    await register(app, "v1")
    await gla.say("/trangthai")
    assert gla.has("huyện Gia Lâm: 1 hồ sơ chờ xác nhận", "HN2017-GLA-0001", "10/05/2017 09:00")


async def test_fixing_needs_the_registration_to_still_be_returned(app: App) -> None:
    gla = await officer(app)
    code = await register(app, "v1")
    await gla.say("/pending")
    await gla.press(code)
    await gla.press("Trả lại")
    await gla.say("Thieu giay to")
    village = Chat(app, "v1")
    await village.say("/trangthai")
    await village.press("Sửa hồ sơ")
    assert village.has("kiểm tra lại hồ sơ")
    await village.press("Gửi hồ sơ")
    await village.say("/trangthai")
    assert village.has("chờ quận/huyện xác nhận")
    fix = f"edit:{registration(app, code).id}"  # the fix button of an old /trangthai
    await press_forged(village, fix)
    assert village.has("không còn ở trạng thái «bị trả lại»")
    assert [h.to_status for h in registration(app, code).history] == [
        "submitted", "returned", "submitted",
    ]  # fmt: skip


async def test_a_returned_notice_carries_a_working_fix_button(app: App) -> None:
    """The village taps the button on the notice itself, later, in its own language."""
    officer_chat = await officer(app, "notice-officer", unit="HDO")
    code = await register(app, "notice-village", "Van Phuc", "ha dong", language="en")
    (submitted,) = Console(app, "notice-officer").deliver_outbox()
    await officer_chat.send(officer_chat.event(kind="button", payload=submitted.buttons[0].payload))
    assert officer_chat.has(code)  # the notice's button opened the officer's list
    await officer_chat.press("Van Phuc")
    await officer_chat.press("Trả lại")
    await officer_chat.say("Thiếu số quyết định")
    (returned,) = Console(app, "notice-village").deliver_outbox()
    assert returned.buttons[0].label.startswith("✏️") and code in returned.buttons[0].label
    village = Chat(app, "notice-village", language="en")
    await village.say("/help")  # other answers in between: the notice's button stays open
    await village.send(village.event(kind="button", payload=returned.buttons[0].payload))
    assert village.has("Please check the registration", "Van Phuc")
