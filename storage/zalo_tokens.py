"""The Zalo OA token pair, one row per OA.

The refresh token works once, so the new pair replaces the old one in the same
transaction that holds the row lock: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
BEGIN IMMEDIATE that storage.db issues already makes every transaction the only writer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import ZaloToken


def current(session: Session, oa_id: str) -> ZaloToken | None:
    return session.get(ZaloToken, oa_id, populate_existing=True)


def locked(session: Session, oa_id: str) -> ZaloToken | None:
    """The row, locked until the transaction ends, as committed by any other worker."""
    return session.get(ZaloToken, oa_id, with_for_update=True, populate_existing=True)


def store(
    session: Session,
    oa_id: str,
    access_token: str,
    refresh_token: str,
    expires_at: datetime,
    now: datetime,
) -> ZaloToken:
    row = locked(session, oa_id)
    if row is None:
        row = ZaloToken(oa_id=oa_id, refresh_count=0)
        session.add(row)
    else:
        row.refresh_count = (row.refresh_count or 0) + 1
    row.access_token = access_token
    row.refresh_token = refresh_token
    row.access_expires_at = expires_at
    row.refreshed_at = now
    return row
