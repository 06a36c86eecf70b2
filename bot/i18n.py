"""Message catalogs (locales/<lang>/LC_MESSAGES/messages.po) and locale formatting.

Catalog ids are stable keys ("reg.ask_village"); Vietnamese is the default language and
the fallback for a key missing in another language. The .po files are read with babel
at start-up, so no compile step is needed after an edit.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
_BABEL_LOCALES = {"vi": "vi_VN", "en": "en_GB"}
_DATE_FORMATS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, key -> text."""
    po = resources.files("locales").joinpath(lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as handle:
        parsed = read_po(handle, locale=lang)
    return {str(m.id): str(m.string) for m in parsed if m.id and m.string}


def language_of(hint: str | None) -> str:
    """Map a platform language code ("en-US", "vi") to one we speak."""
    if hint:
        code = hint.split("-")[0].split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


@cache
def translator(lang: str) -> Translator:
    return Translator(lang)


class Translator:
    """Texts and formatting in one language (shared instances: `translator(lang)`)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = Locale.parse(_BABEL_LOCALES[self.lang])

    def __call__(self, key: str, **values: Any) -> str:
        text = catalog(self.lang).get(key) or catalog(DEFAULT_LANGUAGE).get(key)
        if text is None:
            raise KeyError(f"message {key!r} is in no catalog")
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalog(self.lang) or key in catalog(DEFAULT_LANGUAGE)

    def date(self, value: date) -> str:
        return format_date(value, _DATE_FORMATS[self.lang], locale=self.locale)

    def datetime(self, value: datetime) -> str:
        from bot.clock import ZONE

        pattern = _DATE_FORMATS[self.lang] + " HH:mm"
        return format_datetime(value, pattern, tzinfo=ZONE, locale=self.locale)

    def money(self, amount_vnd: int) -> str:
        return format_currency(amount_vnd, "VND", locale=self.locale)

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)
