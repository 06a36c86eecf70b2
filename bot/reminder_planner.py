"""Which reminders are due: rules + the database + a moment -> one `Planned` per recipient.

For each rule, the days it fires (from the plan's timeline, or from when a registration
entered its status) that fell in the window being looked at; for each recipient the latest
such day is sent if still useful (moved out of quiet hours, by the recipient's Zalo route),
the earlier ones are recorded as replaced. The audience is read as it is now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audience import Routes, followup_granted
from bot.clock import ZONE
from bot.i18n import Translator
from bot.plan import Plan
from bot.reminders import ReminderRules, Rule
from storage import outbox
from storage.models import Conversation, Registration, StatusChange, User

DRAFT_FLOW = "reg"  # handlers.registration.FLOW.name


@dataclass(frozen=True)
class Subject:
    """One recipient of one rule, with what the message says about them."""

    user: User
    key: str  # "u<user id>" or "r<registration id>"
    values: dict[str, Any]
    days: tuple[date, ...]  # the days the rule fires for them


@dataclass(frozen=True)
class Planned:
    rule: str
    day: date
    user_id: int
    channel: str
    who: str  # channel user id, for listings
    dedupe_key: str
    text: str
    buttons: list[list[str]]
    send_at: datetime
    expires_at: datetime
    route: str | None
    dropped: str | None  # why it is not sent, or None

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "channel": self.channel,
            "kind": "reminder",
            "dedupe_key": self.dedupe_key,
            "payload": {"text": self.text, "buttons": self.buttons, "route": self.route},
            "status": "expired" if self.dropped else "pending",
            "attempts": 0,
            "next_attempt_at": self.send_at,
            "last_error": self.dropped,
            "platform_message_id": None,
            "created_at": now,
            "sent_at": None,
            "priority": outbox.PRIORITY["reminder"],
            "broadcast_id": None,
            "route": self.route,
            "expires_at": self.expires_at,
            "dispatched_at": None,
        }


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), ZONE)


class Planner:
    """Works out the reminders due in (since, now] for one plan."""

    def __init__(self, session: Session, plan: Plan, rules: ReminderRules, now: datetime):
        self.session = session
        self.plan = plan
        self.rules = rules
        self.now = now
        self.window = rules.delivery
        self._consented: set[int] | None = None
        self._routes: Routes | None = None

    def due(self, since: datetime) -> list[Planned]:
        """Every reminder whose day's send hour fell in (since, now]."""
        first = since.astimezone(ZONE).date()
        last = self.now.astimezone(ZONE).date()
        window = {
            first + timedelta(days=n)
            for n in range((last - first).days + 1)
            if since < self.window.scheduled(first + timedelta(days=n)) <= self.now
        }
        planned: list[Planned] = []
        if not window:
            return planned  # no morning passed since the last run: nothing can be due
        for rule in self.rules.rules:
            if not rule.after_status_days and not window.intersection(rule.days(self.plan)):
                continue
            for subject in self.subjects(rule):
                days = sorted(window.intersection(subject.days))
                if days:
                    planned.extend(self.decide(rule, subject, days))
        return planned

    def decide(self, rule: Rule, subject: Subject, days: list[date]) -> list[Planned]:
        """The latest day is sent if still useful; the earlier ones were replaced by it."""
        latest = days[-1]
        send_at = self.window.next_allowed(max(self.now, self.window.scheduled(latest)))
        expires = _end_of(max(rule.deadline(self.plan), latest) if not rule.daily else latest)
        route = self.routes.route(subject.user) if subject.user.channel == "zalo" else None
        out = []
        for day in days:
            reason = None
            if day != latest:
                reason = f"replaced by the reminder of {latest.isoformat()}"
            elif send_at >= expires:
                reason = f"too late: useful until {expires.isoformat()}, now {self.now.isoformat()}"
            elif route is not None and route.name is None:
                reason = f"unreachable on Zalo: {route.reason}"
            at = send_at
            if reason is None and route is not None and route.not_before is not None:
                at = self.window.next_allowed(max(send_at, route.not_before))
            name = route.name if route is not None else None
            out.append(self.planned(rule, subject, day, at, expires, name, reason))
        return out

    def planned(
        self,
        rule: Rule,
        subject: Subject,
        day: date,
        send_at: datetime,
        expires: datetime,
        route: str | None,
        dropped: str | None,
    ) -> Planned:
        user = subject.user
        t = Translator(user.language)
        deadline = rule.deadline(self.plan)
        values = {
            "deadline": t.date(deadline),
            "days": max(0, (deadline - send_at.astimezone(ZONE).date()).days),
            **subject.values,
        }
        return Planned(
            rule=rule.id,
            day=day,
            user_id=user.id,
            channel=user.channel,
            who=user.channel_user_id,
            dedupe_key=f"rem:{self.plan.id}:{rule.id}:{day.isoformat()}:{subject.key}",
            text=t(rule.message, **values),
            buttons=[[t(f"remind.cmd.{c}"), f"/{c}"] for c in rule.commands],
            send_at=send_at,
            expires_at=expires,
            route=route,
            dropped=dropped,
        )

    # --- who --------------------------------------------------------------------------

    @property
    def routes(self) -> Routes:
        if self._routes is None:
            self._routes = Routes(self.session, self.rules.zalo, self.now)
        return self._routes

    def wants(self, user: User, rule: Rule) -> bool:
        if not user.reminders_enabled or not user.reachable:
            return False
        if self._consented is None:
            self._consented = followup_granted(self.session)
        return not rule.consent or user.id in self._consented

    def subjects(self, rule: Rule) -> list[Subject]:
        if rule.audience == "draft":
            return self.drafts(rule)
        if rule.audience == "officers":
            return self.officers(rule)
        return self.registrations(rule)

    def drafts(self, rule: Rule) -> list[Subject]:
        days = tuple(rule.days(self.plan))
        rows = self.session.execute(
            select(Conversation, User)
            .join(User, User.id == Conversation.user_id)
            .where(Conversation.flow == DRAFT_FLOW)
            .order_by(User.id)
        )
        return [
            Subject(user, f"u{user.id}", {"village": conv.data["village"]}, days)
            for conv, user in rows
            if (conv.data or {}).get("village")
            and not conv.data.get("registration_id")  # fixing a returned one: its own rule
            and self.wants(user, rule)
        ]

    def registrations(self, rule: Rule) -> list[Subject]:
        rows = self.session.execute(
            select(Registration, User)
            .join(User, User.id == Registration.user_id)
            .where(Registration.plan_id == self.plan.id, Registration.status.in_(rule.status))
            .order_by(Registration.id)
        )
        fixed = tuple(rule.days(self.plan)) if not rule.after_status_days else ()
        entered = self.entered(rule) if rule.after_status_days else {}
        out = []
        for registration, user in rows:
            if not self.wants(user, rule):
                continue
            days = fixed
            if rule.after_status_days:
                start = entered.get(registration.id, registration.updated_at)
                first = start.astimezone(ZONE).date()
                last = rule.deadline(self.plan)
                days = tuple(
                    d for n in rule.after_status_days if (d := first + timedelta(days=n)) <= last
                )
            values = {
                "village": registration.village,
                "code": registration.code,
                "reason": registration.return_reason or "",
            }
            out.append(Subject(user, f"r{registration.id}", values, days))
        return out

    def entered(self, rule: Rule) -> dict[int, datetime]:
        """When each registration last entered one of the rule's statuses."""
        rows = self.session.execute(
            select(StatusChange.registration_id, func.max(StatusChange.at))
            .where(StatusChange.to_status.in_(rule.status))
            .group_by(StatusChange.registration_id)
        )
        return dict(rows.all())

    def officers(self, rule: Rule) -> list[Subject]:
        waiting: dict[str, list[str]] = defaultdict(list)
        for unit, code in self.session.execute(
            select(Registration.unit_code, Registration.code)
            .where(Registration.plan_id == self.plan.id, Registration.status.in_(rule.status))
            .order_by(Registration.id)
        ):
            waiting[unit].append(code)
        days = tuple(rule.days(self.plan))
        officers = self.session.scalars(
            select(User).where(User.role == "officer", User.unit_code.in_(list(waiting)))
        )
        out = []
        for user in officers:
            if not self.wants(user, rule):
                continue
            codes = waiting[user.unit_code or ""]
            values = {
                "count": len(codes),
                "codes": ", ".join(codes[:10]) + (" …" if len(codes) > 10 else ""),
                "unit": self.plan.unit(user.unit_code or "").display,
            }
            out.append(Subject(user, f"u{user.id}", values, days))
        return out
