"""Who may do what. Every role-bound command, button and typed answer asks here first.

Checked on the server, for every event, from the user's row as it is now: a revoked
officer's old buttons do nothing, a forged payload grants nothing, and a refusal is
polite and changes nothing. Which registration an officer may touch is checked where it
is loaded (handlers/review.py: only their own unit's).
"""

from __future__ import annotations

import logging

from handlers import common
from handlers.context import Context
from storage import roles

log = logging.getLogger(__name__)

REVIEW_FLOW = "rv"  # handlers/review.py, officers only
STAFF_FLOW = "st"  # handlers/staff.py, Department staff only
BROADCAST_FLOW = "bc"  # handlers/broadcast.py, Department staff only
ROLE_FLOWS = {REVIEW_FLOW: roles.OFFICER, STAFF_FLOW: roles.STAFF, BROADCAST_FLOW: roles.STAFF}
REFUSALS = {roles.OFFICER: "access.officers_only", roles.STAFF: "access.staff_only"}


def has_role(ctx: Context, role: str) -> bool:
    if role == roles.OFFICER:
        return roles.is_officer(ctx.user)
    if role == roles.STAFF:
        return roles.is_staff(ctx.user)
    return True


def leave_lost_flow(ctx: Context) -> None:
    """A conversation of a role the user no longer has (revoked mid-way) is dropped."""
    needed = ROLE_FLOWS.get(ctx.flow or "")
    if needed is not None and not has_role(ctx, needed):
        ctx.finish()


def button_refused(ctx: Context) -> bool:
    """A button of a role conversation pressed by someone without the role: refused."""
    needed = ROLE_FLOWS.get(ctx.payload.split(":", 1)[0])
    return needed is not None and not allowed(ctx, needed)


def allowed(ctx: Context, role: str) -> bool:
    """True if the user has `role`; otherwise say no, politely, and return False."""
    if has_role(ctx, role):
        return True
    refuse(ctx, REFUSALS[role])
    return False


def officer(ctx: Context) -> bool:
    """An officer bound to a unit (else refused)."""
    return allowed(ctx, roles.OFFICER)


def staff(ctx: Context) -> bool:
    """Department staff (else refused)."""
    return allowed(ctx, roles.STAFF)


def refuse(ctx: Context, key: str) -> None:
    """Say why not and offer the next step; a role conversation in progress is left."""
    log.info(
        "refused %s for %s:%s (role %s, unit %s): %s",
        ctx.event.kind, ctx.user.channel, ctx.user.channel_user_id, ctx.user.role,
        ctx.user.unit_code, (ctx.payload or ctx.text)[:80],
    )  # fmt: skip
    if ctx.flow in ROLE_FLOWS:
        ctx.finish()
    ctx.say(key)
    common.resume_or_menu(ctx)
