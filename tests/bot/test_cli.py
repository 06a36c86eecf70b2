"""`langnghe-bot plan check` also checks the knowledge file beside the plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.plan import DEFAULT_PLAN_PATH


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
