"""SQL that differs between SQLite and PostgreSQL, chosen from the session's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, table: Any) -> Any:
    """An INSERT that can take `.on_conflict_do_nothing()`, in the session's dialect."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table)
