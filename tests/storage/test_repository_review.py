"""The repository functions behind review and the daily digest."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage import repository
from tests.people import register


async def test_waiting_by_unit_counts_and_names_the_oldest(app: App) -> None:
    first_at = app.clock.now()
    await register(app, "v1", "Bat Trang")
    app.clock.advance(timedelta(hours=2))
    await register(app, "v2", "Kieu Ky")
    await register(app, "v3", "Van Phuc", "ha dong")
    with app.db.transaction() as session:
        waits = {w.unit_code: w for w in repository.waiting_by_unit(session, "hanoi-2017")}
        assert set(waits) == {"GLA", "HDO"}
        gla = waits["GLA"]
        assert (gla.count, gla.oldest_code, gla.oldest_submitted_at) == (
            2, "HN2017-GLA-0001", first_at,
        )  # fmt: skip
        assert waits["HDO"].count == 1
        only = repository.waiting_by_unit(session, "hanoi-2017", "HDO")
        assert [w.unit_code for w in only] == ["HDO"]
        assert repository.waiting_by_unit(session, "another-plan") == []


async def test_pending_of_unit_pages_oldest_first(app: App) -> None:
    for n, village in enumerate(["Bat Trang", "Kieu Ky", "Da Ton"]):
        await register(app, f"v{n}", village)
        app.clock.advance(timedelta(minutes=1))
    with app.db.transaction() as session:
        page, total = repository.pending_of_unit(session, "hanoi-2017", "GLA", limit=2)
        assert total == 3 and [r.village for r in page] == ["Bat Trang", "Kieu Ky"]
        page, _ = repository.pending_of_unit(session, "hanoi-2017", "GLA", offset=2, limit=2)
        assert [r.village for r in page] == ["Da Ton"]
        assert repository.status_counts(session, "hanoi-2017") == {"submitted": 3}
