"""/thongbao: staff announce to a chosen audience, see the preview, the progress, the report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.scheduler import for_app
from bot.sender import OutboxSender
from storage.models import Broadcast, OutboxMessage, User
from tests.chat import Chat
from tests.season import Platform, draft, person, register, rows


async def staff_chat(app: App, who: str = "staff-1") -> Chat:
    chat = Chat(app, who)
    await chat.say("/start")
    with app.db.transaction() as session:  # roles come from /invite (another feature)
        session.execute(update(User).where(User.channel_user_id == who).values(role="staff"))
    return chat


def mixed_audience(app: App) -> dict[str, int]:
    """Villages on Telegram and Zalo, reachable or not, with and without consent."""
    now = app.clock.now()
    week_ago, long_ago = now - timedelta(days=2), now - timedelta(days=20)
    ids = {
        "tg-an": person(app, "101", channel="telegram", name="An"),
        "tg-binh": person(app, "102", channel="telegram", name="Bình"),  # blocks the bot soon
        "tg-old": person(app, "103", channel="telegram", name="Cường", reachable=False),
        "zl-recent": person(app, "z-1", channel="zalo", name="Dung", last_seen=week_ago),
        "zl-follower": person(app, "z-2", channel="zalo", name="Em", last_seen=long_ago),
        "zl-gone": person(
            app, "z-3", channel="zalo", name="Giang", last_seen=long_ago, following=False
        ),
        "tg-no": person(app, "104", channel="telegram", name="Hà", consent=False),
    }
    villages = [
        ("tg-an", "GLA", "Bát Tràng"),
        ("tg-binh", "TTI", "Hạ Thái"),
        ("zl-recent", "GLA", "Kiêu Kỵ"),
        ("zl-follower", "HDO", "Vạn Phúc"),
    ]
    for key, unit, village in villages:
        register(app, ids[key], unit, village)
    return ids


async def test_non_staff_cannot_broadcast(chat: Chat, app: App) -> None:
    await chat.say("/thongbao")
    assert chat.has("chỉ dành cho cán bộ Sở Công Thương")
    await chat.send(chat.event(kind="button", payload="bc:preview:send"))  # forged
    with app.db.transaction() as session:
        assert session.scalars(select(Broadcast)).all() == []


async def test_broadcast_to_a_mixed_audience_reports_each_outcome(app: App) -> None:
    ids = mixed_audience(app)
    chat = await staff_chat(app)
    await chat.say("/thongbao")
    assert chat.has("gõ nội dung thông báo", "{village}", "{code}")
    await chat.say("Kính gửi làng nghề {village} (hồ sơ {code}): hội nghị tập huấn ngày 20/6.")
    assert chat.has("Gửi cho ai?")
    await chat.press("Tất cả đại diện làng nghề")
    assert chat.has("Số người nhận: 6")
    assert chat.has("Telegram: 3 (gửi trực tiếp: 2; không gửi được: 1)")
    assert chat.has(
        "Zalo: 3 (tin tư vấn, đã tương tác trong 7 ngày: 1; "
        "tin truyền thông cho người quan tâm OA, 6:00–21:59: 1; không gửi được: 1)"
    )
    assert chat.has(
        "Không gửi được cho: Cường (Forbidden: bot was blocked by the user), "
        "Giang (không quan tâm OA và không nhắn tin trong 7 ngày)"
    )
    assert chat.has("Không tính 1 người chưa đồng ý nhận thông báo")
    await chat.press("Danh sách người nhận")
    file = chat.replies[0].file
    assert file is not None
    table = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert table[0] == [
        "Kênh",
        "Mã người dùng",
        "Tên",
        "Làng nghề",
        "Mã hồ sơ",
        "Cách gửi",
        "Lý do không gửi được",
    ]
    assert ["zalo", "z-2", "Em", "Vạn Phúc", "HN2017-HDO-0001", "tin truyền thông", ""] in table
    await chat.press("Gửi ngay")
    assert chat.has("Đã bắt đầu gửi thông báo #1 tới 6 người")

    scheduler = for_app(app)
    scheduler.tick()  # expands the broadcast into outbox rows
    telegram, zalo = Platform("telegram", blocked={"102"}), Platform("zalo")
    for platform in (telegram, zalo):
        sender = OutboxSender(app.db, app.clock, platform)
        while await sender.run_once():
            pass
    scheduler.tick()  # nothing waits any more: the report
    first = "Kính gửi làng nghề Bát Tràng (hồ sơ HN2017-GLA-0001): hội nghị tập huấn ngày 20/6."
    assert sorted(telegram.received)[0][:2] == ("101", first)
    assert sorted(who for who, _, _ in zalo.received) == ["z-1", "z-2"]
    report = rows(app, kind="staff", dedupe_key="bc:1:report")[0].payload["text"]
    assert report.splitlines() == [
        "Thông báo #1 đã gửi xong (6 người nhận):",
        "• Đã gửi tới: 3",
        "• Gửi không thành công: 1",
        "   – Forbidden: bot was blocked by the user: 1",
        "• Không liên lạc được: 2",
        "   – Forbidden: bot was blocked by the user: 1",
        "   – không quan tâm OA và không nhắn tin trong 7 ngày: 1",
    ]
    assert ids["tg-no"] not in {m.user_id for m in rows(app, kind="broadcast")}


async def test_audience_by_unit_and_by_status(app: App) -> None:
    mixed_audience(app)
    chat = await staff_chat(app)
    await chat.say("/broadcast")
    await chat.say("Họp các làng nghề {village}")
    await chat.press("Theo quận/huyện")
    await chat.say("gia lam, Thuong Tin, Quan Hoan Kiem")
    assert chat.has("Số người nhận: 3", "(bản gửi cho An)", "Họp các làng nghề Bát Tràng")
    await chat.press("Đổi người nhận")
    await chat.press("Theo trạng thái hồ sơ")
    await chat.press("trả lại")
    await chat.press("Xong")
    assert chat.has("Không có ai để gửi")
    await chat.press("Đổi người nhận")
    await chat.press("Theo quận/huyện")
    await chat.say("Ha Tay")
    assert chat.has("chưa nhận ra quận/huyện/thị xã: Ha Tay")


async def test_bad_placeholders_are_explained(app: App) -> None:
    chat = await staff_chat(app)
    await chat.say("/thongbao")
    await chat.say("Kính gửi {ten_lang}")
    assert chat.has("«{ten_lang}» mà bot không điền được", "{village}, {code}")
    await chat.press("Hủy")
    assert chat.has("Đã dừng. Anh/chị muốn làm gì tiếp?")
    with app.db.transaction() as session:
        assert session.scalars(select(Broadcast)).all() == []


async def test_stop_a_running_broadcast(app: App) -> None:
    for n in range(6):
        person(app, str(200 + n), channel="telegram")
    chat = await staff_chat(app)
    await chat.say("/thongbao")
    await chat.say("Thông báo thử")
    await chat.press("Tất cả đại diện")
    await chat.press("Gửi ngay")
    scheduler = for_app(app)
    scheduler.tick()
    platform = Platform("telegram")
    await OutboxSender(app.db, app.clock, platform, batch=2).run_once()  # 2 of 6 go out
    await chat.say("/thongbao")
    assert chat.has("#1 «Thông báo thử»: đang gửi, xong 2/6, đã nhận 2")
    await chat.press("Dừng #1")
    assert chat.has("Dừng thông báo #1? 4 tin chưa gửi")
    await chat.press("Dừng gửi")
    assert chat.has("Đã dừng thông báo #1: 4 tin không gửi nữa")
    await OutboxSender(app.db, app.clock, platform).run_once()
    assert len(platform.received) == 2
    scheduler.tick()
    report = rows(app, kind="staff", dedupe_key="bc:1:report")[0].payload["text"]
    assert "Thông báo #1 đã dừng (6 người nhận)" in report
    assert "• Đã dừng, không gửi: 4" in report and "• Đã gửi tới: 2" in report
    with app.db.transaction() as session:
        assert session.scalars(select(Broadcast)).one().status == "cancelled"
        query = select(OutboxMessage.status).where(OutboxMessage.kind == "broadcast")
        statuses = session.scalars(query).all()
        assert sorted(statuses) == ["cancelled"] * 4 + ["sent"] * 2


async def test_progress_notes_reach_the_staff_member(app: App) -> None:
    for n in range(8):
        person(app, str(300 + n), channel="telegram")
    chat = await staff_chat(app)
    await chat.say("/thongbao")
    await chat.say("Thông báo")
    await chat.press("Tất cả đại diện")
    await chat.press("Gửi ngay")
    scheduler = for_app(app)
    scheduler.tick()
    sender = OutboxSender(app.db, app.clock, Platform("telegram"), batch=2)
    for _ in range(4):
        await sender.run_once()
        scheduler.tick()
    notes = [m.payload["text"] for m in rows(app, kind="staff")]
    assert notes == [
        "Thông báo #1: đã xử lý 2/8 (25%).",
        "Thông báo #1: đã xử lý 4/8 (50%).",
        "Thông báo #1: đã xử lý 6/8 (75%).",
        notes[-1],
    ]
    assert notes[-1].startswith("Thông báo #1 đã gửi xong (8 người nhận):")


async def test_a_draft_names_the_village_and_missing_values_are_announced(app: App) -> None:
    draft(app, person(app, "401", channel="telegram", name="An"), "Bát Tràng")
    person(app, "402", channel="telegram", name="Bình")  # nothing started yet
    chat = await staff_chat(app)
    await chat.say("/thongbao")
    await chat.say("Kính gửi làng nghề {village} (hồ sơ {code})")
    await chat.press("Tất cả đại diện")
    assert chat.has("Kính gửi làng nghề Bát Tràng (hồ sơ )")
    assert chat.has("1 người nhận chưa có hồ sơ: chỗ {village} trong tin của họ sẽ để trống")
    assert chat.has("2 người nhận chưa có hồ sơ: chỗ {code} trong tin của họ sẽ để trống")
