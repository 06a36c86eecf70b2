"""Broadcasts after staff confirm them: one outbox row per recipient, progress, the report.

A confirmed broadcast is "queued". The background job expands it in one transaction
(rows keyed `bc:<id>:u<user>`, so doing it twice after a crash changes nothing), then
follows it: a progress note to the staff member at each quarter, and when nothing waits any
more the final report (delivered, failed with the platform's reason, unreachable and why,
interrupted, stopped). Cancelling stops every row not yet on its way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.audience import Audience, Selection, fill, select_audience
from bot.i18n import Translator
from bot.plan import Plan
from bot.reminders import ReminderRules
from storage import outbox, repository
from storage.db import Database
from storage.models import Broadcast, OutboxMessage, User

ACTIVE = ("queued", "sending")
STEPS = (25, 50, 75)  # progress notes, in percent


@dataclass
class Results:
    total: int = 0
    delivered: int = 0
    waiting: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    unreachable: Counter[str] = field(default_factory=Counter)
    interrupted: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        return self.total - self.waiting

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.finished * 100 // self.total

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "delivered": self.delivered,
            "waiting": self.waiting,
            "failed": dict(self.failed),
            "unreachable": dict(self.unreachable),
            "interrupted": self.interrupted,
            "cancelled": self.cancelled,
        }


def results(session: Session, broadcast_id: int) -> Results:
    tried = (OutboxMessage.attempts > 0).label("tried")
    rows = session.execute(
        select(OutboxMessage.status, tried, OutboxMessage.last_error, func.count())
        .where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status, tried, OutboxMessage.last_error)
    )
    out = Results()
    for status, was_tried, error, count in rows:
        out.total += count
        if status == "sent":
            out.delivered += count
        elif status in ("pending", "sending"):
            out.waiting += count
        elif status == "interrupted":
            out.interrupted += count
        elif status in ("cancelled", "expired"):
            out.cancelled += count
        elif was_tried:
            out.failed[error or "error"] += count
        else:
            out.unreachable[error or "unreachable"] += count
    return out


def create(
    session: Session,
    creator: User,
    text: str,
    audience: Audience,
    selection: Selection,
    now: datetime,
) -> Broadcast:
    broadcast = Broadcast(
        created_by=creator.id,
        text=text,
        audience=audience.as_json(),
        status="queued",
        counts={"preview": {ch: dict(c) for ch, c in selection.per_channel().items()}},
        progress_reported=0,
        created_at=now,
    )
    session.add(broadcast)
    session.flush()
    return broadcast


def active(session: Session) -> list[Broadcast]:
    query = select(Broadcast).where(Broadcast.status.in_(ACTIVE)).order_by(Broadcast.id)
    return list(session.scalars(query))


def cancel(session: Session, broadcast: Broadcast, actor: User, now: datetime) -> int:
    """Stop a broadcast: rows not yet on their way are never sent. Returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.broadcast_id == broadcast.id)
        .where(
            (OutboxMessage.status == "pending")
            | ((OutboxMessage.status == "sending") & OutboxMessage.dispatched_at.is_(None))
        )
        .values(status="cancelled", last_error="stopped by staff")
    )
    broadcast.status = "cancelled"
    broadcast.cancelled_by = actor.id
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the background job ---------------------------------------------------------------


