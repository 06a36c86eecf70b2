"""Vietnamese text helpers: what people type, and how it is matched."""

from __future__ import annotations

import pytest

from bot.text import fold, normalize, similarity


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Ứng Hoà", "ung hoa"),  # old tone placement
        ("Ứng Hòa", "ung hoa"),  # new tone placement
        ("ung hoa", "ung hoa"),
        ("UNG  HOA", "ung hoa"),
        ("  Ứng\tHòa \n", "ung hoa"),
        ("Đống Đa", "dong da"),  # đ/Đ are not decomposed by NFD
        ("đường", "duong"),
        ("Thạch Thất", "thach that"),
        ("Phượng", "phuong"),  # horn and dot below
        ("Mỹ Đức", "my duc"),
        ("q.Ba Đình", "q ba dinh"),  # punctuation becomes a space
        ("h. Gia Lâm", "h gia lam"),
        ("Bát Tràng - gốm sứ!", "bat trang gom su"),
        ("“Hỗ trợ”, (2017)", "ho tro 2017"),
        ("lang nghe co duoc ho tro khong", "lang nghe co duoc ho tro khong"),
        ("Làng\u200b nghề", "lang nghe"),  # zero-width space from copy-paste
        ("", ""),
        ("...", ""),
    ],
)
def test_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_fold_decomposed_input_equals_composed() -> None:
    import unicodedata

    text = "Hoài Đức, Thường Tín"
    assert fold(unicodedata.normalize("NFD", text)) == fold(text) == "hoai duc thuong tin"


def test_normalize_keeps_diacritics_and_case() -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Ứng Hòa")
    assert normalize(f"  {decomposed}   huyện \u00a0 ") == "Ứng Hòa huyện"
    assert normalize(decomposed) == unicodedata.normalize("NFC", "Ứng Hòa")
    assert normalize("") == ""


def test_similarity() -> None:
    assert similarity("Ứng Hoà", "ung hoa") == 1.0
    assert similarity("Gia Lamm", "Gia Lâm") > 0.9
    assert similarity("Gia Lâm", "pizza") < 0.5
    for a, b in [("Thuong Tinn", "Thường Tín"), ("abc", "xyz"), ("", "x")]:
        assert 0.0 <= similarity(a, b) <= 1.0
        assert similarity(a, b) == similarity(b, a)
