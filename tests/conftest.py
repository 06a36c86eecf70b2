"""Shared fixtures: a real SQLite file and the real PostgreSQL server, and a chat driver.

Every test that takes `db_url` runs on both backends. PostgreSQL is the server this
machine runs (127.0.0.1:5432, database `test`); each test gets an empty schema of its own
database `langnghe_tests`. Without a reachable server those runs are skipped, and the
suite still passes on SQLite alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.app import App, build
from bot.clock import ZONE, Clock
from bot.settings import Settings
from tests.chat import Chat

PG_ADMIN_URL = os.environ.get(
    "LANGNGHE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_TEST_DB = os.environ.get("LANGNGHE_TEST_PG_DB", "langnghe_tests")


def _postgres_url() -> str | None:
    """A clean database for this test, or None where no server answers."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_TEST_DB}
            )
            if not exists:
                conn.execute(text(f"CREATE DATABASE {PG_TEST_DB}"))
        admin.dispose()
    except Exception:
        return None
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_TEST_DB
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = _postgres_url()
    if url is None:
        pytest.skip("PostgreSQL is not reachable at " + PG_ADMIN_URL)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


SEASON_DAY = datetime(2017, 5, 10, 9, 0, tzinfo=ZONE)


@pytest.fixture
def clock() -> Clock:
    """10 May 2017, 09:00 in Hanoi: registrations are open."""
    return Clock(SEASON_DAY, frozen=True)


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[App]:
    application = build(Settings(database_url=db_url), clock=clock)
    yield application
    application.close()


@pytest.fixture
def chat(app: App) -> Chat:
    return Chat(app, "village-1")
