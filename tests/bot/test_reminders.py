"""Reminder rules as data: the 2017 file is valid, and a wrong one says exactly what is wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.plan import load_plan
from bot.reminders import check_rules_file, load_rules, rules_path

PLAN = load_plan()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text('plan = "hanoi-2017"\n' + text, encoding="utf-8")
    return path


def test_the_2017_rules_are_valid_and_follow_the_timeline() -> None:
    assert check_rules_file(rules_path(PLAN), PLAN) == []
    rules = {rule.id: rule for rule in load_rules(PLAN).rules}
    assert rules["draft_before_deadline"].days(PLAN) == [date(2017, 5, 24), date(2017, 5, 30)]
    assert rules["selected_contract_soon"].days(PLAN) == [date(2017, 8, 29)]
    assert rules["selected_acceptance"].days(PLAN) == [date(2017, 11, 10), date(2017, 11, 21)]
    digest = rules["officer_digest"].days(PLAN)
    assert (digest[0], digest[-1], len(digest)) == (date(2017, 5, 1), date(2017, 7, 31), 92)


def test_a_wrong_rule_is_reported_with_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[rules]]
id = "late"
audience = "draft"
step = 12
offsets = [-1]
message = "remind.nothing"
commands = ["khongco"]
""")  # fmt: skip
    assert check_rules_file(path, PLAN) == [
        "rules[0].step: no timeline step 12",
        "rules[0].commands: no chat command /khongco",
        "rules[0]: message 'remind.nothing' missing in vi, en",
        "rules[0]: message 'remind.cmd.khongco' missing in vi, en",
    ]


def test_a_rule_needs_exactly_one_schedule_and_quiet_hours_stay_quiet(tmp_path: Path) -> None:
    path = write(tmp_path, """
[delivery]
send_hour = 22

[[rules]]
id = "both"
audience = "registrations"
status = ["returned"]
step = 1
offsets = [-1]
daily = true
message = "remind.returned"
""")  # fmt: skip
    errors = check_rules_file(path, PLAN)
    assert errors == [
        "delivery: Value error, send_hour 22 falls in the quiet hours",
        "rules[0]: Value error, give exactly one of offsets, daily, after_status_days",
    ]
