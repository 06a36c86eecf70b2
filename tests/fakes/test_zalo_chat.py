"""`python -m tests.fakes.zalo_chat`, scripted: lines in as a Zalo user, the OA's answers out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_scripted_zalo_chat_runs_against_serve(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.zalo_chat", "--today", "2017-05-10",
         "--db", f"sqlite:///{tmp_path / 'chat.db'}"],
        input="/start\n#1\ndong y\n::sticker\n",
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[#1 📝 Đăng ký]" in out
    assert "> #1\nOA: Trước khi đăng ký" in out
    assert "[#1 Có, nhận tin] [#2 Không nhận]" in out
    assert "chỉ đọc được tin nhắn chữ" in out
