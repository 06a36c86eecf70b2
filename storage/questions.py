"""Questions passed to Department staff, and the knowledge-base entries staff add.

Like storage.repository, every function works in the session of the current unit of
work, so a question, its answer, the notice to the asker and the audit entry commit
together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import KnowledgeEntry, Question, User

MAX_OPEN_PER_USER = 5  # a villager can't flood the staff queue


def ask(session: Session, user: User, plan_id: str, text: str, now: datetime) -> Question:
    question = Question(
        user_id=user.id,
        plan_id=plan_id,
        text=text,
        language=user.language,
        status="open",
        asked_at=now,
    )
    session.add(question)
    session.flush()
    return question


def open_of(session: Session, user: User) -> Sequence[Question]:
    """A user's questions still waiting for staff, oldest first."""
    return session.scalars(
        select(Question)
        .where(Question.user_id == user.id, Question.status == "open")
        .order_by(Question.id)
    ).all()


def queue(session: Session, limit: int) -> tuple[Sequence[Question], int]:
    """The oldest open questions (at most `limit`) and how many are open in all."""
    total = session.scalar(select(func.count()).where(Question.status == "open")) or 0
    rows = session.scalars(
        select(Question).where(Question.status == "open").order_by(Question.id).limit(limit)
    ).all()
    return rows, int(total)


def get_for_update(session: Session, question_id: int) -> Question | None:
    """The question, its row locked until the transaction ends (two staff, one answer)."""
    return session.get(Question, question_id, with_for_update=True)


def answer(session: Session, question: Question, staff: User, text: str, now: datetime) -> None:
    question.status = "answered"
    question.answer = text
    question.answered_by = staff.id
    question.answered_at = now


def staff_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).where(User.role == "staff").order_by(User.id)).all()


# --- knowledge-base entries added by staff ---------------------------------------------------


def add_entry(session: Session, question: Question, staff: User, now: datetime) -> KnowledgeEntry:
    entry = KnowledgeEntry(
        plan_id=question.plan_id,
        language=question.language,
        question=question.text,
        answer=question.answer or "",
        question_id=question.id,
        created_by=staff.id,
        created_at=now,
        active=True,
    )
    session.add(entry)
    session.flush()
    return entry


def entry_for(session: Session, question: Question) -> KnowledgeEntry | None:
    return session.scalars(
        select(KnowledgeEntry).where(KnowledgeEntry.question_id == question.id).limit(1)
    ).one_or_none()


def entries_version(session: Session, plan_id: str) -> tuple[int, int]:
    """Changes whenever an entry is added or removed: (how many, the highest id)."""
    count, top = session.execute(
        select(func.count(), func.max(KnowledgeEntry.id)).where(
            KnowledgeEntry.plan_id == plan_id, KnowledgeEntry.active.is_(True)
        )
    ).one()
    return int(count or 0), int(top or 0)


def entries(session: Session, plan_id: str) -> Sequence[KnowledgeEntry]:
    return session.scalars(
        select(KnowledgeEntry)
        .where(KnowledgeEntry.plan_id == plan_id, KnowledgeEntry.active.is_(True))
        .order_by(KnowledgeEntry.id)
    ).all()


def erase_asked_by(session: Session, user: User) -> int:
    """A person's erasure request: their questions lose their text and leave the queue."""
    questions = session.scalars(select(Question).where(Question.user_id == user.id)).all()
    for question in questions:
        question.text = ""
        question.status = "erased"
    return len(questions)
