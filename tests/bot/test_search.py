"""Matching questions as people type them: folding, shorthand, typos, question or not."""

from __future__ import annotations

import pytest

from bot.search import Index, is_syllable, looks_like_question, words


@pytest.mark.parametrize(
    ("typed", "spelled"),
    [
        ("Hạn nộp hồ sơ khi nào?", "han nop ho so khi nao"),
        ("co dc ko", "co duoc khong"),  # shorthand
        ("đc k", "duoc khong"),  # đ folds to d, then shorthand
        ("hok bít j", "khong bit gi"),
        ("bh het han nop hs", "bao gio het han nop ho so"),
        ("tong tien la bn", "tong tien la bao nhieu"),
        ("HTX dky ntn", "hop tac xa dang ky nhu the nao"),
        ("UBND huyện", "uy ban nhan dan huyen"),
        ("thanh li hđ", "thanh ly hop dong"),  # i/y spelling, hđ
        ("mỗi làng tối đa bao nhiêu", "moi lang toida bao nhieu"),  # "tối đa" stays one idea
        ("chúng tôi đã đăng ký", "chung toi da dang ky"),  # ... but not "chúng tôi đã"
        ("làm lô gô", "lam logo"),
    ],
)
def test_words_fold_and_spell_out_shorthand(typed: str, spelled: str) -> None:
    assert " ".join(words(typed)) == spelled


def test_vietnamese_syllables_are_told_from_typos_and_english() -> None:
    for syllable in ("nghiep", "thuong", "nguoi", "quyet", "gi", "khuyen", "deu", "nhieu"):
        assert is_syllable(syllable), syllable
    for other in ("phj", "dag", "hoso", "villages", "budget", "kinhphi"):
        assert not is_syllable(other), other


@pytest.fixture(scope="module")
def index() -> Index:
    return Index(
        [
            ("deadline", "hạn chót nộp hồ sơ đăng ký"),
            ("deadline", "registration deadline"),
            ("budget", "tổng kinh phí của chương trình bao nhiêu"),
            ("budget", "how much money is there"),
            ("logo", "thiết kế logo cho làng nghề"),
        ],
        neutral=["Gia Lâm"],
    )


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Hạn chót nộp hồ sơ?", "deadline"),
        ("han chot nop hoso", "deadline"),  # no diacritics, words run together
        ("han chott nop ho so", "deadline"),  # a typo
        ("kinh phj bn", "budget"),  # a typo and shorthand
        ("tong kinh phi", "budget"),
        ("What is the registration deadline?", "deadline"),
        ("how much money", "budget"),
        ("co lam logo ko", "logo"),
    ],
)
def test_search_finds_the_text_however_it_is_typed(index: Index, typed: str, key: str) -> None:
    hits = index.search(typed)
    assert hits and hits[0].key == key


def test_coverage_says_how_much_of_the_question_is_answered(index: Index) -> None:
    assert index.search("han chot nop ho so")[0].coverage == pytest.approx(1.0)
    assert index.search("kinh phj bn")[0].coverage > 0.8  # "phj" repaired to "phi"
    assert index.search("gia vang hom nay bao nhieu")[0].coverage < 0.45


def test_typo_repair_leaves_real_words_alone(index: Index) -> None:
    assert index.correct("chott") == ["chot"]
    assert index.correct("phj") == ["phi"]
    assert index.correct("hoso") == ["ho", "so"]
    # "nghiep" (nghiệp) is a word of its own, not a typo of a known word
    assert index.correct("nghiep") == ["nghiep"]


def test_greetings_and_places_carry_no_topic(index: Index) -> None:
    assert index.analyze("xin chào ad, cảm ơn nhiều") == []
    assert index.analyze("co dc ko") == []  # a question frame with nothing in it
    assert index.analyze("làng em ở Gia Lâm hỏi hạn chót") == ["lang", "o", "han", "chot"]


@pytest.mark.parametrize(
    "text",
    [
        "hạn nộp hồ sơ là khi nào",
        "co duoc dang ky 2 noi dung khong",
        "bao gio het han",
        "kinh phí bao nhiêu?",
        "How much is the budget",
        "cho em hoi han nop",
        "lang chua dc cong nhan thi sao",
    ],
)
def test_questions_look_like_questions(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    ["Bát Tràng", "Hội gốm Bát Tràng", "HTX Gom su Bat Trang", "0912 345 678", "15/03/2010",
     "Nguyễn Văn An", "Chủ nhiệm HTX", "1 3", "2015 2016", "không"],
)  # fmt: skip
def test_form_answers_do_not_look_like_questions(text: str) -> None:
    assert not looks_like_question(text)
