"""The plan as data: pydantic models of a plan file, loading it and checking it.

A plan file (TOML, one per plan, shipped in `bot/plans/`) holds everything the bot says
about the rules: implementing agencies, support items, conditions, priorities, the route
of a registration, the timeline with dates, the budget, the contract, the reviewing units
(the 30 districts in 2017). Every entry names the plan section it comes from ("II.6"), so
every answer can cite it. Next year's plan is a new file, not a code change.

`check_plan_file` reports every problem of a file with the exact field path in it
(`units[3].code: duplicate unit code 'GLA' (also units[0])`); `load_plan` raises
`PlanError` carrying the same list.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.text import fold, similarity

DEFAULT_PLAN_PATH = Path(__file__).resolve().parent / "plans" / "hanoi-2017.toml"

_COLLECT = "collect_problems"  # validation context flag: keep cross-field problems for later
_SUGGESTION_THRESHOLD = 0.77  # tuned on typos of the 30 names vs. other places and words
_MAX_SUGGESTIONS = 3

# What people put around a unit's name; matched on folded tokens. Each unit's own kind
# ("quận", "huyện", "thị xã"; "xã", "phường" in later plans) is added per plan.
_UNIT_PREFIXES = (
    "uy ban nhan dan",
    "ubnd",
    "phong kinh te",
    "thanh pho",
    "thi xa",
    "quan",
    "huyen",
    "tp",
    "tx",
    "q",
    "h",
)
_UNIT_SUFFIXES = ("thanh pho ha noi", "tp ha noi", "ha noi", "hanoi", "hn", "district", "town")


# --- field types ---------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("plan_blank", "must not be empty")
    return value


def _section_ref(value: str) -> str:
    parts = value.split(".")
    roman = set("IVX")
    if value == "preamble" or (
        parts[0] and set(parts[0]) <= roman and all(p.isdigit() for p in parts[1:])
    ):
        return value
    raise PydanticCustomError(
        "plan_section",
        "'{value}' is not a plan section like 'II.6' (or 'preamble')",
        {"value": value},
    )


def _unit_code(value: str) -> str:
    # 2017 uses three capital letters ("GLA"); later plans (communes) may need more.
    if re.fullmatch(r"[A-Z][A-Z0-9]{1,7}", value):
        return value
    raise PydanticCustomError(
        "plan_unit_code",
        "'{value}' is not a unit code: use 2 to 8 capital letters or digits, like 'GLA'",
        {"value": value},
    )


Text = Annotated[str, AfterValidator(_not_blank)]
Section = Annotated[str, AfterValidator(_section_ref)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
UnitCode = Annotated[str, AfterValidator(_unit_code)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the parts of a plan -------------------------------------------------------------


class LocalizedText(_Model):
    """A text in Vietnamese and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vi: Text
    en: Text

    def get(self, lang: str) -> str:
        """The text in `lang` ("vi", "en", "en-US"...), Vietnamese for anything else."""
        code = lang.replace("_", "-").split("-")[0].lower()
        return self.en if code == "en" and self.en else self.vi


class SectionHeading(_Model):
    """A heading of the plan text, so an answer can cite "mục II.3 (Điều kiện hỗ trợ)"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: Section
    title: LocalizedText


class Note(_Model):
    """A paragraph of the plan (purposes, requirements)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: LocalizedText
    section: Section


