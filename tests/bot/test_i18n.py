"""Catalogs: every key the code uses exists in both languages, with the same placeholders,
and handlers hold no user-visible text of their own."""

from __future__ import annotations

import ast
import re
import string
from datetime import date
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, Translator, catalog, language_of

ROOT = Path(__file__).resolve().parents[2]
CODE = [*ROOT.joinpath("handlers").glob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]
KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    vi, en = catalog("vi"), catalog("en")
    assert vi.keys() == en.keys()
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key


SAYING = {"say", "button", "notify", "t", "translator"}


def keys_used_in_code() -> set[str]:
    """Literal keys given to the functions that say things: ctx.say("…"), ctx.t("…")…"""
    used: set[str] = set()
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if name in SAYING and literal and KEY.match(first.value):
                used.add(first.value)
    return used


def test_every_key_used_in_code_is_in_the_catalogs() -> None:
    missing = {key for key in keys_used_in_code() if key not in catalog("vi")}
    assert not missing


def test_handlers_hold_no_user_visible_text() -> None:
    """Literals with letters and spaces, or any Vietnamese letter, belong in the catalogs."""
    offenders = []
    for path in ROOT.joinpath("handlers").glob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        logged = {  # log lines are for developers, in English
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("log", "logger")
            for arg in node.args
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in logged:
                continue
            text = node.value
            prose = re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", text) or re.search(
                r"[^\x00-\x7f]", text
            )
            if prose and id(node) not in docstrings and text not in ALLOWED_SYMBOLS:
                offenders.append(f"{path.name}:{node.lineno}: {text!r}")
    assert not offenders


# Check marks drawn beside labels, and the official notation of decision numbers ("QĐ").
ALLOWED_SYMBOLS = {"☑", "☐", "✓ ", "…", "Đ", "đ", "/QĐ-"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dates_and_money_are_formatted_per_language(lang: str) -> None:
    t = Translator(lang)
    assert t.date(date(2017, 5, 31)) == {"vi": "31/05/2017", "en": "31 May 2017"}[lang]
    assert t.money(3_000_000_000) == {"vi": "3.000.000.000\xa0₫", "en": "₫3,000,000,000"}[lang]


def test_platform_language_codes() -> None:
    assert language_of("en-US") == "en"
    assert language_of("vi") == "vi"
    assert language_of("fr") == "vi"
    assert language_of(None) == "vi"
