"""Try the Telegram bot by hand, as a new user would: the Bot API test server and the bot
(long polling, the code `langnghe-bot telegram --polling` runs) in one process, and you
as a Telegram user on standard input.

    python -m tests.fakes.telegram_chat [--db URL] [--today 2017-05-10] [--lang en]

Each line you type is a message. The bot's messages print with their inline buttons as
"[1] label"; a bare number taps that button of the bot's last answer, as a finger would
(send the number as text with "::say 2"). "::sticker" and "::photo" send those,
"::block" blocks the bot (and "::unblock"). Pipe lines in to script a whole chat.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.app import build
from bot.channels.telegram import Telegram, make_bot, run
from bot.settings import Settings
from tests.fakes._telegram_records import BotMessage
from tests.fakes.telegram_api import FakeTelegram

USER_ID = 10_001


class Session:
    """One person talking to the bot through the test server."""

    def __init__(self, fake: FakeTelegram, telegram: Telegram, out: TextIO, user_id: int):
        self.fake = fake
        self.telegram = telegram
        self.out = out
        self.user_id = user_id
        self.seen = 0
        self.buttons: list[tuple[int, str]] = []  # (message id, callback data), numbered

    async def act(self, line: str) -> None:
        line = line.rstrip("\r\n")
        answers = len(self.fake.callback_answers)
        if line.isdigit() and self.buttons:
            number = int(line)
            if not 1 <= number <= len(self.buttons):
                print(f"(no button {number}; there are {len(self.buttons)})", file=self.out)
                return
            message_id, data = self.buttons[number - 1]
            try:
                self.fake.press_button(self.user_id, message_id, data)
            except ValueError:
                print("(that button is gone)", file=self.out)
                return
        elif line in ("::sticker", "::photo"):
            send = self.fake.send_sticker if line == "::sticker" else self.fake.send_photo
            send(self.user_id)
        elif line in ("::block", "::unblock"):
            block = self.fake.block_user if line == "::block" else self.fake.unblock_user
            block(self.user_id)
        else:
            self.fake.send_text(self.user_id, line.removeprefix("::say "))
        await self.fake.wait_until_delivered(timeout=30)
        await self.telegram.idle()
        for answer in self.fake.callback_answers[answers:]:
            if answer.text:
                print(f"(popup) {answer.text}", file=self.out)
        self.show(self.fake.messages_to(self.user_id)[self.seen :])

    def show(self, messages: Sequence[BotMessage]) -> None:
        self.seen += len(messages)
        sent = [m for m in messages if m.kind == "send"]
        if sent:
            self.buttons = []
        for message in sent:
            print(message.text or message.caption or "", file=self.out)
            if message.document is not None:
                document = message.document
                print(f"[file] {document.file_name} ({document.size} bytes)", file=self.out)
            for button in message.buttons:
                self.buttons.append((message.message_id, button.callback_data or ""))
                print(f"[{len(self.buttons)}] {button.text}", file=self.out)
        print(file=self.out, flush=True)


async def chat(settings: Settings, lines: TextIO, out: TextIO, *, lang: str) -> None:
    app = build(settings)
    stop = asyncio.Event()
    try:
        async with FakeTelegram() as fake:
            fake.add_user(USER_ID, first_name="Khách", language_code=lang)
            telegram = Telegram(app, make_bot(fake.token, fake.base_url))
            bot = asyncio.create_task(run(telegram, stop))
            session = Session(fake, telegram, out, USER_ID)
            interactive = lines.isatty()
            if interactive:
                print(f"Telegram test server at {fake.base_url}; Ctrl-D to quit.", file=out)
                await session.act("/start")
            while line := await asyncio.to_thread(lines.readline):
                await session.act(line)
            stop.set()
            await bot
    finally:
        app.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.telegram_chat")
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--today", default="2017-05-10", help="the day the bot lives in")
    parser.add_argument("--lang", default="vi", help="the user's Telegram language (vi, en)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'telegram-chat.db'}"
        settings = Settings(database_url=url, today=args.today)
        asyncio.run(chat(settings, sys.stdin, sys.stdout, lang=args.lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