def expand(db: Database, plan: Plan, rules: ReminderRules, now: datetime) -> int:
    """Turn one queued broadcast into outbox rows; returns how many rows (0: none queued)."""
    with db.transaction() as session:
        broadcast = session.scalars(
            select(Broadcast)
            .where(Broadcast.status == "queued")
            .order_by(Broadcast.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if broadcast is None:
            return 0
        audience = Audience.from_json(broadcast.audience)
        selection = select_audience(session, plan, audience, rules.zalo, now)
        outbox.insert_once(session, [_row(broadcast, t, now) for t in selection.targets])
        broadcast.status = "sending"
        broadcast.started_at = now
        broadcast.counts = {
            **broadcast.counts,
            "sent_to": len(selection.targets),
            "no_consent": selection.no_consent,
        }
        return max(1, len(selection.targets))


def _row(broadcast: Broadcast, target: Any, now: datetime) -> dict[str, Any]:
    route = target.route
    return {
        "user_id": target.user_id,
        "channel": target.channel,
        "kind": "broadcast",
        "dedupe_key": f"bc:{broadcast.id}:u{target.user_id}",
        "payload": {"text": fill(broadcast.text, target), "buttons": [], "route": route.name},
        "status": "pending" if route.name else "undeliverable",
        "attempts": 0,
        "next_attempt_at": route.not_before or now,
        "last_error": None if route.name else route.reason,
        "platform_message_id": None,
        "created_at": now,
        "sent_at": None,
        "priority": outbox.PRIORITY["broadcast"],
        "broadcast_id": broadcast.id,
        "route": route.name,
        "expires_at": None,
        "dispatched_at": None,
    }


def follow(db: Database, now: datetime) -> int:
    """Progress notes and final reports for running broadcasts; returns notes written."""
    written = 0
    with db.transaction() as session:
        running = session.scalars(
            select(Broadcast)
            .where(Broadcast.status.in_(("sending", "cancelled")))
            .where(Broadcast.finished_at.is_(None))
            .order_by(Broadcast.id)
            .with_for_update(skip_locked=True)
        ).all()
        for broadcast in running:
            written += _follow_one(session, broadcast, now)
    return written


def _follow_one(session: Session, broadcast: Broadcast, now: datetime) -> int:
    creator = session.get(User, broadcast.created_by)
    result = results(session, broadcast.id)
    if creator is None:
        return 0
    t = Translator(creator.language)
    if result.waiting == 0:
        broadcast.finished_at = now
        if broadcast.status == "sending":
            broadcast.status = "done"
        broadcast.counts = {**broadcast.counts, "results": result.as_json()}
        _note(session, creator, f"bc:{broadcast.id}:report", report(t, broadcast, result), now)
        repository.audit(
            session, now, None, "broadcast.finished", f"bc:{broadcast.id}", **result.as_json()
        )
        return 1
    reached = [step for step in STEPS if result.percent >= step > broadcast.progress_reported]
    if not reached:
        return 0
    broadcast.progress_reported = reached[-1]
    text = t(
        "bc.progress_note",
        id=broadcast.id,
        done=result.finished,
        total=result.total,
        percent=result.percent,
    )
    _note(session, creator, f"bc:{broadcast.id}:p{reached[-1]}", text, now)
    return 1


def _note(session: Session, user: User, key: str, text: str, now: datetime) -> None:
    row = {
        "user_id": user.id,
        "channel": user.channel,
        "kind": "staff",
        "dedupe_key": key,
        "payload": {
            "text": text,
            "buttons": [[Translator(user.language)("btn.bc_open"), "/thongbao"]],
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "platform_message_id": None,
        "created_at": now,
        "sent_at": None,
        "priority": outbox.PRIORITY["staff"],
        "broadcast_id": None,
        "route": None,
        "expires_at": None,
        "dispatched_at": None,
    }
    outbox.insert_once(session, [row])


def report(t: Translator, broadcast: Broadcast, result: Results) -> str:
    """The final report, one line per outcome, with the reasons."""
    key = "bc.report_cancelled" if broadcast.status == "cancelled" else "bc.report"
    lines = [t(key, id=broadcast.id, total=result.total)]
    lines.append(t("bc.line_delivered", count=result.delivered))
    lines.append(t("bc.line_failed", count=sum(result.failed.values())))
    lines += [t("bc.line_reason", reason=r, count=n) for r, n in result.failed.most_common()]
    lines.append(t("bc.line_unreachable", count=sum(result.unreachable.values())))
    lines += [
        t("bc.line_reason", reason=why(t, r), count=n) for r, n in result.unreachable.most_common()
    ]
    if result.interrupted:
        lines.append(t("bc.line_interrupted", count=result.interrupted))
    if result.cancelled:
        lines.append(t("bc.line_cancelled", count=result.cancelled))
    return "\n".join(lines)


def why(t: Translator, reason: str) -> str:
    """A reason code in words (bc.why.*), or the platform's own words."""
    key = f"bc.why.{reason}"
    return t(key) if t.has(key) else reason
