"""Roles and invitations in the database, each change in the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from storage import roles
from storage.models import AuditEntry, Invite


def test_add_staff_is_audited_once(app: App) -> None:
    now = app.clock.now()
    with app.db.transaction() as session:
        user = roles.add_staff(session, "telegram", "42", now)
        roles.add_staff(session, "telegram", "42", now)  # again: nothing new
        assert roles.is_staff(user)
        entries = session.scalars(select(AuditEntry)).all()
        assert [(e.action, e.actor_user_id) for e in entries] == [("role.staff_added", None)]
        assert entries[0].detail["from_role"] == "village"


def test_invite_stores_only_a_hash_and_is_single_use(app: App) -> None:
    now = app.clock.now()
    with app.db.transaction() as session:
        code, invite = roles.create_invite(session, "GLA", now, created_by=None)
        assert len(code) == 9 and code[4] == "-"
        assert code.replace("-", "") not in invite.code_hash
        assert invite.expires_at == now + roles.INVITE_TTL
        person = roles.add_staff(session, "console", "someone", now)
        roles.revoke_officer(session, person, now, actor=None)  # not an officer: no-op
        person.role = "village"  # (a plain user for this test)
        first = roles.redeem_invite(session, person, code.lower(), now)
        assert first.problem is None and roles.is_officer(person)
        assert person.unit_code == "GLA"
        again = roles.redeem_invite(session, person, code, now)
        assert again.problem == "used"


def test_redeem_problems_change_nothing(app: App) -> None:
    now = app.clock.now()
    with app.db.transaction() as session:
        code, _ = roles.create_invite(session, "GLA", now, created_by=None)
        short, _ = roles.create_invite(session, "HDO", now, created_by=None, ttl=timedelta(hours=1))
        from storage import repository

        person = repository.get_or_create_user(session, "console", "p", now)
        assert roles.redeem_invite(session, person, "nonsense", now).problem == "unknown"
        assert roles.redeem_invite(session, person, "ABCD-EFGH", now).problem == "unknown"
        later = now + timedelta(hours=2)
        assert roles.redeem_invite(session, person, short, later).problem == "expired"
        assert person.role == "village" and person.unit_code is None
        assert all(i.used_at is None for i in session.scalars(select(Invite)))
        assert roles.redeem_invite(session, person, code, now).problem is None
        assert roles.revoke_officer(session, person, now, actor=None)
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [
            "invite.created", "invite.created", "role.officer_joined", "role.officer_revoked",
        ]  # fmt: skip
