"""The Q&A benchmark: what the labelled set holds, and the quality targets on it.

Timings are measured by `python -m benchmarks.eligibility`, never asserted here.
"""

from __future__ import annotations

import pytest

from benchmarks.eligibility import (
    LABELLED,
    TARGET_ACCURACY,
    TARGET_OUT_OF_SCOPE_WRONG,
    Question,
    evaluate,
    main,
    questions,
)
from bot.plan import load_plan
from bot.text import fold
from handlers import knowledge


@pytest.fixture(scope="module")
def rows() -> list[Question]:
    return questions()


def test_the_labelled_set_is_as_the_issue_asks(rows: list[Question]) -> None:
    assert len(rows) >= 150
    in_scope = [r for r in rows if r.expect != "none"]
    assert sum(r.lang == "en" for r in in_scope) >= 20
    assert sum(r.expect == "none" for r in rows) >= 20
    vietnamese = [r for r in rows if r.lang == "vi"]
    plain = [r for r in vietnamese if r.text.isascii()]  # typed without diacritics
    assert len(plain) * 2 >= len(vietnamese)
    shorthand = {"ko", "k", "dc", "j", "bn", "bh", "hs", "dky", "ntn", "hd", "htx"}
    assert sum(bool(shorthand & set(fold(r.text).split())) for r in rows) >= 10
    assert {r.split for r in rows} == {"dev", "test", "seen", "holdout"}


def test_every_expected_answer_is_an_entry(rows: list[Question]) -> None:
    entries = knowledge.for_plan(load_plan()).entries
    assert {r.expect for r in rows} - {"none"} <= set(entries)
    assert set(entries) <= {r.expect for r in rows}  # every entry is asked about


def test_quality_targets_on_the_labelled_set(rows: list[Question]) -> None:
    report = evaluate([r for r in rows if r.split in LABELLED])
    assert report.accuracy >= TARGET_ACCURACY, "\n".join(report.errors)
    assert report.out_of_scope_wrong <= TARGET_OUT_OF_SCOPE_WRONG, "\n".join(report.errors)


def test_the_command_reports_each_part(capsys: pytest.CaptureFixture[str]) -> None:
    main([])
    out = capsys.readouterr().out
    for part in ("dev", "test", "seen", "holdout", "labelled", "top-1", "median"):
        assert part in out
