"""`langnghe-bot reminders preview|run|check`: the scheduler from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bot.app import build
from bot.plan import Plan, load_plan
from bot.reminders import ReminderRules, check_rules_file, load_rules
from bot.scheduler import already_queued, preview, run_once
from bot.settings import Settings
from bot.text import shorten
from storage.db import Database


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.reminders_command == "check":
        errors = check_rules_file(args.file, load_plan(args.plan))
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        print(f"{args.file}: " + (f"{len(errors)} error(s)" if errors else "OK"))
        return 1 if errors else 0
    app = build(settings)
    try:
        rules = load_rules(app.plan, settings.reminders)
        if args.reminders_command == "preview":
            show_preview(app.db, app.plan, rules, app.clock.today())
            return 0
        result = run_once(app.db, app.plan, rules, app.clock.now())
        busy = " (another worker holds the scheduler; nothing done)" if result.busy else ""
        print(
            f"{app.clock.now():%Y-%m-%d %H:%M}: {result.created} reminder(s) queued, "
            f"{result.dropped} dropped (too late or replaced){busy}"
        )
        return 0
    finally:
        app.close()


def show_preview(db: Database, plan: Plan, rules: ReminderRules, day: date) -> None:
    planned = preview(db, plan, rules, day)
    queued = already_queued(db, [p.dedupe_key for p in planned])
    hour = rules.delivery.send_hour
    print(f"{day.isoformat()} {hour:02d}:00 (Asia/Ho_Chi_Minh): {len(planned)} reminder(s)")
    for p in planned:
        state = "already queued" if p.dedupe_key in queued else (p.dropped or "would send")
        print(f"  {p.rule:28} {p.channel}:{p.who:<14} [{state}] {shorten(p.text, 70)}")
