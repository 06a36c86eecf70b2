"""Validators for registration answers. Pure functions: a cleaned value, or an error key.

Error keys are catalog ids ("err.phone"), so the handler says them in the user's language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeAlias, TypeVar

import phonenumbers

from bot.text import normalize

MAX_TEXT = 1000


T = TypeVar("T")


@dataclass(frozen=True)
class Valid(Generic[T]):
    value: T


@dataclass(frozen=True)
class Invalid:
    error: str  # a catalog key
    suggestion: str | None = None  # e.g. the new form of an old phone number


Result: TypeAlias = Valid[T] | Invalid


def free_text(raw: str, *, min_len: int = 2, max_len: int = 200) -> Result[str]:
    """A name or a place: trimmed, not empty, not huge, not just symbols."""
    if len(raw) > MAX_TEXT:
        return Invalid("err.too_long")
    text = normalize(raw)
    if not text:
        return Invalid("err.empty")
    if len(text) > max_len:
        return Invalid("err.too_long")
    if len(text) < min_len or not any(ch.isalpha() for ch in text):
        return Invalid("err.not_a_name")
    return Valid(text)


# --- the recognition decision ----------------------------------------------------------

_DECISION = re.compile(
    r"(?:so\s*)?(\d{1,6})\s*(/\s*\d{4})?\s*/\s*q\s*d\s*-?\s*(ubnd|ub)\b", re.IGNORECASE
)


def _unmarked(text: str) -> str:
    """Lowercase without diacritics but with punctuation kept ("5427/QĐ" -> "5427/qd")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def decision_number(raw: str) -> Result[str]:
    """ "5427/QĐ-UBND" in any common spelling; also "Quyết định số 5427/QD-UBND"."""
    if len(raw) > MAX_TEXT:
        return Invalid("err.too_long")
    match = _DECISION.search(_unmarked(raw))
    if match is None:
        return Invalid("err.decision_number")
    number, year, issuer = match.groups()
    year_part = year.replace(" ", "") if year else ""
    return Valid(f"{int(number)}{year_part}/QĐ-{issuer.upper()}")


_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\s*$")
OLDEST_DECISION = date(1950, 1, 1)


def past_date(raw: str, today: date) -> Result[date]:
    """dd/mm/yyyy (also d/m/yyyy, with dots or dashes), not in the future."""
    match = _DATE.match(raw)
    if match is None:
        return Invalid("err.date_format")
    day, month, year = (int(g) for g in match.groups())
    try:
        value = date(year, month, day)
    except ValueError:
        return Invalid("err.date_invalid")
    if value > today:
        return Invalid("err.date_future")
    if value < OLDEST_DECISION:
        return Invalid("err.date_too_old")
    return Valid(value)


# --- phone numbers ------------------------------------------------------------------------

# The 2018 renumbering of 11-digit mobile numbers: old prefix -> new prefix.
OLD_MOBILE_PREFIXES = {
    **{f"016{d}": f"03{d}" for d in "23456789"},  # Viettel 0162-0169 -> 032-039
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",  # MobiFone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",  # VinaPhone
    "0186": "056", "0188": "058",  # Vietnamobile
    "0199": "059",  # Gmobile
}  # fmt: skip
_MOBILE = re.compile(r"^0(3[2-9]|5[2689]|7[06-9]|8[1-9]|9\d)\d{7}$")
_HANOI_LANDLINE = re.compile(r"^024\d{8}$")
_OLD_HANOI_LANDLINE = re.compile(r"^04\d{8}$")


def _digits(raw: str) -> str | None:
    """National form ("0912345678") from "+84 912 345 678", "0912.345.678" and the like."""
    cleaned = re.sub(r"[\s.\-()]", "", raw)
    if not re.fullmatch(r"\+?\d{8,15}", cleaned):
        return None
    if cleaned.startswith("+"):
        try:
            parsed = phonenumbers.parse(cleaned, "VN")
        except phonenumbers.NumberParseException:
            return None
        if parsed.country_code != 84:
            return None
        return "0" + str(parsed.national_number)
    if cleaned.startswith("84") and len(cleaned) in (11, 12):
        return "0" + cleaned[2:]
    return cleaned


def phone(raw: str) -> Result[str]:
    """A Vietnamese mobile or Hanoi landline, returned as digits starting with 0.

    An old 11-digit mobile (01xx) or an old Hanoi landline (04 + 8 digits) is not
    accepted as is: the caller offers its new form as `suggestion`.
    """
    number = _digits(raw)
    if number is None:
        return Invalid("err.phone")
    if _MOBILE.match(number) or _HANOI_LANDLINE.match(number):
        return Valid(number)
    if len(number) == 11 and number[:4] in OLD_MOBILE_PREFIXES:
        return Invalid("err.phone_old", OLD_MOBILE_PREFIXES[number[:4]] + number[4:])
    if _OLD_HANOI_LANDLINE.match(number):
        return Invalid("err.phone_old", "024" + number[2:])
    return Invalid("err.phone")


def pretty_phone(number: str) -> str:
    """0912345678 -> 0912 345 678; 02438123456 -> 024 3812 3456."""
    if number.startswith("024") and len(number) == 11:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if len(number) == 10:
        return f"{number[:4]} {number[4:7]} {number[7:]}"
    return number


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def email(raw: str) -> Result[str]:
    value = raw.strip()
    if len(value) > 200 or not _EMAIL.match(value):
        return Invalid("err.email")
    return Valid(value.lower())
