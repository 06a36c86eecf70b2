"""The dispatcher's promises: once per message id, one user's steps in order across
workers, nothing kept when a handler fails."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.app import App
from bot.dispatcher import Dispatcher
from bot.events import Incoming
from handlers.context import Context
from storage.db import Database
from storage.models import Conversation, ProcessedMessage, User

_ids = itertools.count()


def text(app: App, user: str, body: str, message_id: str | None = None) -> Incoming:
    return Incoming(
        channel="console",
        user_id=user,
        message_id=message_id or f"d{next(_ids)}",
        at=app.clock.now(),
        text=body,
    )


def counting_handler(ctx: Context) -> None:
    """Appends each message to the conversation: a lost update would lose a line."""
    ctx.data["seen"] = [*ctx.data.get("seen", []), ctx.text]


def test_one_user_in_order_across_two_workers(app: App) -> None:
    """Two engines stand for two worker processes sharing the database."""
    workers = [
        Dispatcher(db, app.plan, app.clock, handler=counting_handler)
        for db in (app.db, Database(app.db.url))
    ]
    events = [text(app, "same-user", f"line {n}") for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        # every message arrives twice, at both workers at once (a webhook redelivery)
        jobs = [pool.submit(w.process, e) for e in events for w in workers]
        outcomes = [job.result() for job in jobs]
    assert sum(o.duplicate for o in outcomes) == 40
    with app.db.transaction() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert sorted(conversation.data["seen"]) == sorted(e.text for e in events)
        assert conversation.version == 40
        assert len(session.scalars(select(ProcessedMessage)).all()) == 40
        assert len(session.scalars(select(User)).all()) == 1
    workers[1].db.close()


async def test_one_users_messages_keep_their_order_in_process(app: App) -> None:
    dispatcher = Dispatcher(app.db, app.plan, app.clock, handler=counting_handler)
    events = [text(app, "u", f"{n}") for n in range(30)]
    others = [text(app, f"other-{n}", "x") for n in range(30)]
    await asyncio.gather(*(dispatcher.handle(e) for e in [*events, *others]))
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "u")).one()
        conversation = session.get(Conversation, user.id)
        assert conversation is not None
        assert conversation.data["seen"] == [e.text for e in events]


def failing_handler(ctx: Context) -> None:
    ctx.data["half"] = "written"
    ctx.user.language = "en"
    raise RuntimeError("a bug")


def test_a_failing_handler_keeps_nothing_and_apologises(app: App) -> None:
    dispatcher = Dispatcher(app.db, app.plan, app.clock, handler=failing_handler)
    event = text(app, "u", "hello")
    outcome = dispatcher.process(event)
    assert "lỗi" in outcome.replies[0].text
    assert dispatcher.process(event).duplicate  # a redelivery does not loop on the bug
    with app.db.transaction() as session:
        assert session.scalars(select(Conversation)).all() == []
        assert session.scalars(select(User)).all() == []


def test_a_user_who_writes_again_is_reachable_again(app: App) -> None:
    app.dispatcher.process(text(app, "back", "hello"))
    with app.db.transaction() as session:
        user = session.scalars(select(User)).one()
        user.reachable, user.unreachable_reason = False, "blocked by the user"
    app.dispatcher.process(text(app, "back", "I am back"))
    with app.db.transaction() as session:
        user = session.scalars(select(User)).one()
        assert user.reachable and user.unreachable_reason is None
