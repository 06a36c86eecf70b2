"""Vietnamese text helpers: normalise what people type, fold it for matching.

Match on the folded form (no case, no diacritics, đ -> d, no punctuation) and show the
user's original text back to them.
"""

from __future__ import annotations

import unicodedata
from difflib import SequenceMatcher

# Invisible characters that chat apps and copy-paste leave inside words.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff"))


def normalize(s: str) -> str:
    """NFC, without invisible characters, stripped, internal whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", s).translate(_INVISIBLE).split())


def fold(s: str) -> str:
    """Lowercase, no diacritics, đ -> d, punctuation and symbols -> spaces, collapsed.

    "Ứng Hoà", "Ứng Hòa", "ung hoa" and "UNG  HOA" all fold to "ung hoa".
    """
    chars: list[str] = []
    for ch in unicodedata.normalize("NFD", normalize(s).lower()):
        category = unicodedata.category(ch)
        if category[0] == "M":  # combining marks: tones, circumflex, breve, horn
            continue
        if ch == "đ":  # NFD does not decompose đ
            chars.append("d")
        elif category[0] in "PS":
            chars.append(" ")
        else:
            chars.append(ch)
    return " ".join("".join(chars).split())


def similarity(a: str, b: str) -> float:
    """How alike two texts are once folded, from 0.0 to 1.0 (for typo suggestions)."""
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return 1.0
    return SequenceMatcher(None, fa, fb, autojunk=False).ratio()


def shorten(s: str, width: int) -> str:
    """`s` cut to `width` characters, with an ellipsis when something was cut."""
    return s if len(s) <= width else s[: width - 1].rstrip() + "…"
