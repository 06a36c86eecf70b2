"""The by-hand tool `python -m tests.fakes.telegram_chat`, scripted: lines in, chat out."""

from __future__ import annotations

import io

from bot.settings import Settings
from tests.fakes.telegram_chat import chat


async def test_a_scripted_chat_taps_buttons_by_number(sqlite_url: str) -> None:
    out = io.StringIO()
    lines = io.StringIO("/start\n1\n::sticker\n2\n")
    await chat(Settings(database_url=sqlite_url, today="2017-05-10"), lines, out, lang="vi")
    answers = out.getvalue().split("\n\n")
    assert "[1] 📝 Đăng ký" in answers[0]
    assert "91/2025/QH15" in answers[1] and "[2] Không đồng ý" in answers[1]
    assert "chỉ đọc được tin nhắn chữ" in answers[2] and "[1] Đồng ý" in answers[2]
    assert "Bot không lưu thông tin nào" in answers[3]  # "2" tapped "Không đồng ý"
