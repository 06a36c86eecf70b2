"""The durable inbox: stored once, one sender's events in order, leases, retries."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage import inbox
from storage.models import InboxEvent


def store(app: App, event_id: str, sender: str = "u1", channel: str = "zalo") -> bool:
    with app.db.transaction() as session:
        return inbox.add(
            session, channel, event_id, sender, "user_send_text", "{}", app.clock.now()
        )


def claim(app: App, sender: str = "u1") -> str | None:
    with app.db.transaction() as session:
        row = inbox.claim_next(session, "zalo", sender, app.clock.now())
        return row.event_id if row else None


def done(app: App, event_id: str) -> None:
    with app.db.transaction() as session:
        inbox.mark_done(session, "zalo", event_id, app.clock.now())


def status_of(app: App, event_id: str) -> tuple[str, int]:
    with app.db.transaction() as session:
        row = session.query(InboxEvent).filter_by(event_id=event_id).one()
        return row.status, row.attempts


async def test_a_redelivered_event_is_stored_once(app: App) -> None:
    assert store(app, "m1")
    assert not store(app, "m1")
    assert store(app, "m1", channel="telegram")  # ids are unique per channel only
    with app.db.transaction() as session:
        assert inbox.backlog(session, "zalo") == {"pending": 1}


async def test_one_senders_events_are_taken_in_order_one_at_a_time(app: App) -> None:
    for event_id, sender in [("a1", "alice"), ("b1", "bob"), ("a2", "alice")]:
        store(app, event_id, sender)
    assert claim(app, "alice") == "a1"
    assert claim(app, "alice") is None  # a2 waits until a1 is done
    assert claim(app, "bob") == "b1"  # other senders go on meanwhile
    done(app, "a1")
    assert claim(app, "alice") == "a2"
    done(app, "a2")
    assert claim(app, "alice") is None


async def test_a_done_event_keeps_no_text(app: App) -> None:
    with app.db.transaction() as session:
        now = app.clock.now()
        inbox.add(session, "zalo", "m1", "u1", "user_send_text", '{"text": "0912345678"}', now)
    assert claim(app) == "m1"
    done(app, "m1")
    with app.db.transaction() as session:
        row = session.query(InboxEvent).filter_by(event_id="m1").one()
        assert (row.status, row.body) == ("done", "")


async def test_an_event_left_by_a_dead_worker_is_taken_again_after_its_lease(app: App) -> None:
    store(app, "m1")
    assert claim(app) == "m1"  # ... and the worker dies
    with app.db.transaction() as session:
        assert inbox.senders_with_work(session, "zalo", app.clock.now()) == []
    app.clock.advance(timedelta(seconds=61))
    with app.db.transaction() as session:
        assert inbox.senders_with_work(session, "zalo", app.clock.now()) == ["u1"]
    assert claim(app) == "m1"
    assert status_of(app, "m1") == ("processing", 2)


async def test_a_failed_event_is_retried_later_then_given_up(app: App) -> None:
    store(app, "m1")
    store(app, "m2")
    for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
        with app.db.transaction() as session:
            row = inbox.claim_next(session, "zalo", "u1", app.clock.now())
            assert row is not None and row.event_id == "m1"
            row_id = row.id
        with app.db.transaction() as session:
            inbox.mark_retry(session, row_id, app.clock.now(), "database went away")
        if attempt < inbox.MAX_ATTEMPTS:
            assert status_of(app, "m1") == ("pending", attempt)
            assert claim(app) is None  # not due yet, and m2 keeps its place behind it
            app.clock.advance(timedelta(minutes=6))
    assert status_of(app, "m1") == ("failed", inbox.MAX_ATTEMPTS)
    assert claim(app) == "m2"
