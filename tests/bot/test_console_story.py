"""The whole story through the console alone, as a newcomer would try it: Department
staff, a district officer and a village representative as three `--user`s on one
database, driven through `langnghe-bot` itself (bot.cli.main, lines on standard input)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main

TODAY = "2017-05-10"


class Console:
    """`langnghe-bot console --user USER --db URL`, one batch of typed lines at a time."""

    def __init__(self, url: str, files: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
        self.url, self.files, self.monkeypatch, self.capsys = url, files, monkeypatch, capsys

    def run(self, *argv: str) -> str:
        self.capsys.readouterr()
        assert main([*argv, "--db", self.url, "--today", TODAY]) == 0
        return self.capsys.readouterr().out

    def type(self, user: str, *lines: str) -> str:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{x}\n" for x in lines)))
        return self.run("console", "--user", user, "--files", str(self.files))


REGISTRATION = [
    "/dangky", "dong y", "1",  # consent, follow-up messages
    "Bát Tràng", "xã Bát Tràng", "gia lam", "gốm sứ", "5427/QĐ-UBND", "15/03/2010",
    "2", "HTX Gốm sứ Bát Tràng", "co", "Nguyễn Văn An", "Chủ nhiệm HTX", "0912 345 678",
    "bo qua", "1 2 3", "2015 2016", "Gửi hồ sơ",
]  # fmt: skip


def test_staff_officer_and_village_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    console = Console(f"sqlite:///{tmp_path / 'f.db'}", tmp_path, monkeypatch, capsys)

    out = console.run("admin", "add-staff", "--channel", "console", "--user", "staff1")
    assert "console:staff1 is Department staff" in out

    out = console.type("staff1", "/moi Gia Lâm")
    match = re.search(r"/thamgia ([A-Z0-9]{4}-[A-Z0-9]{4})", out)
    assert match, out
    out = console.type("officer1", f"/thamgia {match.group(1)}")
    assert "cán bộ tiếp nhận hồ sơ của huyện Gia Lâm" in out

    out = console.type("village1", *REGISTRATION)
    assert "Mã hồ sơ: HN2017-GLA-0001" in out

    out = console.type("officer1", "/choduyet", "1", "2", "Số điện thoại không liên lạc được")
    assert "Hồ sơ mới cần xác nhận: HN2017-GLA-0001" in out  # the notice, delivered
    assert "Đã trả lại hồ sơ HN2017-GLA-0001" in out

    out = console.type("village1", "/trangthai", "1", "2", "12", "0987 654 321", "1")
    assert "Lý do: Số điện thoại không liên lạc được" in out  # the notice, delivered
    assert "[1] ✏️ Sửa hồ sơ HN2017-GLA-0001" in out
    assert "• Điện thoại: 0987 654 321" in out
    assert out.count("Mã hồ sơ: HN2017-GLA-0001") == 1  # resubmitted under the same code

    out = console.type("officer1", "/choduyet", "1", "1")
    assert "đã được sửa và gửi lại" in out and "(đã sửa: Điện thoại)" in out
    assert "Đã xác nhận hồ sơ HN2017-GLA-0001" in out

    out = console.type("staff1", "/xuat", "1", "/uutien")
    assert f"[saved] {tmp_path / f'danh-sach-dang-ky-{TODAY}.xlsx'}" in out
    assert "1. ⭐ Bát Tràng — huyện Gia Lâm (HN2017-GLA-0001)" in out
    sheet = load_workbook(tmp_path / f"danh-sach-dang-ky-{TODAY}.xlsx").active
    assert sheet is not None
    header, row = list(sheet.iter_rows(values_only=True))
    record = dict(zip(header, row, strict=True))
    assert record["Làng nghề"] == "Bát Tràng" and record["Điện thoại"] == "0987654321"
    assert record["Trạng thái"] == "quận/huyện đã xác nhận, chuyển Sở Công Thương"
    assert isinstance(record["Ngày xác nhận"], datetime)
    assert (tmp_path / f"thu-tu-uu-tien-{TODAY}.xlsx").exists()

    out = console.type("village1", "/trangthai")
    assert "đã được UBND huyện Gia Lâm xác nhận và chuyển Sở Công Thương" in out

    # The same list and ranking from the command line.
    out = console.run("export", "--format", "csv", "--output", str(tmp_path / "list.csv"))
    assert "1 registration(s)" in out
    assert (tmp_path / "list.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    out = console.run("shortlist", "--output", str(tmp_path / "shortlist.xlsx"))
    assert "nhóm 1/4" in out and "suất tập huấn 1/10 (mục II.2)" in out


def test_the_installed_command_runs_the_console(tmp_path: Path) -> None:
    """The real entry point in a subprocess: lines in, replies out."""
    url = f"sqlite:///{tmp_path / 'f.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "admin", "add-staff", "--channel", "console",
         "--user", "staff1", "--db", url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "is Department staff" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "staff1", "--db", url,
         "--today", TODAY, "--files", str(tmp_path)],
        input="/trangthai\n/uutien\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Tình hình chung" in done.stdout and "Chưa có hồ sơ nào" in done.stdout
