"""The command line: plan check (with the knowledge file beside the plan) and db upgrade."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.cli import main
from bot.plan import DEFAULT_PLAN_PATH


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60
    )


def test_plan_check_accepts_the_shipped_plan() -> None:
    result = cli("plan", "check", str(DEFAULT_PLAN_PATH))
    assert result.returncode == 0
    assert "OK" in result.stdout


def test_plan_check_names_the_broken_field(tmp_path: Path) -> None:
    broken = tmp_path / "plan.toml"
    text = DEFAULT_PLAN_PATH.read_text()
    broken.write_text(text.replace("amount_vnd", "amount", 1))
    result = cli("plan", "check", str(broken))
    assert result.returncode == 1
    assert "budget.amount: unknown field" in result.stderr


def test_db_upgrade_creates_every_table(db_url: str) -> None:
    result = cli("db", "upgrade", "--db", db_url)
    assert result.returncode == 0, result.stderr
    tables = set(inspect(create_engine(db_url)).get_table_names())
    assert {"users", "consents", "conversations", "registrations", "status_changes",
            "processed_messages", "outbox", "audit_log", "alembic_version"} <= tables  # fmt: skip


def test_plan_check_covers_the_knowledge_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "hanoi-2017.toml"
    kb = tmp_path / "hanoi-2017.kb.toml"
    shutil.copy(DEFAULT_PLAN_PATH, plan)
    shutil.copy(DEFAULT_PLAN_PATH.with_name("hanoi-2017.kb.toml"), kb)
    assert main(["plan", "check", str(plan)]) == 0
    assert f"{kb}: OK" in capsys.readouterr().out

    kb.write_text(kb.read_text(encoding="utf-8").replace("{budget_source}", "{source}"), "utf-8")
    assert main(["plan", "check", str(plan)]) == 1
    assert "unknown value {source}" in capsys.readouterr().err
