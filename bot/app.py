"""Wiring: settings -> database, plan, clock, dispatcher."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, parse_today
from bot.dispatcher import Dispatcher
from bot.plan import Plan, load_plan
from bot.settings import Settings
from storage.db import Database


@dataclass
class App:
    settings: Settings
    db: Database
    plan: Plan
    clock: Clock
    dispatcher: Dispatcher

    def close(self) -> None:
        self.db.close()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    settings = settings or Settings()
    if clock is None:
        clock = Clock(parse_today(settings.today) if settings.today else None)
    db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    plan = load_plan(settings.plan)
    dispatcher = Dispatcher(db, plan, clock, forward=bool(settings.forward_url))
    return App(settings, db, plan, clock, dispatcher)
