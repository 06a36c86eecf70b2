"""The console channel as a script would use it: real processes, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from storage.models import Registration

REGISTRATION = [
    "/start", "1", "đồng ý", "1",  # register, consent, follow-up messages
    "Làng gốm Bát Tràng", "xa Bat Trang", "Gia Lâm", "gốm sứ",
    "5427/QĐ-UBND", "15/03/2010", "2", "HTX Gốm sứ Bát Tràng", "co",
    "Nguyen Van An", "Chu nhiem HTX", "0912 345 678", "bo qua",
    "1 2 3", "2015 2016",
]  # fmt: skip


def bot(db: Path, *args: str, user: str = "an") -> list[str]:
    return [sys.executable, "-m", "bot", "console", "--db", f"sqlite:///{db}",
            "--today", "2017-05-10", "--user", user, *args]  # fmt: skip


def run(db: Path, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bot(db, *args), input="\n".join(lines) + "\n", capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def registrations(db: Path) -> list[Registration]:
    with Session(create_engine(f"sqlite:///{db}")) as session:
        return list(session.scalars(select(Registration)))


def test_scripted_chat_registers_a_village(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    result = run(db, [*REGISTRATION, "1"])  # [1] Gửi hồ sơ
    assert result.returncode == 0, result.stderr
    assert "[1] 📝 Đăng ký" in result.stdout
    assert "Mã hồ sơ: HN2017-GLA-0001" in result.stdout
    (registration,) = registrations(db)
    assert (registration.village, registration.status) == ("Làng gốm Bát Tràng", "submitted")


def test_jsonl_writes_one_object_per_input_line(tmp_path: Path) -> None:
    result = run(tmp_path / "bot.db", ["/start", "trang thai ho so", "/khongco"], "--jsonl")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["in"] for o in objects] == ["/start", "trang thai ho so", "/khongco"]
    assert "📝 Đăng ký" in objects[0]["replies"][-1]["buttons"]
    assert "chưa gửi hồ sơ nào" in objects[1]["replies"][0]["text"]
    assert "/khongco" in objects[2]["replies"][0]["text"]


def test_english_console(tmp_path: Path) -> None:
    result = run(tmp_path / "bot.db", ["/start"], "--lang", "en", "--jsonl")
    assert "Hello" in json.loads(result.stdout)["replies"][0]["text"]


def test_killed_process_resumes_at_the_same_step(tmp_path: Path) -> None:
    """kill -9 in the middle of the form; a new process continues with every answer kept."""
    db = tmp_path / "bot.db"
    first = subprocess.Popen(
        bot(db, "--jsonl"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert first.stdin is not None and first.stdout is not None
    for line in REGISTRATION[:12]:  # up to the representative's name
        first.stdin.write(line + "\n")
        first.stdin.flush()
        json.loads(first.stdout.readline())  # wait for the answer: it has been committed
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    result = run(db, ["/dangky", "Tiếp tục", *REGISTRATION[12:], "Gửi hồ sơ"], "--jsonl")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert "Bát Tràng" in answers[0]["replies"][0]["text"]  # "continue or start over?"
    assert "(9/15)" in answers[1]["replies"][0]["text"]  # the question it stopped at
    assert "HN2017-GLA-0001" in answers[-1]["replies"][0]["text"]
    (registration,) = registrations(db)
    assert registration.rep_name == "HTX Gốm sứ Bát Tràng"
    assert registration.decision_number == "5427/QĐ-UBND"
    assert registration.contact_phone == "0912345678"
