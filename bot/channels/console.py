"""The console channel: a chat in the terminal, or a script of lines in and replies out.

Interactive in a terminal. With standard input not a terminal, each line is one
message and replies go to standard output (buttons as "[n] label"); `--jsonl` writes one
JSON object per input line instead. Numbers refer to all buttons of the last answer
together, in order, which is how the core counts them too.

Lines starting with "::" act out what a keyboard cannot: "::sticker", "::photo".
Files the bot sends (the staff's exports) are written to `files` (`--files`, default the
current directory).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.channels.render import numbered
from bot.events import Button, Incoming, Reply
from bot.scheduler import Scheduler, for_app
from storage import outbox
from storage.repository import get_user

CHANNEL = "console"


class Console:
    def __init__(self, app: App, user_id: str, *, language: str | None = None) -> None:
        self.app = app
        self.user_id = user_id
        self.language = language
        self.run_id = uuid.uuid4().hex[:12]
        self.count = 0
        self.scheduler: Scheduler | None = for_app(app)

    def event(self, line: str) -> Incoming:
        self.count += 1
        text = line.rstrip("\r\n")
        kind = "text"
        if text.startswith("::"):
            kind, text = "unsupported", text[2:].strip() or "sticker"
        return Incoming(
            channel=CHANNEL,
            user_id=self.user_id,
            message_id=f"{self.run_id}-{self.count}",
            at=self.app.clock.now(),
            kind=kind,  # type: ignore[arg-type]
            text=text,
            language_hint=self.language,
        )

    async def send(self, line: str) -> list[Reply]:
        outcome = await self.app.dispatcher.handle(self.event(line))
        if self.scheduler is not None:  # no `serve` loop here: due work runs after each line
            await asyncio.to_thread(self.scheduler.tick)
        return [*outcome.replies, *self.deliver_outbox()]

    def deliver_outbox(self) -> list[Reply]:
        """Messages others' actions left for this console user (notices, reminders)."""
        now = self.app.clock.now()
        with self.app.db.transaction() as session:
            user = get_user(session, CHANNEL, self.user_id)
            if user is None:
                return []
            replies = []
            held = self.scheduler.quiet(now) if self.scheduler else ()
            claimed = outbox.claim_due(
                session, CHANNEL, now, user_id=user.id, limit=100, hold_kinds=held
            )
            for message in claimed:
                buttons = tuple(Button(label, payload) for label, payload in message.payload.get(
                    "buttons", []))  # fmt: skip
                replies.append(Reply(message.payload.get("text", ""), buttons))
                outbox.mark_sent(message, now, f"console-{message.id}")
            return replies


def render(replies: list[Reply]) -> str:
    """All replies of one turn; buttons numbered across them, as the core numbers them."""
    lines: list[str] = []
    number = 1
    for reply in replies:
        lines.append(reply.text)
        lines.extend(numbered(reply.buttons, start=number))
        number += len(reply.buttons)
        if reply.file is not None:
            lines.append(f"[file] {reply.file.filename} ({len(reply.file.content)} bytes)")
    return "\n".join(lines)


def as_json(line: str, replies: list[Reply]) -> str:
    return json.dumps(
        {
            "in": line.rstrip("\r\n"),
            "replies": [
                {"text": r.text, "buttons": [b.label for b in r.buttons]}
                | ({"file": r.file.filename} if r.file else {})
                for r in replies
            ],
        },
        ensure_ascii=False,
    )


async def run(
    app: App,
    user_id: str,
    *,
    language: str | None = None,
    jsonl: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    files: Path | None = None,
) -> int:
    console = Console(app, user_id, language=language)
    interactive = stdin.isatty() and not jsonl
    pending = console.deliver_outbox()
    if pending and not jsonl:
        print(render(pending), file=stdout, flush=True)
    if interactive:
        return await _interactive(console, stdout, files)
    for line in stdin:
        replies = await console.send(line)
        saved = save_files(replies, files)
        out = as_json(line, replies) if jsonl else render([*replies, *saved]) + "\n"
        print(out, file=stdout, flush=True)
    return 0


def save_files(replies: list[Reply], directory: Path | None) -> list[Reply]:
    """Write the files the bot sent (exports) into `directory`; a line saying where each went."""
    if directory is None:
        return []
    saved = []
    for reply in replies:
        if reply.file is not None:
            path = directory / Path(reply.file.filename).name  # never outside the directory
            path.write_bytes(reply.file.content)
            saved.append(Reply(f"[saved] {path}"))
    return saved


async def _interactive(console: Console, stdout: TextIO, files: Path | None) -> int:
    print(
        f"langnghe-bot — console (user {console.user_id}, {Path.cwd()}). Ctrl-D to quit.",
        file=stdout,
    )
    print(render(await console.send("/start")), file=stdout)
    while True:
        try:
            line = await asyncio.to_thread(input, "> ")
        except (EOFError, KeyboardInterrupt):
            print(file=stdout)
            return 0
        replies = await console.send(line)
        print(render([*replies, *save_files(replies, files)]), file=stdout, flush=True)
