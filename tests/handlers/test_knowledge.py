"""The knowledge base: every entry answers in both languages, from the plan's own values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import knowledge_file
from bot.app import build
from bot.clock import Clock
from bot.i18n import Translator
from bot.plan import DEFAULT_PLAN_PATH, Plan, load_plan
from bot.settings import Settings
from handlers import knowledge
from tests.chat import Chat


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="module")
def base(plan: Plan) -> knowledge.KnowledgeBase:
    return knowledge.for_plan(plan)


def test_the_shipped_knowledge_file_is_valid(plan: Plan) -> None:
    assert knowledge_file.check_file(knowledge_file.kb_path(plan), plan) == []
    assert knowledge_file.kb_path(plan).name == "hanoi-2017.kb.toml"


def test_the_base_is_built_once_per_plan(plan: Plan, base: knowledge.KnowledgeBase) -> None:
    assert knowledge.for_plan(plan) is base
    assert len(base.entries) >= 30


def test_every_entry_answers_in_both_languages(base: knowledge.KnowledgeBase) -> None:
    for entry in base.entries.values():
        vi, en = base.answer(entry, "vi"), base.answer(entry, "en")
        assert vi and en and vi != en, entry.id
        for text in (vi, en):
            assert "{" not in text and "}" not in text, (entry.id, text)  # all filled in
        assert entry.topic_in("vi") != entry.topic_in("en")
        assert entry.sections, entry.id


@pytest.mark.parametrize(
    ("entry", "vi", "en"),
    [
        ("budget", ["3.000.000.000\u00a0₫", "2833/QĐ-UBND"], ["₫3,000,000,000", "2833/QĐ-UBND"]),
        ("deadline", ["01/05/2017", "31/05/2017", "phòng Kinh tế"], ["31 May 2017"]),
        ("acceptance", ["25/11/2017"], ["25 Nov 2017"]),
        ("training", ["10 làng", "3 ngày"], ["10 villages", "3 days"]),
        ("contract", ["tháng 9/2017", "Sở Công Thương"], ["September 2017"]),
        ("result_date", ["trước ngày 30/8/2017"], ["before 30 August 2017"]),
        ("eligibility", ["UBND Thành phố", "tư cách pháp nhân", "/kiemtra"], ["/check"]),
        ("prior_years", ["2014, 2015, 2016"], ["2014, 2015, 2016"]),
        ("districts", ["30", "huyện Gia Lâm", "thị xã Sơn Tây"], ["30"]),
        ("legal_basis", ["31/2014/QĐ-UBND", "04/08/2014"], ["4 Aug 2014"]),
    ],
)
def test_answers_carry_the_plans_facts(
    base: knowledge.KnowledgeBase, entry: str, vi: list[str], en: list[str]
) -> None:
    for lang, facts in (("vi", vi), ("en", en)):
        text = base.answer(base.entries[entry], lang)
        for fact in facts:
            assert fact in text, (entry, lang, fact, text)


def test_every_entry_is_found_by_its_own_phrasings(base: knowledge.KnowledgeBase) -> None:
    for entry in base.entries.values():
        found = base.match(entry.questions[2])  # [0], [1] are the topic labels
        assert found.entry is not None and found.entry.id == entry.id, entry.questions[2]


def test_plan_values_are_formatted_by_babel(plan: Plan) -> None:
    vi = knowledge_file.plan_values(plan, Translator("vi"))
    en = knowledge_file.plan_values(plan, Translator("en"))
    assert vi["budget"] == Translator("vi").money(plan.budget.amount_vnd)
    assert en["registration_deadline"] == "31 May 2017"
    assert vi["step5_period_lower"] == "trước ngày 30/8/2017"
    assert en["step6_period_lower"] == "September 2017"  # a month keeps its capital


def test_a_broken_knowledge_file_is_reported_by_field(tmp_path: Path, plan: Plan) -> None:
    text = knowledge_file.kb_path(plan).read_text(encoding="utf-8")
    broken = text.replace("năm {year}: {budget}", "năm {year}: {budjet}").replace(
        '"II.7"', '"IX.9"', 1
    )
    path = tmp_path / "broken.kb.toml"
    path.write_text(broken, encoding="utf-8")
    errors = knowledge_file.check_file(path, plan)
    assert any("unknown value {budjet}" in e for e in errors), errors
    assert any("'IX.9' is not a section" in e for e in errors), errors


def changed_plan(tmp_path: Path) -> Path:
    """The 2017 plan with another budget and another registration deadline."""
    text = DEFAULT_PLAN_PATH.read_text(encoding="utf-8")
    text = text.replace("amount_vnd = 3_000_000_000", "amount_vnd = 4_500_000_000")
    text = re.sub(
        r'(\[\[timeline\]\]\nnumber = 1\n.*?)end = 2017-05-31(.*?)period\.vi = "Tháng 5 năm 2017"'
        r'\nperiod\.en = "May 2017"',
        r'\1end = 2017-06-15\2period.vi = "Đến ngày 15/6/2017"\nperiod.en = "Until 15 June 2017"',
        text,
        count=1,
        flags=re.S,
    )
    path = tmp_path / "changed.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_changed_plan_file_changes_the_answers(tmp_path: Path, db_url: str) -> None:
    path = changed_plan(tmp_path)
    plan = load_plan(path)
    assert plan.budget.amount_vnd == 4_500_000_000
    assert plan.registration_deadline.isoformat() == "2017-06-15"
    app = build(Settings(database_url=db_url, plan=path), clock=Clock(frozen=False))
    try:
        chat = Chat(app, "village-x")
        await chat.say("kinh phi chuong trinh bao nhieu?")
        assert chat.has("4.500.000.000 ₫", "II.7")
        assert not chat.has("3.000.000.000")
        await chat.say("han chot nop ho so")
        assert chat.has("15/06/2017", "Đến ngày 15/6/2017", "II.6")
        assert not chat.has("31/05/2017")
    finally:
        app.close()


def test_a_plan_without_a_knowledge_file_answers_nothing(tmp_path: Path) -> None:
    text = DEFAULT_PLAN_PATH.read_text(encoding="utf-8").replace(
        'id = "hanoi-2017"', 'id = "hanoi-2030"'
    )
    path = tmp_path / "other.toml"
    path.write_text(text, encoding="utf-8")
    base = knowledge.for_plan(load_plan(path))
    assert base.entries == {}
    assert base.match("kinh phi bao nhieu").entry is None
