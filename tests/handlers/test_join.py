"""Joining a reviewing unit with an invite code, and every way it can go wrong."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from storage import roles
from storage.models import Invite, User
from tests.chat import Chat
from tests.people import staff


def new_code(app: App, unit: str = "GLA") -> str:
    with app.db.transaction() as session:
        code, _ = roles.create_invite(session, unit, app.clock.now(), created_by=None)
    return code


def role_of(app: App, user_id: str) -> tuple[str, str | None]:
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == user_id)).one()
        return user.role, user.unit_code


async def test_join_asks_for_the_code_when_none_is_given(app: App) -> None:
    code = new_code(app)
    chat = Chat(app, "o1")
    await chat.say("/join")
    assert chat.has("mã mời")
    await chat.say("WRONG-CODE")
    assert chat.has("Mã mời không đúng", "mã mời do Sở")  # asked again
    await chat.say(code.replace("-", " "))
    assert chat.has("cán bộ tiếp nhận hồ sơ của huyện Gia Lâm")
    assert role_of(app, "o1") == ("officer", "GLA")


async def test_a_code_works_once(app: App) -> None:
    code = new_code(app)
    first, second = Chat(app, "o1"), Chat(app, "o2")
    await first.say(f"/join {code}")
    await second.say(f"/join {code}")
    assert second.has("đã được dùng")
    assert role_of(app, "o2") == ("village", None)


async def test_an_expired_code_changes_nothing(app: App) -> None:
    code = new_code(app)
    app.clock.advance(timedelta(days=7, seconds=1))
    chat = Chat(app, "o1")
    await chat.say(f"/thamgia {code}")
    assert chat.has("hết hạn")
    assert role_of(app, "o1") == ("village", None)
    with app.db.transaction() as session:
        assert session.scalars(select(Invite)).one().used_at is None


async def test_staff_and_same_unit_officers_keep_the_code_unspent(app: App) -> None:
    dept = staff(app)
    code = new_code(app)
    await dept.say(f"/join {code}")
    assert dept.has("không cần mã mời")
    officer = Chat(app, "o1")
    await officer.say(f"/join {code}")
    await officer.say(f"/join {new_code(app)}")
    assert officer.has("đã là cán bộ tiếp nhận hồ sơ của huyện Gia Lâm")
    assert role_of(app, "staff-1") == ("staff", None)
    with app.db.transaction() as session:
        assert sum(i.used_at is None for i in session.scalars(select(Invite))) == 1


async def test_join_inside_a_registration_keeps_the_draft(app: App) -> None:
    chat = Chat(app, "v1")
    await chat.say("/dangky")
    await chat.press("Đồng ý")
    await chat.press("Có, nhận tin")
    await chat.say("Bat Trang")
    await chat.say("/join ABCD-EFGH")
    assert chat.has("Mã mời không đúng", "(2/15)")  # then the pending question again
