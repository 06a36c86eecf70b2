"""Roles and invitations: who may review, who runs the back office.

Three roles (User.role): "village" (anyone, the default), "officer" (bound to one
reviewing unit by User.unit_code) and "staff" (the Department). Staff are made from the
command line; officers join with a single-use, expiring invite code that staff create
for one unit. Every change of role is written to the audit log here, in the same
transaction, whoever calls these functions (chat or command line).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import repository
from storage.models import Invite, User

VILLAGE, OFFICER, STAFF = "village", "officer", "staff"
INVITE_TTL = timedelta(days=7)
# No 0/O, 1/I/L: a code read out over the phone or copied by hand still works.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8


def is_officer(user: User) -> bool:
    return user.role == OFFICER and bool(user.unit_code)


def is_staff(user: User) -> bool:
    return user.role == STAFF


def _set_role(
    session: Session,
    user: User,
    role: str,
    unit_code: str | None,
    now: datetime,
    *,
    actor: User | None,
    action: str,
    **detail: object,
) -> None:
    before = {"from_role": user.role, "from_unit": user.unit_code}
    user.role = role
    user.unit_code = unit_code
    repository.audit(
        session,
        now,
        actor,
        action,
        f"user:{user.id}",
        channel=user.channel,
        user=user.channel_user_id,
        **before,
        role=role,
        unit=unit_code,
        **detail,
    )


def add_staff(session: Session, channel: str, channel_user_id: str, now: datetime) -> User:
    """Make someone Department staff (the command line's bootstrap; no actor)."""
    user = repository.get_or_create_user(session, channel, channel_user_id, now)
    if not is_staff(user):
        _set_role(session, user, STAFF, None, now, actor=None, action="role.staff_added")
    return user


# --- invitations ----------------------------------------------------------------------


def normalize_code(typed: str) -> str:
    """ "abcd-efgh", "ABCD EFGH" -> "ABCDEFGH"."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def create_invite(
    session: Session,
    unit_code: str,
    now: datetime,
    *,
    created_by: User | None,
    ttl: timedelta = INVITE_TTL,
) -> tuple[str, Invite]:
    """A new code for one unit, shown once (as "ABCD-EFGH"); only its hash is kept."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    invite = Invite(
        code_hash=_hash(code),
        unit_code=unit_code,
        created_by_user_id=created_by.id if created_by else None,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    session.flush()
    repository.audit(
        session, now, created_by, "invite.created", f"invite:{invite.id}",
        unit=unit_code, expires_at=invite.expires_at.isoformat(),
    )  # fmt: skip
    return display_code(code), invite


JoinProblem = Literal["unknown", "used", "expired", "is_staff", "same_unit"]


@dataclass(frozen=True)
class JoinResult:
    invite: Invite | None
    problem: JoinProblem | None = None


def redeem_invite(session: Session, user: User, typed: str, now: datetime) -> JoinResult:
    """Bind `user` as the officer of the invite's unit; the invite is then spent.

    The invite row is locked, so of two people typing the same code at once only one
    joins. Nothing changes when there is a problem.
    """
    code = normalize_code(typed)
    if len(code) != _CODE_LENGTH:
        return JoinResult(None, "unknown")
    invite = session.scalars(
        select(Invite)
        .where(Invite.code_hash == _hash(code))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if invite is None:
        return JoinResult(None, "unknown")
    if invite.used_at is not None:
        return JoinResult(invite, "used")
    if invite.expires_at <= now:
        return JoinResult(invite, "expired")
    if is_staff(user):
        return JoinResult(invite, "is_staff")
    if is_officer(user) and user.unit_code == invite.unit_code:
        return JoinResult(invite, "same_unit")
    invite.used_at = now
    invite.used_by_user_id = user.id
    _set_role(
        session, user, OFFICER, invite.unit_code, now,
        actor=user, action="role.officer_joined", invite=invite.id,
        invited_by=invite.created_by_user_id,
    )  # fmt: skip
    return JoinResult(invite)


# --- officers ---------------------------------------------------------------------------


def all_officers(session: Session) -> Sequence[User]:
    """Every officer, by unit then by when they joined (one unit's: officers_of)."""
    return session.scalars(
        select(User).where(User.role == OFFICER).order_by(User.unit_code, User.id)
    ).all()


def revoke_officer(session: Session, officer: User, now: datetime, *, actor: User | None) -> bool:
    """Back to an ordinary user; False if they were no officer (nothing changes)."""
    if officer.role != OFFICER:
        return False
    _set_role(session, officer, VILLAGE, None, now, actor=actor, action="role.officer_revoked")
    return True
