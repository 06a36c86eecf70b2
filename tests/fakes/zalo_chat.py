"""Chat with the bot as a Zalo user, on this machine: the fake Zalo OA plus `langnghe-bot serve`.

    python -m tests.fakes.zalo_chat                   # a fresh database, today's date
    python -m tests.fakes.zalo_chat --today 2017-05-10 --db sqlite:///zalo-chat.db
    printf '/start\\n#1\\n' | python -m tests.fakes.zalo_chat   # scripted, one line a message

It starts the fake OA on a loopback port, stores the fake's first token pair with
`langnghe-bot zalo set-token` (as an operator does after authorising the app), runs
`langnghe-bot serve` pointed at the fake, and sets the fake's webhook to it. Each line you
type is sent as a signed `user_send_text` webhook; the OA's `message/cs` answers print
below, with their buttons as `[#1 …]`. Besides text:

    #2                tap the 2nd button of the last answer (Zalo sends its payload as text)
    ::sticker  ::image  ::location   send what the bot cannot read
    ::follow  ::unfollow             follow or unfollow the OA
    ::expire          expire the access token (the bot refreshes it)
    ::redeliver       Zalo delivers the last event again (the bot handles it once)

The server's log goes to a file named at start. Ctrl-D (end of input) quits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import aiohttp

from .zalo_oa import FakeZaloOA

USER = "5417089812345678901"
QUIET = 0.4  # seconds without a new message: the bot has finished answering


class ZaloChat:
    def __init__(self, zalo: FakeZaloOA, user_id: str, out: TextIO) -> None:
        self.zalo = zalo
        self.user_id = user_id
        self.out = out
        self.payloads: list[str] = []

    async def turn(self, line: str) -> None:
        command = line.strip()
        if command.startswith("#") and command[1:].isdigit():
            index = int(command[1:]) - 1
            if not 0 <= index < len(self.payloads):
                print(f"(no button #{index + 1})", file=self.out, flush=True)
                return
            status = await self.zalo.tap_button(self.user_id, self.payloads[index])
        elif command == "::sticker":
            status = await self.zalo.send_sticker(self.user_id)
        elif command == "::image":
            status = await self.zalo.send_image(self.user_id)
        elif command == "::location":
            status = await self.zalo.send_location(self.user_id)
        elif command == "::follow":
            status = await self.zalo.follow(self.user_id)
        elif command == "::unfollow":
            status = await self.zalo.unfollow(self.user_id)
        elif command == "::expire":
            self.zalo.expire_access_token()
            print("(access token expired)", file=self.out, flush=True)
            return
        elif command == "::redeliver":
            status = await self.zalo.redeliver_last()
        else:
            status = await self.zalo.send_text(self.user_id, line.rstrip("\r\n"))
        if status != 200:
            print(f"(the webhook answered HTTP {status})", file=self.out, flush=True)
        silent = command in ("::follow", "::unfollow", "::redeliver")  # no answer expected
        await self.show_answers(first_wait=1.5 if silent else 10.0)

    async def show_answers(self, first_wait: float = 10.0) -> None:
        """Print what the OA sends until it has been quiet for a moment."""
        wait = first_wait
        shown = False
        while True:
            try:
                message = await self.zalo.wait_for_message(self.user_id, timeout=wait)
            except TimeoutError:
                break
            if not shown:
                self.payloads = []
                shown = True
            print(f"OA: {message.text or ''}", file=self.out)
            if message.file_token:
                print("    [file]", file=self.out)
            labels = []
            for button in message.buttons:
                self.payloads.append(str(button.payload))
                labels.append(f"[#{len(self.payloads)} {button.title}]")
            if labels:
                print("    " + " ".join(labels), file=self.out)
            self.out.flush()
            wait = QUIET
        if not shown:
            print("(no answer)", file=self.out, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_listening(url: str, server: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if server.returncode is not None:
                raise SystemExit("langnghe-bot serve stopped; see its log")
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("langnghe-bot serve did not start; see its log")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.zalo_chat")
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--today", help="pretend today is this day, e.g. 2017-05-10")
    parser.add_argument("--user", default=USER, help="your Zalo user id")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="zalo-chat-"))
    db_url = args.db or f"sqlite:///{workdir / 'langnghe.db'}"
    log_path = workdir / "serve.log"
    out = sys.stdout

    async with FakeZaloOA() as zalo:
        env = {
            **os.environ,
            "LANGNGHE_DATABASE_URL": db_url,
            "LANGNGHE_ZALO_APP_ID": zalo.app_id,
            "LANGNGHE_ZALO_OA_ID": zalo.oa_id,
            "LANGNGHE_ZALO_OA_SECRET_KEY": zalo.oa_secret_key,
            "LANGNGHE_ZALO_APP_SECRET": zalo.app_secret,
            "LANGNGHE_ZALO_API_BASE": zalo.base_url,
            "LANGNGHE_ZALO_OAUTH_BASE": zalo.base_url,
        }
        if args.today:
            env["LANGNGHE_TODAY"] = args.today
        stored = subprocess.run(
            [sys.executable, "-m", "bot", "zalo", "set-token",
             "--access-token", zalo.access_token, "--refresh-token", zalo.refresh_token],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if stored.returncode != 0:
            print(stored.stderr, file=sys.stderr)
            return 1
        port = free_port()
        with log_path.open("w") as log:
            server = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--port", str(port),
                env=env, stdout=log, stderr=log,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_until_listening(url, server)
            zalo.webhook_url = f"{url}/zalo/webhook"
            await zalo.post_unsigned()  # registering the URL, as in the Zalo console
            chat = ZaloChat(zalo, args.user, out)
            interactive = sys.stdin.isatty()
            if interactive:
                print(
                    f"Fake Zalo OA at {zalo.base_url}, bot at {url}, database {db_url}\n"
                    f"Server log: {log_path}\n"
                    "Type a message; #n taps a button; ::sticker ::image ::location ::follow "
                    "::unfollow ::expire ::redeliver; Ctrl-D quits.",
                    file=out,
                    flush=True,
                )
            while True:
                if interactive:
                    print("> ", end="", file=out, flush=True)
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
                if not interactive:
                    print(f"> {line.rstrip()}", file=out, flush=True)
                if line.strip():
                    await chat.turn(line)
        finally:
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)
                await asyncio.wait_for(server.wait(), 30)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
