"""One incoming event, one unit of work.

In one transaction: record the message id (a redelivery stops here), lock the user,
load their conversation, run the handler, save the new state with the outbox rows and
audit entries it wrote. Only after the commit are the replies handed to the channel.

One user's events run in order (an asyncio lock per user in this process, and on
PostgreSQL a transaction-scoped advisory lock across worker processes); different users
run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.events import Incoming, Outcome, Reply
from bot.i18n import Translator, language_of
from bot.plan import Plan
from handlers import router
from handlers.context import Context
from storage import repository
from storage.db import Database
from storage.models import ProcessedMessage

log = logging.getLogger(__name__)

# How precisely we keep "last seen" (Zalo's 7-day window for customer-service messages).
SEEN_RESOLUTION = timedelta(minutes=1)

Handler = Callable[[Context], None]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        plan: Plan,
        clock: Clock,
        *,
        handler: Handler = router.handle,
        default_language: str | None = None,
        forward: bool = False,
    ) -> None:
        self.db = db
        self.plan = plan
        self.clock = clock
        self.handler = handler
        self.default_language = default_language
        self.forward = forward  # queue forwarded registrations for the outbound webhook
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # SQLite serialises writers anyway and answers in well under a millisecond, so we
        # stay on the event loop; PostgreSQL waits on the network, so we use threads.
        self.use_threads = db.is_postgres

    async def handle(self, event: Incoming) -> Outcome:
        key = (event.channel, event.user_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if self.use_threads:
                    return await asyncio.to_thread(self.process, event)
                return self.process(event)
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    def process(self, event: Incoming) -> Outcome:
        """The whole unit of work for one event (synchronous; safe in a thread)."""
        try:
            with self.db.transaction() as session:
                return self._process(session, event)
        except Exception:
            log.exception("handler failed for %s/%s", event.channel, event.message_id)
            return self._apologise(event)

    def _process(self, session: Session, event: Incoming) -> Outcome:
        now = self.clock.now()
        self._lock_user(session, event)
        if not repository.mark_processed(session, event.channel, event.message_id, now):
            return Outcome(duplicate=True)
        found = repository.user_and_conversation(session, event.channel, event.user_id)
        if found is None:
            user = repository.get_or_create_user(
                session,
                event.channel,
                event.user_id,
                now,
                display_name=event.display_name,
                language=self.default_language or language_of(event.language_hint),
                known_new=True,
            )
            conversation = None
        else:
            user, conversation = found
        if now - user.last_seen_at > SEEN_RESOLUTION:  # one write a minute is enough
            user.last_seen_at = now
        if not user.reachable:  # they wrote to us: unblocked, or back in Zalo's window
            user.reachable, user.unreachable_reason = True, None
        if conversation is None:
            conversation = repository.conversation_of(session, user, now)
        ctx = Context(
            session=session,
            event=event,
            user=user,
            conversation=conversation,
            plan=self.plan,
            now=now,
            forward=self.forward,
        )
        self.handler(ctx)
        ctx.save()
        return Outcome(ctx.replies, stale_notice=ctx.stale_notice)

    def _lock_user(self, session: Session, event: Incoming) -> None:
        """Serialise one user's events across processes (SQLite: BEGIN IMMEDIATE does it)."""
        if self.db.is_postgres:
            key = zlib.crc32(f"{event.channel}:{event.user_id}".encode())
            session.execute(select(func.pg_advisory_xact_lock(key)))

    def _apologise(self, event: Incoming) -> Outcome:
        """A handler bug: nothing it did is kept; mark the message done and say sorry."""
        try:
            with self.db.transaction() as session:
                session.merge(
                    ProcessedMessage(
                        channel=event.channel, message_id=event.message_id, at=self.clock.now()
                    )
                )
                user = repository.get_user(session, event.channel, event.user_id)
                language = user.language if user else language_of(event.language_hint)
        except Exception:
            log.exception("could not record failed message %s", event.message_id)
            language = language_of(event.language_hint)
        return Outcome([Reply(Translator(language)("common.error"))])
