"""The people of a review story: a village representative, an officer, Department staff.

Roles are given the way the product gives them (storage.roles: the command line's
add-staff, an invite code redeemed with /join), never by writing the role column.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage import roles
from storage.models import Conversation, Registration, User
from tests.chat import Chat


def staff(app: App, user_id: str = "staff-1") -> Chat:
    with app.db.transaction() as session:
        roles.add_staff(session, "console", user_id, app.clock.now())
    return Chat(app, user_id)


async def officer(app: App, user_id: str = "officer-gla", unit: str = "GLA") -> Chat:
    """An officer who joined by chat with a code staff created for `unit`."""
    with app.db.transaction() as session:
        code, _ = roles.create_invite(session, unit, app.clock.now(), created_by=None)
    chat = Chat(app, user_id)
    await chat.say(f"/join {code}")
    assert chat.has("cán bộ tiếp nhận hồ sơ"), chat.text
    return chat


async def register(
    app: App,
    user_id: str,
    village: str = "Bat Trang",
    unit: str = "gia lam",
    *,
    items: str = "1 2 3",
    years: str = "2015 2016",
    language: str | None = None,
) -> str:
    """A village representative registers by chat; the registration's code."""
    chat = Chat(app, user_id, language=language)
    await chat.say("/dangky")
    await chat.press("Đồng ý" if language is None else "I agree")
    await chat.press("Có, nhận tin" if language is None else "Yes")
    for answer in [village, f"xa {village}", unit, "gom su", "5427/QĐ-UBND", "15/03/2010", "2",
                   f"HTX {village}", "co", "Nguyen Van An", "Chu nhiem", "0912345678"]:  # fmt: skip
        await chat.say(answer)
    await chat.press("Bỏ qua" if language is None else "Skip")
    await chat.say(items)
    await chat.say(years)
    await chat.press("Gửi hồ sơ" if language is None else "Submit")
    with app.db.transaction() as session:
        registration = session.scalars(
            select(Registration).where(Registration.village == village)
        ).one()
        return registration.code


async def press_forged(chat: Chat, payload: str) -> None:
    """Press a button the bot did not offer, as if it had: see `offer`."""
    offer(chat.app, chat.user_id, payload)
    await chat.send(chat.event(kind="button", payload=payload))


def offer(app: App, user_id: str, payload: str) -> None:
    """Make `payload` look offered by the bot's last answer to `user_id`, in the flow and
    step it names: what a forged or replayed button would need to get past the router,
    so the test reaches the handler's own checks."""
    flow, step, _ = payload.split(":", 2) if payload.count(":") >= 2 else (None, None, None)
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == user_id)).one()
        conversation = session.get(Conversation, user.id)
        assert conversation is not None
        if flow is not None:
            conversation.flow, conversation.step = flow, step
        conversation.offered = [["forged", payload]]
