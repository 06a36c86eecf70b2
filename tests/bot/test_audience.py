"""Audiences and routes: who gets an announcement, and how each Zalo user is reached."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import App
from bot.audience import Audience, Routes, fill, select_audience, template_problem
from bot.clock import ZONE
from bot.reminders import ZaloRules
from storage import repository
from storage.models import User
from tests.season import person, register

RULES = ZaloRules(promotion_monthly_cap=3)


def route_of(app: App, user_id: int, rules: ZaloRules = RULES) -> tuple[str | None, str | None]:
    with app.db.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        route = Routes(session, rules, app.clock.now()).route(user)
        return route.name, route.reason


def test_zalo_routes_follow_the_interaction_window_and_following(app: App) -> None:
    now = app.clock.now()
    recent = person(app, "z1", channel="zalo", last_seen=now - timedelta(days=6, hours=23))
    follower = person(app, "z2", channel="zalo", last_seen=now - timedelta(days=8))
    stranger = person(app, "z3", channel="zalo", last_seen=now - timedelta(days=8), following=False)
    blocked = person(app, "t1", channel="telegram", reachable=False)
    assert route_of(app, recent) == ("cs", None)
    assert route_of(app, follower) == ("promotion", None)
    assert route_of(app, stranger) == (None, "zalo_not_following")
    assert route_of(app, blocked) == (None, "Forbidden: bot was blocked by the user")
    assert route_of(app, person(app, "t2", channel="telegram")) == ("direct", None)


def test_promotion_caps_per_day_and_per_month(app: App) -> None:
    now = app.clock.now()
    users = [
        person(app, f"z{n}", channel="zalo", last_seen=now - timedelta(days=30)) for n in range(5)
    ]
    with app.db.transaction() as session:  # one promotion already went to z0 today
        message = repository.enqueue(
            session, session.get(User, users[0]), "broadcast", {"text": "x"}, now
        )  # type: ignore[arg-type]
        message.route, message.status = "promotion", "sent"
    with app.db.transaction() as session:
        routes = Routes(session, RULES, now)
        got = [routes.route(session.get(User, u)) for u in users]  # type: ignore[arg-type]
    assert [(r.name, r.reason) for r in got] == [
        (None, "zalo_daily_cap"),
        ("promotion", None),
        ("promotion", None),
        (None, "zalo_monthly_cap"),  # 3 a month: the one sent and these two
        (None, "zalo_monthly_cap"),
    ]


def test_promotion_messages_wait_for_six_in_the_morning(app: App) -> None:
    late = datetime(2017, 5, 10, 22, 30, tzinfo=ZONE)
    app.clock.set(late, frozen=True)
    user_id = person(app, "z1", channel="zalo", last_seen=late - timedelta(days=10))
    with app.db.transaction() as session:
        route = Routes(session, RULES, late).route(session.get(User, user_id))  # type: ignore[arg-type]
    assert route.name == "promotion"
    assert route.not_before == datetime(2017, 5, 11, 6, 0, tzinfo=ZONE)


def test_audiences_by_unit_status_and_officers_need_consent_for_villages(app: App) -> None:
    a = person(app, "a")
    b = person(app, "b")
    c = person(app, "c", consent=False)
    person(app, "o", role="officer", unit="GLA", consent=None)
    register(app, a, "GLA", "Bát Tràng")
    register(app, b, "TTI", "Hạ Thái", status="returned")
    register(app, c, "GLA", "Kiêu Kỵ")
    plan, rules, now = app.plan, RULES, app.clock.now()
    with app.db.transaction() as session:

        def who(audience: Audience) -> tuple[list[str], int]:
            chosen = select_audience(session, plan, audience, rules, now)
            return [t.channel_user_id for t in chosen.targets], chosen.no_consent

        assert who(Audience("all")) == (["a", "b"], 1)
        assert who(Audience("units", units=("GLA",))) == (["a"], 1)
        assert who(Audience("status", statuses=("returned",))) == (["b"], 0)
        assert who(Audience("officers")) == (["o"], 0)
        gla = select_audience(session, plan, Audience("units", units=("GLA",)), rules, now)
        assert fill("Kính gửi {village} ({code})", gla.targets[0]) == (
            "Kính gửi Bát Tràng (HN2017-GLA-0001)"
        )


def test_templates_accept_only_known_placeholders() -> None:
    assert template_problem("Kính gửi {village}, mã {code}; {{ngoặc}}") is None
    assert template_problem("Chào {ten}") == "{ten}"
    assert template_problem("{village.__class__}") == "{village.__class__}"
    assert template_problem("{village!r}") == "{village}"
    assert template_problem("mở { không đóng") == "{ }"
