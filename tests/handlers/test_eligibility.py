"""The guided eligibility check, as a village representative would go through it."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from bot.app import App
from bot.plan import Plan, load_plan
from handlers.eligibility import judge
from storage.models import Conversation, Registration
from tests.chat import Chat
from tests.handlers.test_registration import fill_until_summary

ALL_ITEMS = ["training", "identity", "strategy"]
CODES = ("recognised_title", "district_registration", "legal_entity_representative")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


def expected(answers: dict[str, str], items: list[str], years: list[int]) -> tuple[str, int | None]:
    """The verdict the plan's rules give, written out by hand from II.3, II.4 and III.4."""
    if "no" in answers.values():
        return "not_eligible", None
    prior, full = bool(years), set(items) == set(ALL_ITEMS)
    tier = {(True, True): 1, (True, False): 2, (False, True): 3, (False, False): None}
    if "unsure" in answers.values():
        return "to_confirm", tier[(prior, full)]
    group = tier[(prior, full)]
    return ("priority" if group else "eligible"), group


@pytest.mark.parametrize(
    "answers", [dict(zip(CODES, combo, strict=True))
                for combo in itertools.product(("yes", "no", "unsure"), repeat=3)],
)  # fmt: skip
@pytest.mark.parametrize("items", [ALL_ITEMS, ["identity"], ["training", "strategy"]])
@pytest.mark.parametrize("years", [[2015], [2014, 2016], []])
def test_every_combination_of_answers(
    plan: Plan, answers: dict[str, str], items: list[str], years: list[int]
) -> None:
    verdict = judge(plan, answers, items, years)
    kind, tier = expected(answers, items, years)
    assert verdict.kind == kind
    if kind != "not_eligible":
        assert verdict.tier == tier
    assert {c.code for c in verdict.failed} == {k for k, v in answers.items() if v == "no"}
    assert {c.code for c in verdict.unsure} == {k for k, v in answers.items() if v == "unsure"}
    assert verdict.tiers == 4
    assert all(c.section in ("II.3", "III.4") for c in (*verdict.failed, *verdict.unsure))


async def test_check_from_the_start_menu_to_priority_group_one(chat: Chat, app: App) -> None:
    await chat.say("/start")
    await chat.press("Kiểm tra điều kiện")
    assert chat.has("(1/3)", "UBND Thành phố", "công nhận", "mục II.3")
    await chat.press("Có")
    assert chat.has("(2/3)", "văn bản đăng ký", "mục II.3")
    await chat.say("co")  # typed, no diacritics
    assert chat.has("(3/3)", "tư cách pháp nhân", "mục III.4")
    await chat.press("Có")
    assert chat.has("nội dung hỗ trợ", "mục II.4")
    await chat.press("Chọn cả 3")
    assert chat.has("2014, 2015, 2016")
    await chat.press("2015")
    await chat.press("Xong")
    assert chat.has("Làng nghề đủ điều kiện", "nhóm ưu tiên 1")
    assert chat.has("✓ Làng nghề đã được UBND Thành phố", "(mục II.3)", "(mục III.4)")
    assert chat.has("✓ Ưu tiên 1", "✓ Ưu tiên 2", "• Ưu tiên 3", "(mục II.4)")
    assert "📝 Đăng ký ngay" in chat.buttons


async def test_not_recognised_stops_at_once_with_the_reason(chat: Chat) -> None:
    await chat.say("/kiemtra")
    await chat.press("Không")
    assert chat.has("chưa đủ điều kiện", "✗ Làng nghề đã được UBND Thành phố", "(mục II.3)")
    assert chat.has("quyết định công nhận")  # what to do about it
    assert not any("Đăng ký" in b for b in chat.buttons)
    await chat.press("Kiểm tra lại")
    assert chat.has("(1/3)")


async def test_not_sure_about_the_district_is_to_be_confirmed(chat: Chat) -> None:
    await chat.say("/check")
    await chat.press("Có")
    await chat.press("Chưa rõ")
    await chat.press("Có")
    await chat.say("1 2")  # typed item numbers
    await chat.press("Chưa năm nào")
    assert chat.has("cần xác nhận", "? UBND quận, huyện, thị xã", "(mục II.3)", "phòng Kinh tế")
    assert chat.has("✗ Ưu tiên 1", "✗ Ưu tiên 2")


async def test_eligible_without_priority(chat: Chat) -> None:
    await chat.say("/kiemtra")
    for _ in range(3):
        await chat.press("Có")
    await chat.press("Tư vấn chiến lược")
    await chat.press("Xong")
    await chat.say("khong")  # "no year", typed
    assert chat.has("đủ điều kiện", "chưa thuộc nhóm ưu tiên nào")


async def test_check_in_english(app: App) -> None:
    chat = Chat(app, "en-user", language="en")
    await chat.say("/check")
    assert chat.has("City People's Committee", "section II.3")
    await chat.press("Yes")
    await chat.press("Yes")
    await chat.press("No")
    assert chat.has("not eligible", "section III.4", "commune People's Committee")


async def test_register_with_the_answers_filled_in(chat: Chat, app: App) -> None:
    await chat.say("/kiemtra")
    for _ in range(3):
        await chat.press("Có")
    await chat.press("Đặt tên thương hiệu")
    await chat.press("Xong")
    await chat.press("2016")
    await chat.press("Xong")
    assert chat.has("nhóm ưu tiên 2")
    await chat.press("Đăng ký ngay")
    assert chat.has("điền sẵn", "91/2025/QH15")  # consent still comes first
    await chat.press("Đồng ý")
    await chat.press("Có, nhận tin")
    for answer in ["Bat Trang", "xa Bat Trang", "gia lam", "gom su", "5427/QD-UBND",
                   "15/3/2010", "2", "HTX Gom su Bat Trang", "co", "Nguyen Van An",
                   "Chu nhiem", "0912345678"]:  # fmt: skip
        await chat.say(answer)
    await chat.press("Bỏ qua")  # the email: the last question not answered yet
    assert chat.has("kiểm tra lại hồ sơ", "Đặt tên thương hiệu", "2016")  # straight to summary
    await chat.press("Gửi hồ sơ")
    with app.db.transaction() as session:
        registration = session.scalars(select(Registration)).one()
        assert registration.items == ["identity"]
        assert registration.prior_years == [2016]


async def test_stale_and_typed_nonsense_change_nothing(chat: Chat, app: App) -> None:
    await chat.say("/kiemtra")
    await chat.press("Có")
    await chat.say("abc xyz")
    assert chat.has("bấm một trong các nút", "(2/3)")
    await chat.sticker()
    assert chat.has("(2/3)")
    with app.db.transaction() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.flow == "elig"
        assert conversation.data["answers"] == {"recognised_title": "yes"}


async def test_an_unfinished_registration_is_not_lost(chat: Chat) -> None:
    await fill_until_summary(chat)
    await chat.say("/kiemtra")
    assert chat.has("hồ sơ đăng ký làm dở", "Bat Trang")
    await chat.press("Tiếp tục")
    assert chat.has("kiểm tra lại hồ sơ")
