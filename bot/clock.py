"""The one clock of the application, settable so the 2017 season can be replayed.

No handler calls `datetime.now()`: they ask the clock. Setting it to a day keeps time
running from that day's current wall-clock time, so a demo on "2017-05-10" still ticks.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _real_now() -> datetime:
    return datetime.now(ZONE)


class Clock:
    def __init__(self, start: datetime | date | None = None, *, frozen: bool = False) -> None:
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        if start is not None:
            self.set(start, frozen=frozen)

    def now(self) -> datetime:
        if self._frozen_at is not None:
            return self._frozen_at
        return _real_now() + self._offset

    def today(self) -> date:
        return self.now().date()

    def set(self, when: datetime | date, *, frozen: bool = False) -> None:
        """Move the clock to `when` (a day keeps today's local time of day)."""
        real = _real_now()
        if not isinstance(when, datetime):
            when = datetime.combine(when, real.timetz().replace(tzinfo=None), ZONE)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=ZONE)
        when = when.astimezone(ZONE)
        if frozen:
            self._frozen_at = when
        else:
            self._frozen_at = None
            self._offset = when - real

    def advance(self, delta: timedelta) -> None:
        if self._frozen_at is not None:
            self._frozen_at += delta
        else:
            self._offset += delta


def parse_today(value: str) -> date:
    """`--today` / LANGNGHE_TODAY: an ISO date such as 2017-05-10."""
    return date.fromisoformat(value)
