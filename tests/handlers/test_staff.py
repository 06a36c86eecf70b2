"""Department staff by chat: invite officers, revoke them, the file, the shortlist, /status."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import App
from storage import outbox, repository
from storage.models import AuditEntry, Invite, OutboxMessage, User
from tests.chat import Chat
from tests.people import officer, register, staff


def invite_code(chat: Chat) -> str:
    words = chat.text.replace(":", " ").split()
    return next(w for w in words if len(w) == 9 and w[4] == "-")


async def confirm_all(app: App, gla: Chat) -> None:
    """The officer confirms everything waiting, oldest first."""
    await gla.say("/pending")
    while any(label.startswith("📄") for label in gla.buttons):
        await gla.press("📄")
        await gla.press("Xác nhận")
        app.clock.advance(timedelta(minutes=1))


async def test_invite_by_chat_then_join(app: App) -> None:
    dept = staff(app)
    await dept.say("/moi")
    assert dept.has("quận/huyện/thị xã nào")
    await dept.say("gia lamm")  # a typo: suggestions
    assert dept.has("Có phải")
    await dept.press("huyện Gia Lâm")
    assert dept.has("Mã mời cho cán bộ huyện Gia Lâm", "17/05/2017 09:00", "/thamgia")
    code = invite_code(dept)

    newcomer = Chat(app, "newcomer")
    await newcomer.say(f"/thamgia {code.lower()}")  # case and dash don't matter
    assert newcomer.has("cán bộ tiếp nhận hồ sơ của huyện Gia Lâm", "0 hồ sơ")
    assert "📥 Hồ sơ chờ xác nhận" in newcomer.buttons
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "newcomer")).one()
        assert (user.role, user.unit_code) == ("officer", "GLA")
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["role.staff_added", "invite.created", "role.officer_joined"]


async def test_invite_with_the_unit_in_the_command(app: App) -> None:
    dept = staff(app)
    await dept.say("/invite Ứng Hoà")
    assert dept.has("huyện Ứng Hòa")
    await dept.say("/invite Paris")
    assert dept.has("Không tìm thấy")
    with app.db.transaction() as session:
        assert [i.unit_code for i in session.scalars(select(Invite))] == ["UHO"]


async def test_list_and_revoke_officers(app: App) -> None:
    dept = staff(app)
    await dept.say("/canbo")
    assert dept.has("Chưa có cán bộ")
    await officer(app, "gla-officer")
    await officer(app, "hdo-officer", "HDO")
    await dept.say("/canbo")
    assert dept.has("2 người", "gla-officer — huyện Gia Lâm", "hdo-officer — quận Hà Đông")
    await dept.press("Thu hồi quyền: gla-officer")
    assert dept.has("Thu hồi quyền cán bộ tiếp nhận hồ sơ của gla-officer")
    await dept.press("Không")
    assert dept.has("2 người")
    await dept.press("Thu hồi quyền: gla-officer")
    await dept.press("Có, thu hồi")
    assert dept.has("Đã thu hồi quyền của gla-officer", "1 người")
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "gla-officer")).one()
        assert (user.role, user.unit_code) == ("village", None)
        revoked = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "role.officer_revoked")
        ).one()
        assert revoked.detail["from_role"] == "officer" and revoked.detail["from_unit"] == "GLA"
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == user.id)
        ).one()
        assert "thu hồi" in notice.payload["text"]
    former = Chat(app, "gla-officer")
    await former.say("/choduyet")
    assert former.has("dành cho cán bộ tiếp nhận hồ sơ")


async def test_officers_page_five_at_a_time(app: App) -> None:
    dept = staff(app)
    for n in range(7):
        await officer(app, f"officer-{n}")
    await dept.say("/officers")
    assert dept.has("7 người", "trang 1/2", "officer-4") and not dept.has("officer-5")
    await dept.press("Trang sau")
    assert dept.has("trang 2/2", "officer-6")


async def test_export_sends_the_forwarded_list_as_xlsx_or_csv(app: App) -> None:
    dept, gla = staff(app), await officer(app)
    await register(app, "v1", "Bat Trang")
    await register(app, "v2", "Kieu Ky")
    await gla.say("/pending")
    await gla.press("Bat Trang")
    await gla.press("Xác nhận")

    await dept.say("/xuat")
    await dept.press("Excel — hồ sơ đã chuyển Sở")
    assert dept.has("1 hồ sơ")
    attachment = next(r.file for r in dept.replies if r.file)
    assert attachment.filename == "danh-sach-dang-ky-2017-05-10.xlsx"
    sheet = load_workbook(io.BytesIO(attachment.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "Bat Trang"
    assert rows[1][-2] == datetime(2017, 5, 10)  # Ngày gửi, a real date

    await dept.say("/export all")
    attachment = next(r.file for r in dept.replies if r.file)
    sheet = load_workbook(io.BytesIO(attachment.content)).active
    assert sheet is not None
    assert sorted(row[1] for row in sheet.iter_rows(min_row=2, values_only=True)) == [
        "Bat Trang", "Kieu Ky",
    ]  # fmt: skip

    await dept.say("/export csv")
    attachment = next(r.file for r in dept.replies if r.file)
    assert attachment.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(attachment.content.decode("utf-8-sig"))))
    assert table[0][0] == "Quận/huyện" and table[1][-2] == "2017-05-10"
    with app.db.transaction() as session:
        exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "export.sent"))
        assert [e.detail["rows"] for e in exports] == [1, 2, 1]


async def test_shortlist_in_the_chat_and_as_a_file(app: App) -> None:
    dept, gla, hdo = staff(app), await officer(app), await officer(app, "hdo", "HDO")
    await register(app, "v1", "Bat Trang", years="khong")
    await register(app, "v2", "Kieu Ky", items="1 2")
    await register(app, "v3", "Van Phuc", "ha dong", items="1 2")
    await dept.say("/uutien")
    assert dept.has("Chưa có hồ sơ nào được quận/huyện chuyển Sở")
    await confirm_all(app, gla)
    await confirm_all(app, hdo)
    await dept.say("/uutien")
    text = dept.text
    assert dept.has("3 làng nghề", "10 suất tập huấn", "1. Làng nghề đã được UBND")
    # Tier 2 (prior years, not all items): Kieu Ky then Van Phuc, one per unit per round;
    # tier 3 (all items, no prior years): Bat Trang.
    assert (
        text.index("1. ⭐ Kieu Ky") < text.index("2. ⭐ Van Phuc") < text.index("3. ⭐ Bat Trang")
    )
    assert dept.has("nhóm 2/4", "nhóm 3/4", "chưa đăng ký năm nào trong 2014, 2015, 2016")
    attachment = next(r.file for r in dept.replies if r.file)
    sheet = load_workbook(io.BytesIO(attachment.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Thứ tự", "Nhóm ưu tiên", "Suất tập huấn")
    assert [row[4] for row in rows[1:]] == ["Kieu Ky", "Van Phuc", "Bat Trang"]
    assert all("mục II.4" in str(row[-1]) for row in rows[1:])


async def test_staff_status_shows_the_backlog(app: App) -> None:
    dept = staff(app)
    await officer(app)
    await register(app, "v1")
    await dept.say("/trangthai")
    assert dept.has("đã gửi, chờ quận/huyện xác nhận: 1", "chờ gửi: 1", "chưa cấu hình")
    assert "📊 Tải danh sách" in dept.buttons
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "staff-1")).one()
        message = repository.enqueue(
            session, user, outbox.WEBHOOK, {"x": 1}, app.clock.now(), channel=outbox.WEBHOOK
        )
        session.flush()
        outbox.claim_due(session, outbox.WEBHOOK, app.clock.now())
        outbox.mark_retry(message, app.clock.now(), "HTTP 503: busy", timedelta(minutes=1))
    await dept.say("/status")
    assert dept.has("Chuyển sang hệ thống khác: chờ gửi: 1", "HTTP 503: busy", "09:01")


async def test_staff_help_lists_their_commands(app: App) -> None:
    dept = staff(app)
    await dept.say("/trogiup")
    assert dept.has("/moi", "/canbo", "/xuat", "/uutien")
