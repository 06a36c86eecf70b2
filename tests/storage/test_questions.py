"""The staff queue and staff-added knowledge entries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage import questions as store
from storage.repository import get_or_create_user


def test_queue_oldest_first_and_answer(app: App) -> None:
    now = app.clock.now()
    with app.db.transaction() as session:
        villager = get_or_create_user(session, "console", "v", now)
        staff = get_or_create_user(session, "console", "s", now)
        staff.role = "staff"
        first = store.ask(session, villager, "hanoi-2017", "câu một", now)
        store.ask(session, villager, "hanoi-2017", "câu hai", now + timedelta(minutes=1))
    with app.db.transaction() as session:
        rows, total = store.queue(session, limit=1)
        assert total == 2 and [q.text for q in rows] == ["câu một"]
        question = store.get_for_update(session, first.id)
        assert question is not None
        staff = get_or_create_user(session, "console", "s", now)
        store.answer(session, question, staff, "trả lời", now)
        assert [u.channel_user_id for u in store.staff_users(session)] == ["s"]
    with app.db.transaction() as session:
        rows, total = store.queue(session, limit=5)
        assert total == 1 and [q.text for q in rows] == ["câu hai"]
        villager = get_or_create_user(session, "console", "v", now)
        assert [q.text for q in store.open_of(session, villager)] == ["câu hai"]


def test_entries_version_changes_with_each_entry(app: App) -> None:
    now = app.clock.now()
    with app.db.transaction() as session:
        assert store.entries_version(session, "hanoi-2017") == (0, 0)
        villager = get_or_create_user(session, "console", "v", now)
        staff = get_or_create_user(session, "console", "s", now)
        question = store.ask(session, villager, "hanoi-2017", "hỏi", now)
        store.answer(session, question, staff, "đáp", now)
        entry = store.add_entry(session, question, staff, now)
        assert store.entry_for(session, question) is entry
    with app.db.transaction() as session:
        assert store.entries_version(session, "hanoi-2017") == (1, entry.id)
        assert store.entries_version(session, "other-plan") == (0, 0)
        assert [e.answer for e in store.entries(session, "hanoi-2017")] == ["đáp"]
