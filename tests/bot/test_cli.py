"""The command line: plan check and db upgrade, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

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
