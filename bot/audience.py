"""Who receives an announcement, by which route, and the text each one gets.

An audience is all village representatives, the registrations of some units or in some
statuses, or the district officers. Village representatives are only written to when
they agreed to follow-up messages (consent "followup"); officers get work messages.

Each recipient gets a route: Telegram and the console send directly; on Zalo OA a
customer-service message needs the person's interaction within the last days
(User.last_seen_at), otherwise a promotion message reaches followers only, between set
hours, at most so many a day per person and a month per OA; anyone else is unreachable,
with the reason.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import ZONE
from bot.plan import Plan
from bot.reminders import ZaloRules
from storage.models import Consent, Conversation, OutboxMessage, Registration, User

Kind = Literal["all", "units", "status", "officers"]
PLACEHOLDERS = ("village", "code")


@dataclass(frozen=True)
class Audience:
    kind: Kind
    units: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "units": list(self.units), "statuses": list(self.statuses)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(data["kind"], tuple(data.get("units", ())), tuple(data.get("statuses", ())))


@dataclass(frozen=True)
class Route:
    name: str | None  # direct | cs | promotion; None: cannot be reached
    reason: str | None = None  # why not (a code, see bc.why.* in the catalogs)
    not_before: datetime | None = None  # promotion messages wait for their hours


@dataclass(frozen=True)
class Target:
    user_id: int
    channel: str
    channel_user_id: str
    language: str
    name: str
    village: str
    code: str
    route: Route


@dataclass
class Selection:
    targets: list[Target] = field(default_factory=list)
    no_consent: int = 0  # left out: did not agree to follow-up messages

    def per_channel(self) -> dict[str, Counter[str]]:
        """channel -> route name (or "unreachable") -> count."""
        out: dict[str, Counter[str]] = {}
        for target in self.targets:
            out.setdefault(target.channel, Counter())[target.route.name or "unreachable"] += 1
        return out


# --- templates --------------------------------------------------------------------------


def template_problem(text: str) -> str | None:
    """None if `text` is a usable template, else the placeholder (or brace) at fault."""
    try:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (name not in PLACEHOLDERS or spec or conversion):
                return "{" + name + "}"
    except ValueError:
        return "{ }"
    return None


def fill(text: str, target: Target) -> str:
    return text.format(village=target.village, code=target.code)


# --- routes -----------------------------------------------------------------------------


class Routes:
    """Route decisions for one planning run; it counts the promotion quota it hands out."""

    def __init__(self, session: Session, rules: ZaloRules, now: datetime) -> None:
        self.rules = rules
        self.now = now
        local = now.astimezone(ZONE)
        month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        rows = session.execute(
            select(OutboxMessage.user_id, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.route == "promotion", OutboxMessage.next_attempt_at >= month)
            .where(OutboxMessage.status.in_(("pending", "sending", "sent")))
        ).all()
        self.month_used = len(rows)
        self.per_day: Counter[tuple[int, str]] = Counter(
            (user_id, at.astimezone(ZONE).date().isoformat()) for user_id, at in rows
        )

    def route(self, user: User) -> Route:
        if not user.reachable:
            return Route(None, user.unreachable_reason or "unreachable")
        if user.channel != "zalo":
            return Route("direct")
        window = timedelta(days=self.rules.interaction_window_days)
        if self.now - user.last_seen_at <= window:
            return Route("cs")
        if not user.following:
            return Route(None, "zalo_not_following")
        at = self.promotion_time(self.now)
        day = (user.id, at.astimezone(ZONE).date().isoformat())
        if self.per_day[day] >= self.rules.promotion_per_user_per_day:
            return Route(None, "zalo_daily_cap")
        if self.month_used >= self.rules.promotion_monthly_cap:
            return Route(None, "zalo_monthly_cap")
        self.per_day[day] += 1
        self.month_used += 1
        return Route("promotion", not_before=at if at > self.now else None)

    def promotion_time(self, when: datetime) -> datetime:
        """`when`, or the next opening of the promotion hours."""
        local = when.astimezone(ZONE)
        start, end = self.rules.promotion_start, self.rules.promotion_end
        if start <= local.time().replace(tzinfo=None) < end:
            return when
        opening = datetime.combine(local.date(), start, ZONE)
        return opening if opening > local else opening + timedelta(days=1)


# --- audiences --------------------------------------------------------------------------


def followup_granted(session: Session, user_ids: list[int] | None = None) -> set[int]:
    """Users whose latest follow-up consent is given and not withdrawn."""
    query = (
        select(Consent.user_id, Consent.granted)
        .where(Consent.purpose == "followup", Consent.withdrawn_at.is_(None))
        .order_by(Consent.id)
    )
    if user_ids is not None:
        query = query.where(Consent.user_id.in_(user_ids))
    latest = dict(session.execute(query).all())
    return {user_id for user_id, granted in latest.items() if granted}


def select_audience(
    session: Session, plan: Plan, audience: Audience, rules: ZaloRules, now: datetime
) -> Selection:
    """Everyone the audience covers, once each, in user id order, with their route."""
    routes = Routes(session, rules, now)
    selection = Selection()
    if audience.kind == "officers":
        query = select(User).where(User.role == "officer").order_by(User.id)
        if audience.units:
            query = query.where(User.unit_code.in_(audience.units))
        for user in session.scalars(query):
            unit = _unit_name(plan, user.unit_code)
            selection.targets.append(_target(user, unit, user.unit_code or "", routes))
        return selection
    registrations = _registrations(session, plan, audience)
    if audience.kind == "all":
        users = session.scalars(select(User).where(User.role == "village").order_by(User.id))
    else:
        ids = sorted(registrations)
        users = session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))
    candidates = list(users)
    consented = followup_granted(session)
    drafts = _draft_villages(session) if audience.kind == "all" else {}
    for user in candidates:
        if user.id not in consented:
            selection.no_consent += 1
            continue
        registration = registrations.get(user.id)
        village = registration.village if registration else drafts.get(user.id, "")
        code = registration.code if registration else ""
        selection.targets.append(_target(user, village, code, routes))
    return selection


def _draft_villages(session: Session) -> dict[int, str]:
    """The village named in each unfinished registration draft (no registration yet)."""
    rows = session.execute(
        select(Conversation.user_id, Conversation.data).where(Conversation.flow == "reg")
    )
    return {user_id: str(data["village"]) for user_id, data in rows if (data or {}).get("village")}


def _registrations(session: Session, plan: Plan, audience: Audience) -> dict[int, Registration]:
    """Each user's latest registration that matches the audience."""
    query = select(Registration).where(Registration.plan_id == plan.id)
    query = query.where(Registration.user_id.is_not(None)).order_by(Registration.id)
    if audience.kind == "units":
        query = query.where(Registration.unit_code.in_(audience.units))
        query = query.where(Registration.status != "withdrawn")
    if audience.kind == "status":
        query = query.where(Registration.status.in_(audience.statuses))
    return {r.user_id: r for r in session.scalars(query) if r.user_id is not None}


def _target(user: User, village: str, code: str, routes: Routes) -> Target:
    return Target(
        user_id=user.id,
        channel=user.channel,
        channel_user_id=user.channel_user_id,
        language=user.language,
        name=user.display_name or user.channel_user_id,
        village=village,
        code=code,
        route=routes.route(user),
    )


def _unit_name(plan: Plan, code: str | None) -> str:
    try:
        return plan.unit(code or "").display
    except KeyError:
        return code or ""
