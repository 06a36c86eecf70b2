"""Every command and every role button against every role: allowed, or refused politely
with nothing changed. Buttons are pressed as if the router had let them through (see
tests.people.offer), so each handler's own check is what is tested."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.i18n import Translator
from handlers import router
from storage.models import AuditEntry, Invite, OutboxMessage, Registration, StatusChange, User
from tests.chat import Chat
from tests.people import officer, press_forged, register, staff

T = Translator("vi")
OFFICERS_ONLY, STAFF_ONLY = T("access.officers_only"), T("access.staff_only")

# Which commands need a role; every other command is anyone's.
NEEDS = {
    "pending": "officer", "choduyet": "officer",
    "invite": "staff", "moi": "staff", "officers": "staff", "canbo": "staff",
    "export": "staff", "xuat": "staff", "shortlist": "staff", "uutien": "staff",
    "thongbao": "staff", "broadcast": "staff",
}  # fmt: skip
REFUSAL = {"officer": OFFICERS_ONLY, "staff": STAFF_ONLY}


def snapshot(app: App) -> dict[str, Any]:
    """Everything a refused command must leave as it was."""
    with app.db.transaction() as session:

        def count(model: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "registrations": session.execute(
                select(
                    Registration.id,
                    Registration.status,
                    Registration.unit_code,
                    Registration.return_reason,
                    Registration.forwarded_at,
                ).order_by(Registration.id)
            ).all(),
            "history": count(StatusChange),
            "roles": session.execute(
                select(User.id, User.role, User.unit_code).order_by(User.id)
            ).all(),
            "invites": session.execute(select(Invite.id, Invite.used_at)).all(),
            "outbox": count(OutboxMessage),
            "audit": count(AuditEntry),
        }


async def people(app: App) -> dict[str, Chat]:
    gla = await officer(app)
    dept = staff(app)
    await dept.say("/start")
    await register(app, "owner", "Bat Trang")  # Gia Lâm
    await register(app, "other", "Van Phuc", "ha dong")  # another unit
    anyone = Chat(app, "anyone")
    await anyone.say("/start")
    return {"village": anyone, "officer": gla, "staff": dept}


def role_of(role: str, needed: str) -> bool:
    return role == needed


@pytest.mark.parametrize("role", ["village", "officer", "staff"])
async def test_every_command_for_every_role(app: App, role: str) -> None:
    chat = (await people(app))[role]
    for command in router.COMMANDS:
        needed = NEEDS.get(command)
        before = snapshot(app)
        await chat.say(f"/{command}")
        refused = needed is not None and not role_of(role, needed)
        if refused:
            assert chat.has(REFUSAL[needed]), (role, command, chat.text)
            assert chat.buttons, "a refusal always offers a next step"
            assert snapshot(app) == before, (role, command)
        else:
            assert not chat.has(OFFICERS_ONLY) and not chat.has(STAFF_ONLY), (role, command)
        assert all(r.file is None for r in chat.replies) or role == "staff"
        await chat.say("/huy")


def role_payloads(app: App) -> dict[str, str]:
    """Every button of the role conversations, with the registration ids they name."""
    with app.db.transaction() as session:
        ids = dict(session.execute(select(Registration.village, Registration.id)).all())
        officer_id = session.scalars(select(User.id).where(User.role == "officer")).one()
    own, other = ids["Bat Trang"], ids["Van Phuc"]
    payloads = {
        f"rv:list:{own}": "officer", f"rv:list:{other}": "officer", "rv:list:page.1": "officer",
        f"rv:card:confirm.{own}": "officer", f"rv:card:return.{own}": "officer",
        f"rv:card:confirm.{other}": "officer", f"rv:card:return.{other}": "officer",
        "rv:card:list": "officer", "rv:reason:cancel": "officer",
        "st:invite:GLA": "staff", "st:invite:cancel": "staff",
        f"st:officers:{officer_id}": "staff", "st:officers:invite": "staff",
        "st:officers:page.1": "staff", "st:revoke:yes": "staff", "st:revoke:no": "staff",
        "st:export:xlsx": "staff", "st:export:csv": "staff", "st:export:all": "staff",
        "menu:pending": "officer", "menu:invite": "staff", "menu:officers": "staff",
        "menu:export": "staff", "menu:shortlist": "staff",
    }  # fmt: skip
    return payloads


@pytest.mark.parametrize("role", ["village", "officer", "staff"])
async def test_every_role_button_for_every_role(app: App, role: str) -> None:
    chat = (await people(app))[role]
    for payload, needed in role_payloads(app).items():
        before = snapshot(app)
        await press_forged(chat, payload)
        if role != needed:
            assert chat.has(REFUSAL[needed]), (role, payload, chat.text)
            assert snapshot(app) == before, (role, payload)
            assert all(r.file is None for r in chat.replies), (role, payload)
        else:
            assert not chat.has(OFFICERS_ONLY) and not chat.has(STAFF_ONLY), (role, payload)
        assert "Van Phuc" not in chat.text, (role, payload)  # another unit's data, never
        await chat.say("/huy")


@pytest.mark.parametrize("role", ["village", "officer", "staff"])
async def test_fixing_someone_elses_registration_is_refused(app: App, role: str) -> None:
    chat = (await people(app))[role]
    with app.db.transaction() as session:
        target = session.scalars(select(Registration).where(Registration.village == "Bat Trang"))
        registration = target.one()
        registration.status = "returned"  # as if the district had returned it
        registration_id = registration.id
    before = snapshot(app)
    await press_forged(chat, f"edit:{registration_id}")
    assert chat.has("không còn ở trạng thái «bị trả lại»")
    assert "Bat Trang" not in chat.text
    assert snapshot(app) == before
