"""The ranking by the plan's priorities (II.4): tiers, the spread across units, training."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.clock import ZONE
from bot.i18n import Translator
from bot.plan import Plan, load_plan
from storage.models import Registration
from storage.shortlist import ShortlistError, as_text, reasons, shortlist, shortlist_table

ALL = ["training", "identity", "strategy"]
START = datetime(2017, 5, 20, 9, 0, tzinfo=ZONE)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


def reg(
    code: str,
    unit: str = "GLA",
    *,
    years: list[int] | None = None,
    items: list[str] | None = None,
    order: int = 0,
    status: str = "forwarded",
    legal: bool = True,
) -> Registration:
    """A registration in memory: the shortlist is a pure function, no database needed."""
    return Registration(
        code=code, plan_id="hanoi-2017", status=status, unit_code=unit, village=code,
        village_key=code.lower(), commune="xa", craft="gom", decision_number="1/QĐ-UBND",
        decision_date=date(2010, 1, 1), rep_type="cooperative", rep_name="HTX",
        rep_legal_entity=legal, items=ALL if items is None else items,
        prior_years=[2015] if years is None else years,
        forwarded_at=START + timedelta(minutes=order),
    )  # fmt: skip


def codes(ranked: list) -> list[str]:  # type: ignore[type-arg]
    return [r.registration.code for r in ranked]


def test_tiers_follow_the_plans_ranks(plan: Plan) -> None:
    ranked = shortlist(
        [
            reg("neither", years=[], items=["training"]),
            reg("items-only", years=[]),
            reg("years-only", items=["identity"]),
            reg("both"),
        ],
        plan,
    )
    assert codes(ranked) == ["both", "years-only", "items-only", "neither"]
    assert [r.tier for r in ranked] == [1, 2, 3, 4] and ranked[0].tiers == 4
    assert [(c.code, c.met) for c in ranked[1].criteria] == [
        ("prior_years", True), ("all_items", False),
    ]  # fmt: skip


def test_a_year_outside_the_plans_prior_years_does_not_count(plan: Plan) -> None:
    (ranked,) = shortlist([reg("old", years=[2013])], plan)
    assert ranked.tier == 3


def test_round_robin_across_units_within_a_tier(plan: Plan) -> None:
    # Gia Lâm confirmed three early, Hà Đông one late, Thường Tín one in between.
    rows = [
        reg("GLA-1", "GLA", order=1), reg("GLA-2", "GLA", order=2), reg("GLA-3", "GLA", order=3),
        reg("HDO-1", "HDO", order=9), reg("TTI-1", "TTI", order=5),
    ]  # fmt: skip
    ranked = shortlist(rows, plan)
    assert codes(ranked) == ["GLA-1", "TTI-1", "HDO-1", "GLA-2", "GLA-3"]
    spreads = [(r.spread.round, r.spread.unit_before) for r in ranked if r.spread]
    assert spreads == [(1, 0), (1, 0), (1, 0), (2, 1), (3, 2)]


def test_the_spread_carries_over_tiers(plan: Plan) -> None:
    """A unit that already holds places in a higher tier waits its turn in the next one."""
    rows = [
        reg("GLA-top", "GLA", order=1),
        reg("GLA-2nd", "GLA", items=["training"], order=2),
        reg("HDO-2nd", "HDO", items=["training"], order=3),
    ]
    assert codes(shortlist(rows, plan)) == ["GLA-top", "HDO-2nd", "GLA-2nd"]


def test_only_forwarded_eligible_registrations(plan: Plan) -> None:
    rows = [
        reg("ok"),
        reg("waiting", status="submitted"),
        reg("returned", status="returned"),
        reg("no-entity", legal=False),
    ]
    assert codes(shortlist(rows, plan)) == ["ok"]


def test_training_places_go_to_the_first_who_asked(plan: Plan) -> None:
    rows = [reg(f"T{n:02d}", f"U{n:02d}", order=n) for n in range(12)]
    rows.insert(0, reg("no-training", "AAA", items=["identity", "strategy"], years=[2014]))
    ranked = shortlist(rows, plan)
    assert ranked[0].registration.code == "T00"  # tier 1 before the tier-2 one
    slots = [r.training_slot for r in ranked]
    assert slots[:10] == list(range(1, 11))
    assert slots[10:] == [None, None, None]
    assert plan.training_slots == 10


def test_rules_come_from_the_plan_file(plan: Plan) -> None:
    """Swap the ranks in the plan and the ranking follows, with no code change."""
    swapped = [
        p.model_copy(update={"rank": {"prior_years": 2, "all_items": 1}.get(p.code, p.rank)})
        for p in plan.priorities
    ]
    other = plan.model_copy(update={"priorities": swapped})
    rows = [reg("years-only", items=["identity"]), reg("items-only", years=[])]
    assert codes(shortlist(rows, plan)) == ["years-only", "items-only"]
    assert codes(shortlist(rows, other)) == ["items-only", "years-only"]

    no_spread = plan.model_copy(update={"priorities": [p for p in plan.priorities
                                                       if p.code != "spread"]})  # fmt: skip
    rows = [reg("GLA-1", "GLA", order=1), reg("GLA-2", "GLA", order=2), reg("HDO", "HDO", order=3)]
    assert codes(shortlist(rows, no_spread)) == ["GLA-1", "GLA-2", "HDO"]
    assert all(r.spread is None for r in shortlist(rows, no_spread))


def test_an_unknown_priority_is_an_error_not_a_guess(plan: Plan) -> None:
    odd = plan.priorities[0].model_copy(update={"code": "oldest_village", "rank": 4})
    broken = plan.model_copy(update={"priorities": [*plan.priorities, odd]})
    with pytest.raises(ShortlistError, match="oldest_village"):
        shortlist([reg("x")], broken)


def test_each_row_says_why_citing_the_plan(plan: Plan) -> None:
    ranked = shortlist([reg("A", years=[2014, 2016]), reg("B", "GLA", items=["identity"])], plan)
    t = Translator("vi")
    first = reasons(ranked[0], plan, t)
    assert first == (
        "nhóm 1/4; đã được quận/huyện đăng ký năm 2014, 2016 (ưu tiên 1, mục II.4); "
        "đăng ký đủ 3 nội dung (ưu tiên 2, mục II.4); chia đều giữa các quận/huyện/thị xã: "
        "lượt 1 trong nhóm, làng đầu tiên của huyện Gia Lâm (ưu tiên 3, mục II.4); "
        "suất tập huấn 1/10 (mục II.2)"
    )
    second = reasons(ranked[1], plan, t)
    assert "đăng ký 1/3 nội dung (ưu tiên 2, mục II.4)" in second
    assert "huyện Gia Lâm đã có 1 làng xếp trên" in second
    assert "không đăng ký tập huấn (mục II.2)" in second
    english = reasons(ranked[0], plan, Translator("en"))
    assert "registered by its district in 2014, 2016 (priority 1, section II.4)" in english


def test_text_and_table(plan: Plan) -> None:
    ranked = shortlist([reg(f"R{n}", f"U{n}", order=n) for n in range(15)], plan)
    t = Translator("vi")
    text = as_text(ranked, plan, t, limit=10)
    assert "15 làng nghề" in text and "10. ⭐ R9" in text and "R10" not in text
    assert "… và 5 làng nghề nữa" in text and "lần lượt mỗi quận/huyện/thị xã một làng" in text
    table = shortlist_table(ranked, plan, t)
    assert len(table.rows) == 15 and table.headers[-1] == "Lý do xếp thứ tự"
