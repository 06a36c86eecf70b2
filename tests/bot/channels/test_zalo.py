"""The Zalo OA channel, as a person on Zalo has it: signed webhooks from the fake OA to the
bot's real web server on 127.0.0.1, and the bot's answers through `message/cs`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from sqlalchemy import func, select

from bot.app import App
from bot.channels.zalo import render, reply_payloads, split_text
from bot.clock import Clock
from bot.events import Attachment, Button, Reply
from storage import inbox, repository
from storage.models import AuditEntry, Conversation, InboxEvent, OutboxMessage, Registration, User
from tests.fakes import FakeZaloOA, ZaloSentMessage, zalo_signature
from tests.zalo import ZaloBot, ZaloUser, running_bot

USER = "5417089812345678901"


@pytest_asyncio.fixture
async def zalo() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        yield fake


@pytest_asyncio.fixture
async def bot(db_url: str, zalo: FakeZaloOA, clock: Clock) -> AsyncIterator[ZaloBot]:
    async with running_bot(db_url, zalo, clock) as running:
        yield running


@pytest_asyncio.fixture
async def user(zalo: FakeZaloOA, bot: ZaloBot) -> ZaloUser:
    return ZaloUser(zalo, bot, USER)


def assert_valid_for_zalo(messages: list[ZaloSentMessage]) -> None:
    """What Zalo takes: plain text up to 2,000 characters, at most 5 query buttons."""
    for message in messages:
        assert message.text is None or len(message.text) <= 2000
        assert len(message.buttons) <= 5
        assert all(b.type == "oa.query.show" for b in message.buttons)


def count(app: App, model: type[object]) -> int:
    with app.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- a whole registration ---------------------------------------------------------------------


async def test_a_whole_registration_over_signed_webhooks(user: ZaloUser, bot: ZaloBot) -> None:
    await user.say("/start")
    assert user.has("Xin chào")
    assert "📝 Đăng ký" in user.buttons
    await user.tap("Đăng ký")
    assert user.has("Sở Công Thương", "91/2025/QH15")
    await user.say("dong y")  # typed, no diacritics
    await user.tap("Có, nhận tin")
    assert user.has("(1/15)", "Tên làng nghề")
    for answer, expect in [
        ("Bat Trang", "xã/phường"),
        ("xa Bat Trang", "quận/huyện/thị xã"),
        ("gia lam", "nghề gì"),
        ("gom su", "số quyết định"),
        ("Quyet dinh so 5427/qd-ubnd", "ngày nào"),
        ("15/3/2010", "Đại diện làng nghề"),
    ]:
        await user.say(answer)
        assert user.has(expect), (answer, user.text)
        assert_valid_for_zalo(user.turn)
    assert user.buttons == [
        "UBND cấp xã", "Hợp tác xã", "Hội, hiệp hội ngành nghề", "⬅ Quay lại", "⏸ Tạm dừng"
    ]  # fmt: skip
    await user.tap("Hợp tác xã")
    assert user.has("Tên đầy đủ")
    for answer, expect in [
        ("HTX Gom su Bat Trang", "pháp nhân"),
        ("co", "Họ tên người liên hệ"),
        ("Nguyễn Văn An", "Chức vụ"),
        ("Chu nhiem HTX", "Số điện thoại"),
        ("0912.345.678", "Email"),
    ]:
        await user.say(answer)
        assert user.has(expect), (answer, user.text)
    await user.tap("Bỏ qua")
    # Seven choices: more than Zalo's five buttons, so they come as numbered lines.
    assert user.has("nội dung hỗ trợ", "gõ số để chọn", "[4] Chọn cả 3 nội dung", "[5] Xong")
    assert user.buttons == []
    await user.say("4")
    assert user.has("2014, 2015, 2016")
    await user.say("2015 2016")
    assert user.has("kiểm tra lại hồ sơ", "Bat Trang", "huyện Gia Lâm", "0912 345 678")
    await user.tap("Gửi hồ sơ")
    assert user.has("HN2017-GLA-0001", "huyện Gia Lâm", "31/05/2017")

    with bot.app.db.transaction() as session:
        registration = session.scalars(select(Registration)).one()
        assert (registration.status, registration.rep_type) == ("submitted", "cooperative")
        assert registration.items == ["training", "identity", "strategy"]
        owner = session.get(User, registration.user_id)
        assert owner is not None and (owner.channel, owner.channel_user_id) == ("zalo", USER)
        assert inbox.backlog(session, "zalo") == {"done": len(user.zalo.webhook_posts)}
        replies = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply")).all()
        assert {m.status for m in replies} == {"sent"}
        # Neither the inbox nor the outbox keeps copies of what was said.
        assert all(m.payload == {} for m in replies)
        assert set(session.scalars(select(InboxEvent.body))) == {""}
    assert all(post.status == 200 for post in user.zalo.webhook_posts)


async def test_a_tap_on_an_old_button_is_not_taken_as_an_answer(
    user: ZaloUser, bot: ZaloBot
) -> None:
    await user.say("/start")
    await user.tap("Đăng ký")
    await user.say("dong y")
    await user.tap("Có, nhận tin")
    assert user.has("Tên làng nghề")
    await user.tap_payload("menu:status")  # a button of the first menu, scrolled up to
    assert user.has("không còn hiệu lực", "Tên làng nghề")
    with bot.app.db.transaction() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.step, conversation.data.get("village")) == ("village", None)


async def test_more_than_five_choices_are_numbered_across_the_turn() -> None:
    replies = [
        Reply("Chọn một:", (Button("Có", "x:yes"), Button("Không", "x:no"))),
        Reply("Hoặc sửa:", tuple(Button(f"Mục {n}", f"x:edit:{n}") for n in range(1, 8))),
    ]
    first, second = reply_payloads(replies)
    messages = render(first, choose_hint="Gõ số:")
    assert [b["payload"] for b in messages[0]["attachment"]["payload"]["buttons"]] == [
        "x:yes",
        "x:no",
    ]
    messages = render(second, choose_hint="Gõ số:")
    assert messages == [{"text": "Hoặc sửa:\n\nGõ số:\n" + "\n".join(
        f"[{n + 2}] Mục {n}" for n in range(1, 8))}]  # fmt: skip


# --- receiving: signatures, redeliveries, what is ignored --------------------------------------


async def test_forged_and_unsigned_deliveries_are_refused_and_change_nothing(
    zalo: FakeZaloOA, bot: ZaloBot
) -> None:
    zalo.add_user(USER)
    assert await zalo.post_unsigned() == 200  # the check when the URL is registered
    assert await zalo.post_forged() == 401
    event = {
        "app_id": zalo.app_id,
        "sender": {"id": USER},
        "recipient": {"id": zalo.oa_id},
        "event_name": "user_send_text",
        "message": {"text": "/start", "msg_id": "f1"},
        "timestamp": "1494381600000",
    }
    assert await zalo.post_unsigned(event) == 401
    body = json.dumps(event).encode()
    good = zalo_signature(zalo.app_id, body, "1494381600000", zalo.oa_secret_key)
    tampered = body.replace(b"/start", b"/dangky")
    assert await zalo.post_raw(tampered, {"X-ZEvent-Signature": f"mac={good}"}) == 401
    reserialised = json.dumps(event, indent=1).encode()  # same JSON, other bytes
    assert await zalo.post_raw(reserialised, {"X-ZEvent-Signature": f"mac={good}"}) == 401
    await bot.channel.wait_idle()
    assert (count(bot.app, InboxEvent), count(bot.app, User)) == (0, 0)
    assert zalo.sent_to(USER) == []
    # The same bytes with their right signature are taken.
    assert await zalo.post_raw(body, {"X-ZEvent-Signature": f"mac={good}"}) == 200
    await bot.channel.wait_idle()
    assert zalo.sent_to(USER)


async def test_the_timestamp_may_come_in_a_header(zalo: FakeZaloOA, bot: ZaloBot) -> None:
    zalo.add_user(USER)
    event = {
        "app_id": zalo.app_id,
        "sender": {"id": USER},
        "recipient": {"id": zalo.oa_id},
        "event_name": "user_send_text",
        "message": {"text": "/start", "msg_id": "h1"},
    }
    body = json.dumps(event).encode()
    mac = zalo_signature(zalo.app_id, body, "1494381600000", zalo.oa_secret_key)
    headers = {"X-ZEvent-Signature": f"mac={mac}", "X-ZEvent-Timestamp": "1494381600000"}
    assert await zalo.post_raw(body, headers) == 200
    await bot.channel.wait_idle()
    assert zalo.sent_to(USER)


async def test_a_redelivered_webhook_is_handled_once(user: ZaloUser, bot: ZaloBot) -> None:
    await user.say("/start")
    assert await user.zalo.redeliver_last() == 200
    assert await user.zalo.redeliver_last() == 200
    await user.wait()
    assert user.turn == []  # no second welcome
    assert count(bot.app, InboxEvent) == 1


async def test_receipts_and_echoes_are_ignored(user: ZaloUser, bot: ZaloBot) -> None:
    await user.say("/start")
    stored = count(bot.app, InboxEvent)
    assert await user.zalo.user_received_message(USER) == 200
    assert await user.zalo.user_seen_message(USER) == 200
    assert await user.zalo.oa_send_text(USER, "Xin chào") == 200
    assert await user.zalo.click_chatnow(USER) == 200
    await user.wait()
    assert user.turn == []
    assert count(bot.app, InboxEvent) == stored


async def test_stickers_images_and_locations_get_a_polite_answer(user: ZaloUser) -> None:
    await user.say("/start")
    await user.tap("Đăng ký")
    await user.say("dong y")
    await user.tap("Có, nhận tin")
    for send in (user.sticker, user.image, user.location):
        await send()
        assert user.has("chỉ đọc được tin nhắn chữ", "Tên làng nghề"), user.text


async def test_follow_and_unfollow_are_recorded(user: ZaloUser, bot: ZaloBot) -> None:
    def following() -> bool:
        with bot.app.db.transaction() as session:
            found = repository.get_user(session, "zalo", USER)
            assert found is not None
            return found.following

    assert await user.zalo.follow(USER) == 200
    await bot.channel.wait_idle()
    assert following()
    assert await user.zalo.unfollow(USER) == 200
    await bot.channel.wait_idle()
    assert not following()
    with bot.app.db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["zalo.follow", "zalo.unfollow"]
    assert user.zalo.sent_to(USER) == []  # recorded, not answered


async def test_events_left_by_a_crash_are_processed_on_start(
    db_url: str, zalo: FakeZaloOA, clock: Clock
) -> None:
    async with running_bot(db_url, zalo, clock) as first:
        # Stored and acknowledged, then the process died before working on them: one
        # untouched, one taken by a worker that never finished.
        with first.app.db.transaction() as session:
            for msg_id, text in [("left-1", "/start"), ("left-2", "/trogiup")]:
                event = {
                    "app_id": zalo.app_id,
                    "sender": {"id": USER},
                    "recipient": {"id": zalo.oa_id},
                    "event_name": "user_send_text",
                    "message": {"text": text, "msg_id": msg_id},
                    "timestamp": "1494381600000",
                }
                now = first.app.clock.now()
                inbox.add(session, "zalo", msg_id, USER, "user_send_text", json.dumps(event), now)
            assert inbox.claim_next(session, "zalo", USER, first.app.clock.now())
    zalo.add_user(USER)
    clock.advance(timedelta(seconds=61))  # the dead worker's lease runs out
    async with running_bot(db_url, zalo, clock, poll_seconds=0.01) as second:
        first_reply = await zalo.wait_for_message(USER)
        await second.channel.wait_idle()
        assert "Xin chào" in (first_reply.text or "")
        sent = zalo.sent_to(USER)
        assert any("/dangky" in (m.text or "") for m in sent)  # the help text came after
        with second.app.db.transaction() as session:
            assert inbox.backlog(session, "zalo") == {"done": 2}


# --- sending: errors, splitting, the outbox ---------------------------------------------------


def queue_notice(app: App, text: str, buttons: list[list[str]] | None = None) -> None:
    with app.db.transaction() as session:
        now = app.clock.now()
        user = repository.get_or_create_user(session, "zalo", USER, now)
        repository.enqueue(session, user, "notice", {"text": text, "buttons": buttons or []}, now)


def outbox_rows(app: App) -> list[tuple[str, str | None]]:
    with app.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.status, m.last_error) for m in rows]


async def test_a_recipient_silent_for_7_days_is_recorded_unreachable(
    zalo: FakeZaloOA, bot: ZaloBot
) -> None:
    queue_notice(bot.app, "Hồ sơ của anh/chị đã được xác nhận.")
    zalo.add_user(USER)
    zalo.set_last_interaction(USER, zalo.now() - timedelta(days=8))
    assert await bot.channel.sender().run_once() == 1
    [(status, error)] = outbox_rows(bot.app)
    assert status == "undeliverable" and error is not None and "-230" in error
    with bot.app.db.transaction() as session:
        found = repository.get_user(session, "zalo", USER)
        assert found is not None and not found.reachable
        assert found.unreachable_reason is not None and "-230" in found.unreachable_reason
    # Writing to the OA opens the window again.
    await ZaloUser(zalo, bot, USER).say("/start")
    with bot.app.db.transaction() as session:
        found = repository.get_user(session, "zalo", USER)
        assert found is not None and found.reachable and found.unreachable_reason is None


async def test_rate_limits_and_other_errors_are_kept_in_the_outbox(
    zalo: FakeZaloOA, bot: ZaloBot
) -> None:
    zalo.add_user(USER)
    queue_notice(bot.app, "Nhắc hạn nộp hồ sơ.")
    sender = bot.channel.sender()
    zalo.fail_next(-32)
    await sender.run_once()
    assert outbox_rows(bot.app) == [("pending", "zalo -32: Request exceeds the rate limit")]
    zalo.fail_next(-224)
    bot.app.clock.advance(timedelta(minutes=1))
    await sender.run_once()
    assert outbox_rows(bot.app) == [("pending", "zalo -224: This feature needs a higher OA tier")]
    bot.app.clock.advance(timedelta(minutes=1))
    await sender.run_once()
    assert outbox_rows(bot.app) == [("sent", None)]
    assert [m.text for m in zalo.sent_to(USER)] == ["Nhắc hạn nộp hồ sơ."]


async def test_server_failures_are_retried_and_their_record_holds_no_secret(
    db_url: str, zalo: FakeZaloOA, clock: Clock
) -> None:
    zalo.add_user(USER)
    broken = zalo.base_url + "/no-such-api"  # answers HTTP 404
    async with running_bot(db_url, zalo, clock, zalo_api_base=broken) as bot:
        queue_notice(bot.app, "Nhắc hạn nộp hồ sơ.")
        await bot.channel.sender().run_once()
        [(status, error)] = outbox_rows(bot.app)
    assert status == "pending"
    assert error == "ZaloHttpError: HTTP 404 from v3.0/oa/message/cs"
    zalo.expire_access_token()
    async with running_bot(db_url, zalo, clock, zalo_oauth_base=broken) as bot:
        bot.app.clock.advance(timedelta(minutes=1))
        await bot.channel.sender().run_once()
        [(status, error)] = outbox_rows(bot.app)
    assert status == "pending"
    assert error == "zalo token: HTTP 404 from the token endpoint"
    with bot.app.db.transaction() as session:
        everything = json.dumps(
            [(m.last_error, m.payload) for m in session.scalars(select(OutboxMessage))]
        )
    for secret in (zalo.access_token, zalo.refresh_token, zalo.app_secret):
        assert secret not in everything


async def test_a_direct_reply_that_fails_waits_in_the_outbox(user: ZaloUser, bot: ZaloBot) -> None:
    user.zalo.add_user(USER)
    user.zalo.fail_next(-32, user_id=USER)
    await user.say("/start")
    assert user.turn == []  # the welcome failed; the menu after it was not sent before it
    assert [s for s, _ in outbox_rows(bot.app)] == ["pending", "pending"]
    bot.app.clock.advance(timedelta(minutes=1))
    await bot.channel.sender().run_once()
    await user.wait()
    assert user.has("Xin chào", "Anh/chị muốn làm gì?")
    assert [s for s, _ in outbox_rows(bot.app)] == ["sent", "sent"]


async def test_an_expired_token_is_refreshed_between_two_turns(
    user: ZaloUser, bot: ZaloBot
) -> None:
    await user.say("/start")
    user.zalo.expire_access_token()
    await user.tap("Đăng ký")
    assert user.has("91/2025/QH15")
    assert user.zalo.refresh_count == 1


async def test_a_3000_character_reply_is_split_into_valid_parts(
    zalo: FakeZaloOA, bot: ZaloBot
) -> None:
    paragraphs = [f"Đoạn {n}: " + "làng nghề truyền thống Hà Nội " * 9 for n in range(1, 12)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 3000
    zalo.add_user(USER)
    queue_notice(bot.app, text, [["Đồng ý", "x:yes"], ["Không", "x:no"]])
    await bot.channel.sender().run_once()
    assert outbox_rows(bot.app) == [("sent", None)]
    parts = zalo.sent_to(USER)
    assert len(parts) == 2
    assert_valid_for_zalo(parts)
    assert parts[0].buttons == () and parts[1].query_payloads == ["x:yes", "x:no"]
    assert parts[1].text is not None and parts[1].text.startswith("Đoạn")  # a paragraph cut
    assert " ".join(p.text or "" for p in parts).split() == text.split()


async def test_files_are_uploaded_when_zalo_takes_them_else_explained(
    zalo: FakeZaloOA, bot: ZaloBot
) -> None:
    zalo.add_user(USER)
    pdf = Attachment("danh-sach.pdf", b"%PDF-1.4 danh sach", "application/pdf")
    xlsx = Attachment("danh-sach.xlsx", b"PK\x03\x04 bang", "application/vnd.ms-excel")
    with bot.app.db.transaction() as session:
        now = bot.app.clock.now()
        user = repository.get_or_create_user(session, "zalo", USER, now)
        for payload in reply_payloads([Reply("Danh sách", file=pdf), Reply("Bảng", file=xlsx)]):
            repository.enqueue(session, user, "notice", payload, now)
    sender = bot.channel.sender()
    await sender.run_once()
    assert [s for s, _ in outbox_rows(bot.app)] == ["sent", "sent"]
    sent = sorted(zalo.sent_to(USER), key=lambda m: m.sent_at)
    uploaded = [m.file_token for m in sent if m.file_token]
    assert len(uploaded) == 1 and zalo.uploads[uploaded[0]].data == pdf.content
    texts = [m.text or "" for m in sent]
    assert "Danh sách" in texts and "Bảng" in texts
    assert any("danh-sach.xlsx" in t and "không gửi được qua Zalo" in t for t in texts)


def test_split_text_cuts_at_lines_then_words_then_anywhere() -> None:
    lines = "\n".join(f"dòng {n} " + "x" * 90 for n in range(40))
    parts = split_text(lines)
    assert all(len(p) <= 2000 for p in parts)
    assert all(p.startswith("dòng") for p in parts)  # cut at line breaks
    words = " ".join(["nghề"] * 1000)
    assert [len(p) for p in split_text(words)] == [1999, 1999, 999]  # 4,999 less 2 spaces
    blob = "a" * 4500
    assert [len(p) for p in split_text(blob)] == [2000, 2000, 500]
    emoji = "🎋" * 1500  # two UTF-16 units each
    assert all(len(p.encode("utf-16-le")) // 2 <= 2000 for p in split_text(emoji))
    assert "".join(split_text(emoji)) == emoji
    assert split_text("  ngắn  ") == ["ngắn"]


def test_the_signature_is_plain_sha256_over_the_raw_bytes() -> None:
    from bot.channels.zalo import signature, verify

    raw = b'{"event_name":"user_send_text","timestamp":"1"}'
    expected = hashlib.sha256(b"app" + raw + b"1" + b"secret").hexdigest()
    assert signature("app", raw, "1", "secret") == expected
    assert verify(f"mac={expected}", "app", "secret", raw, ["1"])
    assert not verify(f"mac={expected}", "app", "other", raw, ["1"])
    assert not verify(None, "app", "secret", raw, ["1"])
