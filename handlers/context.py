"""What a handler works with: the event, the user, their conversation, the plan, the clock.

A handler reads the event, says things (`say`), moves the conversation (`goto`), and
writes through the session it is given; the dispatcher commits all of it at once,
before any reply is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.events import Attachment, Button, Incoming, Reply
from bot.i18n import Translator, translator
from bot.plan import Plan
from storage import repository
from storage.models import Conversation, User

MAX_TEXT = 1000  # longest answer we accept to a question


class Context:
    def __init__(
        self,
        *,
        session: Session,
        event: Incoming,
        user: User,
        conversation: Conversation,
        plan: Plan,
        now: datetime,
        forward: bool = False,
    ) -> None:
        self.session = session
        self.event = event
        self.user = user
        self.conversation = conversation
        self.plan = plan
        self.now = now
        # A URL is configured for forwarded registrations (bot/forwarder.py posts them).
        self.forward = forward
        self.replies: list[Reply] = []
        self.stale_notice: str | None = None  # set when a pressed button is no longer open
        # A working copy: JSON columns only notice reassignment, so we write it back once.
        self.data: dict[str, Any] = dict(conversation.data or {})

    # --- reading -------------------------------------------------------------------

    @property
    def t(self) -> Translator:
        return translator(self.user.language)

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def flow(self) -> str | None:
        return self.conversation.flow

    @property
    def step(self) -> str | None:
        return self.conversation.step

    @property
    def text(self) -> str:
        return self.event.text

    @property
    def payload(self) -> str:
        return self.event.payload

    # --- saying ----------------------------------------------------------------------

    def say(self, key: str, *, buttons: list[Button] | None = None, **values: Any) -> None:
        self.replies.append(Reply(self.t(key, **values), tuple(buttons or ())))

    def say_text(self, text: str, *, buttons: list[Button] | None = None) -> None:
        """For text already built from catalog pieces (summaries, lists)."""
        self.replies.append(Reply(text, tuple(buttons or ())))

    def send_file(self, text: str, file: Attachment) -> None:
        self.replies.append(Reply(text, (), file))

    def button(self, key: str, payload: str, **values: Any) -> Button:
        return Button(self.t(key, **values), payload)

    def notify(
        self,
        recipient: User,
        key: str,
        *,
        kind: str = "notice",
        dedupe_key: str | None = None,
        choices: Sequence[tuple[str, str]] = (),
        **values: Any,
    ) -> None:
        """A message to someone else, through the outbox, in their language.

        `choices` are buttons as (label key, payload), labels filled with `values` too.
        """
        t = translator(recipient.language)
        payload = {
            "text": t(key, **values),
            "buttons": [[t(label, **values), target] for label, target in choices],
        }
        repository.enqueue(self.session, recipient, kind, payload, self.now, dedupe_key=dedupe_key)

    def audit(self, action: str, subject: str | None = None, **detail: Any) -> None:
        repository.audit(self.session, self.now, self.user, action, subject, **detail)

    # --- moving ----------------------------------------------------------------------

    def goto(self, flow: str | None, step: str | None) -> None:
        self.conversation.flow = flow
        self.conversation.step = step

    def finish(self) -> None:
        """Leave the current conversation and forget its draft."""
        self.goto(None, None)
        self.data = {}

    def save(self) -> None:
        self.conversation.data = self.data
        self.conversation.offered = [[b.label, b.payload] for r in self.replies for b in r.buttons]
        self.conversation.version = (self.conversation.version or 0) + 1
        self.conversation.updated_at = self.now