class Implementation(_Model):
    """Who carries the plan out (II.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead: LocalizedText
    partners: list[LocalizedText] = Field(min_length=1)
    participants: LocalizedText
    section: Section


class SupportItem(_Model):
    """One thing the program pays for (II.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    number: PositiveInt
    name: LocalizedText
    short: LocalizedText | None = None  # for buttons, where the full name does not fit
    detail: LocalizedText | None = None
    section: Section

    def label(self, lang: str) -> str:
        return (self.short or self.name).get(lang)


class Condition(_Model):
    """A condition a village must meet (II.3, III.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    text: LocalizedText
    section: Section


class Priority(_Model):
    """A selection criterion, rank 1 first (II.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: PositiveInt
    code: Code
    text: LocalizedText
    section: Section


class RouteStep(_Model):
    """One step of the way a registration travels (II.5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: PositiveInt
    actor: LocalizedText
    text: LocalizedText
    section: Section


class TimelineStep(_Model):
    """One row of the schedule (II.6), with concrete dates, both inclusive.

    `deadline` is true when the plan says "before <date>" rather than naming a period;
    `period` keeps the plan's own wording ("Trước ngày 10/8/2017").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: PositiveInt
    title: LocalizedText
    period: LocalizedText | None = None
    start: dt.date
    end: dt.date
    deadline: bool = False
    lead: LocalizedText
    partners: LocalizedText
    section: Section

    @field_validator("end")
    @classmethod
    def _end_not_before_start(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if isinstance(start, dt.date) and end < start:
            raise PydanticCustomError(
                "plan_end_before_start",
                "{end} ends before it starts ({start})",
                {"end": end.isoformat(), "start": start.isoformat()},
            )
        return end


class Contract(_Model):
    """The task contract signed after the City's decision (II.5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parties: list[LocalizedText] = Field(min_length=2)
    subject: LocalizedText
    liquidation_before: dt.date  # exclusive: "thanh lý trước ngày 25/11/2017"
    section: Section

    @property
    def last_liquidation_day(self) -> dt.date:
        return self.liquidation_before - dt.timedelta(days=1)


class Budget(_Model):
    """The money (II.7)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount_vnd: PositiveInt
    source: LocalizedText
    decision: Text
    section: Section


class LegalBasis(_Model):
    """A decision or program the plan is based on (the opening paragraph)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: Text
    date: dt.date
    title: LocalizedText
    section: Section = "preamble"


class Responsibility(_Model):
    """What one party must do (III.1–III.5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    party: LocalizedText
    duties: list[LocalizedText] = Field(min_length=1)
    section: Section


class RepresentativeType(_Model):
    """Who may sign the contract for a village (II.5, III.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: LocalizedText
    section: Section


class ReviewingUnit(_Model):
    """The body a village registers through; in 2017 a quận, huyện or thị xã."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: UnitCode
    name: Text
    kind: Text
    aliases: list[Text] = Field(default_factory=list)
    section: Section

    @property
    def display(self) -> str:
        """The kind and the name, like "huyện Gia Lâm"."""
        return f"{self.kind} {self.name}"

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class UnitMatch:
    """The unit a text names, or else up to three likely ones (best first)."""

    unit: ReviewingUnit | None
    suggestions: tuple[ReviewingUnit, ...] = ()


# --- the plan ------------------------------------------------------------------------


class Plan(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    year: Annotated[int, Field(ge=2000, le=2100)]
    title: LocalizedText
    issuer: LocalizedText
    region: LocalizedText
    code_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,12}$")]
    controller: LocalizedText
    unit_label: LocalizedText
    units_section: Section
    prior_years: list[int] = Field(default_factory=list)
    training_slots: PositiveInt
    training_days: PositiveInt
    sections: list[SectionHeading] = Field(min_length=1)
    purposes: list[Note] = Field(default_factory=list)
    requirements: list[Note] = Field(default_factory=list)
    implementation: Implementation
    support_items: list[SupportItem] = Field(min_length=1)
    conditions: list[Condition] = Field(min_length=1)
    priorities: list[Priority] = Field(default_factory=list)
    route: list[RouteStep] = Field(min_length=1)
    contract: Contract
    timeline: list[TimelineStep] = Field(min_length=1)
    budget: Budget
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    responsibilities: list[Responsibility] = Field(default_factory=list)
    representative_types: list[RepresentativeType] = Field(min_length=1)
    units: list[ReviewingUnit] = Field(min_length=1)

    _units_by_code: dict[str, ReviewingUnit] = PrivateAttr(default_factory=dict)
    _units_by_key: dict[str, ReviewingUnit] = PrivateAttr(default_factory=dict)
    _prefixes: tuple[tuple[str, ...], ...] = PrivateAttr(default=())

    def model_post_init(self, context: Any, /) -> None:
        self._units_by_code = {u.code: u for u in self.units}
        by_key: dict[str, ReviewingUnit] = {}
        for unit in self.units:
            for spelling in unit.spellings:
                for key in _keys(spelling):
                    by_key.setdefault(key, unit)
        self._units_by_key = by_key
        prefixes = {tuple(p.split()) for p in _UNIT_PREFIXES}
        prefixes |= {tuple(fold(u.kind).split()) for u in self.units if fold(u.kind)}
        self._prefixes = tuple(sorted(prefixes, key=len, reverse=True))

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Plan:
        if isinstance(info.context, dict) and info.context.get(_COLLECT):
            return self  # check_plan_file reports these with the other errors
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Problems across entries (duplicates, numbering, unknown sections), as
        "field.path: message" lines; empty when the plan is consistent."""
        out: list[str] = []
        out += _duplicates("units", self.units, lambda u: u.code, "unit code")
        out += _unit_spelling_clashes(self.units)
        out += _duplicates(
            "support_items", self.support_items, lambda i: i.code, "support item code"
        )
        out += _duplicates("conditions", self.conditions, lambda c: c.code, "condition code")
        out += _duplicates("priorities", self.priorities, lambda p: p.code, "priority code")
        out += _duplicates(
            "responsibilities", self.responsibilities, lambda r: r.code, "responsibility code"
        )
        out += _duplicates(
            "representative_types",
            self.representative_types,
            lambda r: r.code,
            "representative type code",
        )
        out += _duplicates("sections", self.sections, lambda s: s.ref, "section")
        out += _numbered("support_items", "number", [i.number for i in self.support_items])
        out += _numbered("priorities", "rank", [p.rank for p in self.priorities])
        out += _numbered("route", "number", [r.number for r in self.route])
        out += _numbered("timeline", "number", [s.number for s in self.timeline])
        for i, year in enumerate(self.prior_years):
            if year >= self.year:
                out.append(f"prior_years[{i}]: {year} is not before the plan year {self.year}")
        known = {s.ref for s in self.sections}
        for path, ref in _section_refs(self):
            if ref not in known:
                out.append(f"{path}: section '{ref}' is not listed in sections")
        return out

    # --- look-ups ---

    def unit(self, code: str) -> ReviewingUnit:
        """The unit with this code ("GLA"); KeyError if there is none."""
        try:
            return self._units_by_code[code.strip().upper()]
        except KeyError:
            raise KeyError(f"unknown {self.unit_label.en} code {code!r}") from None

    def find_unit(self, text: str) -> UnitMatch:
        """The unit `text` names, however it is spelled ("huyen ung hoa", "Ứng Hoà",
        "h. Gia Lam"); otherwise up to three suggestions for a typo ("Gia Lamm")."""
        full = fold(text)
        if not full:
            return UnitMatch(None)
        bare = self._strip_affixes(full)
        for candidate in (full, bare):
            for key in _keys(candidate):
                if key in self._units_by_key:
                    return UnitMatch(self._units_by_key[key])
        scored: list[tuple[float, int, ReviewingUnit]] = []
        for index, unit in enumerate(self.units):
            score = max(_likeness(bare, spelling) for spelling in unit.spellings)
            if score >= _SUGGESTION_THRESHOLD:
                scored.append((score, index, unit))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return UnitMatch(None, tuple(u for _, _, u in scored[:_MAX_SUGGESTIONS]))

    def _strip_affixes(self, folded: str) -> str:
        tokens = folded.split()
        changed = True
        while changed:
            changed = False
            for affix in self._prefixes:
                if len(tokens) > len(affix) and tuple(tokens[: len(affix)]) == affix:
                    tokens, changed = tokens[len(affix) :], True
                    break
            for suffix in _UNIT_SUFFIXES:
                words = tuple(suffix.split())
                if len(tokens) > len(words) and tuple(tokens[-len(words) :]) == words:
                    tokens, changed = tokens[: -len(words)], True
                    break
        return " ".join(tokens)

    def item(self, code: str) -> SupportItem:
        for item in self.support_items:
            if item.code == code:
                return item
        raise KeyError(f"unknown support item {code!r}")

    def step(self, number: int) -> TimelineStep:
        for step in self.timeline:
            if step.number == number:
                return step
        raise KeyError(f"no timeline step {number}")

    def section_title(self, ref: str) -> LocalizedText:
        for heading in self.sections:
            if heading.ref == ref:
                return heading.title
        raise KeyError(f"unknown section {ref!r}")

    @property
    def registration_opens(self) -> dt.date:
        """First day villages can register (start of timeline step 1)."""
        return self.timeline[0].start

    @property
    def registration_deadline(self) -> dt.date:
        """Last day villages can register (end of timeline step 1), inclusive."""
        return self.timeline[0].end


# --- cross-field checks --------------------------------------------------------------


def _keys(text: str) -> set[str]:
    folded = fold(text)
    return {folded, folded.replace(" ", "")} if folded else set()


def _likeness(query: str, spelling: str) -> float:
    target = fold(spelling)
    score = similarity(query, target)
    if " " not in query:  # "gialamm": compare without spaces, as weaker evidence
        score = max(score, 0.95 * similarity(query, target.replace(" ", "")))
    # A whole word or two of the name ("tu liem", "thanh") is worth a suggestion.
    if len(query) >= 3 and f" {query} " in f" {target} ":
        score = max(score, 0.8)
    return score


def _duplicates(
    field: str, entries: Sequence[Any], key: Callable[[Any], object], what: str
) -> list[str]:
    out: list[str] = []
    first: dict[object, int] = {}
    for i, entry in enumerate(entries):
        value = key(entry)
        if value in first:
            attr = "ref" if field == "sections" else "code"
            out.append(
                f"{field}[{i}].{attr}: duplicate {what} {value!r} (also {field}[{first[value]}])"
            )
        else:
            first[value] = i
    return out


def _unit_spelling_clashes(units: Sequence[ReviewingUnit]) -> list[str]:
    out: list[str] = []
    owner: dict[str, tuple[int, str, str]] = {}  # key -> (unit index, field path, spelling)
    for i, unit in enumerate(units):
        paths = [(f"units[{i}].name", unit.name)]
        paths += [(f"units[{i}].aliases[{j}]", a) for j, a in enumerate(unit.aliases)]
        for path, spelling in paths:
            keys = _keys(spelling)
            if not keys:
                out.append(f"{path}: {spelling!r} has no letters or digits to match on")
            for key in sorted(keys):
                if key in owner and owner[key][0] != i:
                    other_path, other = owner[key][1], owner[key][2]
                    out.append(
                        f"{path}: {spelling!r} reads the same as {other!r} of "
                        f"{other_path} (both fold to {fold(spelling)!r})"
                    )
                    break
                owner.setdefault(key, (i, path, spelling))
    return out


def _numbered(field: str, attr: str, numbers: list[int]) -> list[str]:
    for i, number in enumerate(numbers):
        if number != i + 1:
            return [
                f"{field}[{i}].{attr}: expected {i + 1}, got {number} "
                f"(entries are numbered 1, 2, 3… in order)"
            ]
    return []


def _section_refs(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{path}.{name}" if path else name
        if (name == "section" or name.endswith("_section")) and isinstance(value, str):
            yield here, value
        elif isinstance(value, BaseModel):
            yield from _section_refs(value, here)
        elif isinstance(value, list):
            for i, element in enumerate(value):
                if isinstance(element, BaseModel):
                    yield from _section_refs(element, f"{here}[{i}]")


# --- loading and checking files ------------------------------------------------------


class PlanError(ValueError):
    """A plan file that cannot be used; `errors` lists each problem with its field path."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: invalid plan file:\n" + "\n".join(f"  {e}" for e in errors))


def _read(path: Path) -> tuple[Plan | None, list[str]]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return None, [f"cannot read the file: {exc.strerror or exc}"]
    except UnicodeDecodeError as exc:
        return None, [f"not UTF-8 text (byte {exc.start})"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"TOML syntax error: {exc}"]
    try:
        plan = Plan.model_validate(data, context={_COLLECT: True})
    except ValidationError as exc:
        return None, [_describe(error) for error in exc.errors()]
    return plan, plan.problems()


def _describe(error: Any) -> str:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    where = _path(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown field"
        owner = _model_at(loc[:-1])
        if owner is not None and isinstance(loc[-1], str):
            close = difflib.get_close_matches(loc[-1], list(owner.model_fields), n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
    elif kind == "missing":
        message = "missing (required field)"
    else:
        message = str(error["msg"])
        value = error.get("input")
        if not kind.startswith("plan_") and isinstance(value, str | int | float | dt.date):
            message += f" (got {value!r})"
    return f"{where}: {message}"


def _path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that the value at `loc` is validated as."""
    current: Any = Plan
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _unwrap(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is list:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    return annotation


def check_plan_file(path: Path) -> list[str]:
    """Every problem of a plan file, each naming its field path; [] when it is valid."""
    return _read(Path(path))[1]


def load_plan(path: Path | None = None) -> Plan:
    """Read and validate a plan file; the shipped 2017 plan by default (cached)."""
    if path is None:
        return _default_plan()
    return _load(Path(path))


@cache
def _default_plan() -> Plan:
    return _load(DEFAULT_PLAN_PATH)


def _load(path: Path) -> Plan:
    plan, errors = _read(path)
    if plan is None or errors:
        raise PlanError(path, errors)
    return plan
