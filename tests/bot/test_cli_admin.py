"""The command line's role and back-office commands."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.cli import main
from storage.models import AuditEntry, User
from tests.people import officer, register


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_admin_invite_officers_and_revoke(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "admin", "invite", "--unit", "Gia Lâm", "--db", db_url)
    assert code == 0 and "huyện Gia Lâm" in out and "/join " in out
    code, _, err = run(capsys, "admin", "invite", "--unit", "gia lamm", "--db", db_url)
    assert code == 1 and "did you mean huyện Gia Lâm (GLA)" in err
    code, out, _ = run(capsys, "admin", "invite", "--unit", "GLA", "--days", "1", "--db", db_url)
    assert code == 0
    code, out, _ = run(capsys, "admin", "officers", "--db", db_url)
    assert out.strip() == "no officers yet"
    code, _, err = run(capsys, "admin", "revoke", "--channel", "console", "--user", "x",
                       "--db", db_url)  # fmt: skip
    assert code == 1 and "is not an officer" in err


async def test_admin_lists_and_revokes_an_officer(app: App) -> None:
    await officer(app, "o1")
    url = app.settings.database_url
    assert main(["admin", "officers", "--db", url]) == 0
    assert main(["admin", "revoke", "--channel", "console", "--user", "o1", "--db", url]) == 0
    with app.db.transaction() as session:
        user = session.scalars(select(User).where(User.channel_user_id == "o1")).one()
        assert user.role == "village"
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and last.action == "role.officer_revoked"
        assert last.actor_user_id is None  # the command line


async def test_export_filters_by_status_and_unit(app: App, tmp_path: Path) -> None:
    await register(app, "v1", "Bat Trang")
    await register(app, "v2", "Van Phuc", "ha dong")
    url = app.settings.database_url

    def rows(*argv: str) -> list[list[str]]:
        out = tmp_path / "out.csv"
        assert main(["export", "--output", str(out), "--db", url, *argv]) == 0
        return list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))[1:]

    assert rows() == []  # nothing forwarded yet
    assert {r[1] for r in rows("--status", "submitted")} == {"Bat Trang", "Van Phuc"}
    assert [r[1] for r in rows("--status", "all", "--unit", "Hà Đông")] == ["Van Phuc"]
    assert [r[1] for r in rows("--status", "submitted,returned", "--unit", "GLA")] == ["Bat Trang"]
    english = rows("--status", "all", "--lang", "en", "--unit", "GLA")
    assert english[0][9] == "sent, waiting for the district"


def test_export_needs_a_known_format(sqlite_url: str, tmp_path: Path) -> None:
    assert main(["export", "--output", str(tmp_path / "x.txt"), "--db", sqlite_url]) == 2
    assert main(["export", "--output", str(tmp_path / "x"), "--unit", "Paris",
                 "--format", "csv", "--db", sqlite_url]) == 1  # fmt: skip


def test_forward_needs_a_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGNGHE_FORWARD_URL", raising=False)
    assert main(["forward", "--once", "--db", sqlite_url]) == 2
