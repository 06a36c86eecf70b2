"""The shipped 2017 plan, unit matching, and the errors of broken plan files."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.plan import (
    DEFAULT_PLAN_PATH,
    LocalizedText,
    Plan,
    PlanError,
    ReviewingUnit,
    check_plan_file,
    load_plan,
)
from bot.text import fold


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


# --- the shipped plan ----------------------------------------------------------------


def test_shipped_plan_is_valid(plan: Plan) -> None:
    assert check_plan_file(DEFAULT_PLAN_PATH) == []
    assert plan.id == "hanoi-2017"
    assert plan.year == 2017
    assert plan.code_prefix == "HN2017"
    assert plan.units_section == "II.5"
    assert plan.controller.vi == "Sở Công Thương Hà Nội"
    assert plan.controller.get("en") == "Hanoi Department of Industry and Trade"


def test_default_plan_is_cached(plan: Plan) -> None:
    assert load_plan() is plan
    assert load_plan(DEFAULT_PLAN_PATH) == plan


def test_plan_is_frozen(plan: Plan) -> None:
    with pytest.raises(ValidationError):
        plan.units[0].code = "XXX"  # type: ignore[misc]


def test_thirty_units_with_unique_codes(plan: Plan) -> None:
    assert len(plan.units) == 30
    codes = [u.code for u in plan.units]
    assert len(set(codes)) == 30
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in codes)
    kinds = [u.kind for u in plan.units]
    assert (kinds.count("quận"), kinds.count("huyện"), kinds.count("thị xã")) == (12, 17, 1)
    names = {fold(u.name) for u in plan.units}
    assert len(names) == 30


def test_unit_by_code(plan: Plan) -> None:
    gia_lam = plan.unit("GLA")
    assert gia_lam.name == "Gia Lâm"
    assert gia_lam.display == "huyện Gia Lâm"
    assert plan.unit("HDO").display == "quận Hà Đông"
    assert plan.unit("STA").display == "thị xã Sơn Tây"
    assert plan.unit("UHO").name == "Ứng Hòa"
    assert plan.unit("gla") is gia_lam
    with pytest.raises(KeyError):
        plan.unit("XYZ")


def test_every_text_in_both_languages(plan: Plan) -> None:
    def walk(value: object) -> list[LocalizedText]:
        if isinstance(value, LocalizedText):
            return [value]
        if isinstance(value, list):
            return [t for v in value for t in walk(v)]
        if isinstance(value, BaseModel):
            return [t for name in type(value).model_fields for t in walk(getattr(value, name))]
        return []

    texts = walk(plan)
    assert len(texts) > 80
    for text in texts:
        assert text.vi.strip() and text.en.strip()
        assert text.vi != text.en or text.vi.isupper()


def test_localized_text_falls_back_to_vietnamese() -> None:
    text = LocalizedText(vi="Làng nghề", en="Craft village")
    assert text.get("vi") == "Làng nghề"
    assert text.get("en") == "Craft village"
    assert text.get("en-US") == "Craft village"
    assert text.get("fr") == "Làng nghề"


def test_plan_contents(plan: Plan) -> None:
    assert [i.code for i in plan.support_items] == ["training", "identity", "strategy"]
    assert all(i.section == "II.2" for i in plan.support_items)
    assert plan.item("training").number == 1
    assert plan.training_slots == 10 and plan.training_days == 3
    with pytest.raises(KeyError):
        plan.item("money")
    assert [p.code for p in plan.priorities] == ["prior_years", "all_items", "spread"]
    assert [p.rank for p in plan.priorities] == [1, 2, 3]
    assert plan.prior_years == [2014, 2015, 2016]
    sections = {c.code: c.section for c in plan.conditions}
    assert sections == {
        "recognised_title": "II.3",
        "district_registration": "II.3",
        "legal_entity_representative": "III.4",
    }
    assert "con dấu" in plan.conditions[2].text.vi
    assert [r.code for r in plan.representative_types] == ["commune", "cooperative", "association"]
    assert plan.budget.amount_vnd == 3_000_000_000
    assert plan.budget.decision == "2833/QĐ-UBND" and plan.budget.section == "II.7"
    assert {b.ref: b.date for b in plan.legal_basis} == {
        "31/2014/QĐ-UBND": date(2014, 8, 4),
        "6230/QĐ-UBND": date(2015, 11, 18),
        "80/CTr-UBND": date(2017, 4, 5),
        "2833/QĐ-UBND": date(2017, 5, 17),
    }
    assert [r.section for r in plan.responsibilities] == [f"III.{i}" for i in range(1, 6)]
    assert plan.implementation.lead.vi == "Sở Công Thương"
    assert len(plan.implementation.partners) == 3
    assert len(plan.route) == 7 and plan.route[0].section == "II.5"
    assert "phòng Kinh tế" in plan.route[0].text.vi
    assert len(plan.contract.parties) == 3
    assert plan.contract.liquidation_before == date(2017, 11, 25)
    assert plan.contract.last_liquidation_day == date(2017, 11, 24)
    assert plan.section_title("II.3").vi == "Điều kiện hỗ trợ"


# --- timeline ------------------------------------------------------------------------


def test_timeline_dates(plan: Plan) -> None:
    assert [s.number for s in plan.timeline] == list(range(1, 10))
    assert all(s.section == "II.6" for s in plan.timeline)
    expected = {
        1: (date(2017, 5, 1), date(2017, 5, 31), False),
        2: (date(2017, 6, 1), date(2017, 7, 31), False),
        3: (date(2017, 7, 1), date(2017, 7, 31), False),
        4: (date(2017, 8, 1), date(2017, 8, 9), True),
        5: (date(2017, 8, 10), date(2017, 8, 29), True),
        6: (date(2017, 9, 1), date(2017, 9, 30), False),
        7: (date(2017, 10, 1), date(2017, 11, 30), False),
        8: (date(2017, 10, 1), date(2017, 11, 24), True),
        9: (date(2017, 12, 1), date(2017, 12, 31), False),
    }
    for number, (start, end, deadline) in expected.items():
        step = plan.step(number)
        assert (step.start, step.end, step.deadline) == (start, end, deadline), number
        assert step.start <= step.end
    period = plan.step(4).period
    assert period is not None and period.vi == "Trước ngày 10/8/2017"
    assert plan.step(8).end == plan.contract.last_liquidation_day
    with pytest.raises(KeyError):
        plan.step(10)


def test_registration_window(plan: Plan) -> None:
    assert plan.registration_opens == date(2017, 5, 1)
    assert plan.registration_deadline == date(2017, 5, 31)


# --- finding a unit in what people type ----------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Ứng Hòa", "UHO"),
        ("Ứng Hoà", "UHO"),
        ("ung hoa", "UHO"),
        ("UNG HOA", "UHO"),
        ("huyen ung hoa", "UHO"),
        ("Huyện Ứng Hoà", "UHO"),
        ("unghoa", "UHO"),
        ("Gia Lâm", "GLA"),
        ("h. Gia Lam", "GLA"),
        ("H.Gia Lâm", "GLA"),
        ("huyện Gia Lâm", "GLA"),
        ("UBND huyện Gia Lâm", "GLA"),
        ("Gia Lâm, Hà Nội", "GLA"),
        ("Gia Lam district", "GLA"),
        ("gialam", "GLA"),
        ("quận Hà Đông", "HDO"),
        ("Q. Ha Dong", "HDO"),
        ("ha dong", "HDO"),
        ("thị xã Sơn Tây", "STA"),
        ("TX Son Tay", "STA"),
        ("tx.Sơn Tây", "STA"),
        ("Hai Bà Trưng", "HBT"),
        ("Thuong Tin", "TTI"),
        ("Chương Mĩ", "CMY"),
        ("mi duc", "MDU"),
        ("Nam Từ Liêm", "NTL"),
        ("bac tu liem", "BTL"),
        ("  đống   đa ", "DDA"),
    ],
)
def test_find_unit_exact(plan: Plan, typed: str, code: str) -> None:
    match = plan.find_unit(typed)
    assert match.unit is not None, typed
    assert match.unit.code == code
    assert match.suggestions == ()


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("Gia Lamm", "GLA"),
        ("Thuong Tinn", "TTI"),
        ("huyen Thuong Tinn", "TTI"),
        ("ung hao", "UHO"),
        ("hai ba chung", "HBT"),
        ("xoc son", "SSO"),
        ("hoai duk", "HDU"),
        ("ba vj", "BVI"),
        ("gialamm", "GLA"),
    ],
)
def test_find_unit_typo_suggests(plan: Plan, typed: str, first: str) -> None:
    match = plan.find_unit(typed)
    assert match.unit is None
    assert 1 <= len(match.suggestions) <= 3
    assert match.suggestions[0].code == first


def test_find_unit_old_name_suggests_both_successors(plan: Plan) -> None:
    match = plan.find_unit("Từ Liêm")
    assert match.unit is None
    assert {u.code for u in match.suggestions} == {"NTL", "BTL"}


def test_find_unit_partial_name_suggests_at_most_three(plan: Plan) -> None:
    match = plan.find_unit("Thanh")
    assert match.unit is None
    assert {u.code for u in match.suggestions} == {"TXU", "TTR", "TOA"}


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "xyz",
        "pizza",
        "Hà Nội",
        "hanoi",
        "Bát Tràng",
        "lang nghe",
        "Hải Phòng",
        "Đà Nẵng",
        "tôi muốn đăng ký",
        "???",
    ],
)
def test_find_unit_nonsense_gives_nothing(plan: Plan, typed: str) -> None:
    match = plan.find_unit(typed)
    assert match.unit is None
    assert match.suggestions == ()


def test_suggestions_are_units(plan: Plan) -> None:
    match = plan.find_unit("dong")
    assert all(isinstance(u, ReviewingUnit) for u in match.suggestions)
    assert len(match.suggestions) <= 3


# --- broken plan files ---------------------------------------------------------------


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PLAN_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in the shipped plan"
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_unknown_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "amount_vnd = ", "amountt = ")
    errors = check_plan_file(path)
    assert "budget.amountt: unknown field (did you mean 'amount_vnd'?)" in errors
    assert "budget.amount_vnd: missing (required field)" in errors


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "year = 2017\n", "year = 2017\nyaer = 2017\n")
    assert check_plan_file(path) == ["yaer: unknown field (did you mean 'year'?)"]


def test_step_ending_before_it_starts(tmp_path: Path) -> None:
    path = _broken(
        tmp_path, "start = 2017-06-01\nend = 2017-07-31", "start = 2017-06-01\nend = 2017-05-01"
    )
    assert check_plan_file(path) == [
        "timeline[1].end: 2017-05-01 ends before it starts (2017-06-01)"
    ]


def test_duplicate_unit_code(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'code = "HDO"', 'code = "GLA"')
    assert check_plan_file(path) == ["units[14].code: duplicate unit code 'GLA' (also units[11])"]


def test_duplicate_unit_name_after_folding(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'name = "Sóc Sơn",', 'name = "Sóc Sơn", aliases = ["GIA LAM"],')
    errors = check_plan_file(path)
    assert len(errors) == 1
    assert errors[0].startswith("units[14].name: 'Gia Lâm' reads the same as 'GIA LAM' of ")
    assert "units[12].aliases[0]" in errors[0]


def test_duplicate_support_item_code(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'code = "strategy"', 'code = "training"')
    assert check_plan_file(path) == [
        "support_items[2].code: duplicate support item code 'training' (also support_items[0])"
    ]


def test_timeline_numbers_in_order(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'number = 3\nsection = "II.6"', 'number = 4\nsection = "II.6"')
    errors = check_plan_file(path)
    assert len(errors) == 1 and errors[0].startswith("timeline[2].number: expected 3, got 4")


def test_unknown_section(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'section = "II.7"', 'section = "II.8"')
    assert check_plan_file(path) == ["budget.section: section 'II.8' is not listed in sections"]


def test_bad_value_names_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "start = 2017-09-01", 'start = "2017-13-01"')
    errors = check_plan_file(path)
    assert len(errors) == 1 and errors[0].startswith("timeline[5].start: ")


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "year = 2017", "year = = 2017")
    errors = check_plan_file(path)
    assert len(errors) == 1
    assert errors[0].startswith("TOML syntax error:")
    assert "line 7" in errors[0]


def test_missing_file(tmp_path: Path) -> None:
    errors = check_plan_file(tmp_path / "none.toml")
    assert len(errors) == 1 and "cannot read" in errors[0]


def test_load_plan_raises_with_the_same_errors(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'code = "HDO"', 'code = "GLA"')
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.errors == check_plan_file(path)
    assert "units[14].code" in str(info.value)


def test_model_validation_also_runs_cross_checks() -> None:
    data = load_plan().model_dump()
    data["units"][11]["code"] = "GLA"
    with pytest.raises(ValidationError, match=r"duplicate unit code 'GLA'"):
        Plan.model_validate(data)
