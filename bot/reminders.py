"""Reminder rules and delivery windows as data (`bot/plans/<plan id>.reminders.toml`).

A rule says who is reminded (a draft not yet sent, the owners of registrations in some
status, the officers of units with registrations waiting), when (days before or after a
timeline step's start or end, every day through some steps, or days after a registration
entered its status), and with which catalog message. The file also holds when messages may
go out (a morning hour, quiet hours, in Asia/Ho_Chi_Minh) and Zalo OA's promotion rules.
Validated by pydantic; `check_rules_file` names the field of every problem.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bot.clock import ZONE
from bot.i18n import LANGUAGES, catalog
from bot.plan import DEFAULT_PLAN_PATH, Plan

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Audience = Literal["draft", "registrations", "officers"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SendWindow(_Model):
    """When reminders go out: at `send_hour`, never between quiet_start and quiet_end."""

    send_hour: Annotated[int, Field(ge=0, le=23)] = 8
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(7, 0)

    @model_validator(mode="after")
    def _send_hour_not_quiet(self) -> SendWindow:
        if self.is_quiet_time(dt.time(self.send_hour)):
            raise ValueError(f"send_hour {self.send_hour} falls in the quiet hours")
        return self

    def is_quiet_time(self, at: dt.time) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start <= end:
            return start <= at < end
        return at >= start or at < end  # quiet over midnight

    def is_quiet(self, when: dt.datetime) -> bool:
        return self.is_quiet_time(when.astimezone(ZONE).time().replace(tzinfo=None))

    def scheduled(self, day: dt.date) -> dt.datetime:
        """The moment a reminder of `day` is due."""
        return dt.datetime.combine(day, dt.time(self.send_hour), ZONE)

    def next_allowed(self, when: dt.datetime) -> dt.datetime:
        """`when`, or the end of the quiet hours it falls in."""
        if not self.is_quiet(when):
            return when
        local = when.astimezone(ZONE)
        end = dt.datetime.combine(local.date(), self.quiet_end, ZONE)
        return end if end > local else end + dt.timedelta(days=1)


class ZaloRules(_Model):
    """Zalo OA: customer-service messages within the interaction window; promotion
    messages to followers only, within set hours, with a daily and a monthly cap."""

    interaction_window_days: PositiveInt = 7
    promotion_start: dt.time = dt.time(6, 0)
    promotion_end: dt.time = dt.time(22, 0)  # exclusive: the last minute is 21:59
    promotion_per_user_per_day: PositiveInt = 1
    promotion_monthly_cap: PositiveInt = 2000  # depends on the OA's tier: set yours


class Rule(_Model):
    id: Code
    audience: Audience
    status: list[Code] = Field(default_factory=list)  # registration statuses concerned
    step: PositiveInt  # the timeline step the dates hang on
    anchor: Literal["start", "end"] = "end"
    offsets: list[int] = Field(default_factory=list)  # days from the anchor: -7 = a week before
    daily: bool = False  # every day from the step's start through `through_step`'s end
    through_step: PositiveInt | None = None
    after_status_days: list[PositiveInt] = Field(default_factory=list)  # days in the status
    message: str  # catalog key
    commands: list[Code] = Field(default_factory=list)  # buttons: chat commands to offer
    consent: bool = True  # only to users who agreed to follow-up messages
    section: str = "II.6"

    @model_validator(mode="after")
    def _one_schedule(self) -> Rule:
        kinds = [bool(self.offsets), self.daily, bool(self.after_status_days)]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of offsets, daily, after_status_days")
        if self.through_step is not None and not self.daily:
            raise ValueError("through_step goes with daily")
        if self.audience == "draft" and self.status:
            raise ValueError("a draft has no status")
        if self.audience != "draft" and not self.status:
            raise ValueError(f"audience {self.audience!r} needs a status list")
        if self.after_status_days and self.audience != "registrations":
            raise ValueError("after_status_days goes with audience 'registrations'")
        return self

    def days(self, plan: Plan) -> list[dt.date]:
        """The days this rule fires (not for after_status_days, which depend on each case)."""
        step = plan.step(self.step)
        if self.daily:
            last = plan.step(self.through_step or self.step).end
            return [step.start + dt.timedelta(n) for n in range((last - step.start).days + 1)]
        anchor = step.start if self.anchor == "start" else step.end
        return sorted(anchor + dt.timedelta(days=n) for n in self.offsets)

    def deadline(self, plan: Plan) -> dt.date:
        """The last day a reminder of this rule is any use (for after_status_days and offsets)."""
        step = plan.step(self.step)
        if self.after_status_days:
            return step.end
        return step.start if self.anchor == "start" else step.end


class ReminderRules(_Model):
    plan: str
    delivery: SendWindow = SendWindow()
    zalo: ZaloRules = ZaloRules()
    rules: list[Rule] = Field(default_factory=list)

    def problems(self, plan: Plan) -> list[str]:
        """What does not fit the plan or the catalogs, each with its field path."""
        out: list[str] = []
        if self.plan != plan.id:
            out.append(f"plan: '{self.plan}' but the plan file is '{plan.id}'")
        steps = {s.number for s in plan.timeline}
        seen: set[str] = set()
        for n, rule in enumerate(self.rules):
            where = f"rules[{n}]"
            if rule.id in seen:
                out.append(f"{where}.id: duplicate rule id '{rule.id}'")
            seen.add(rule.id)
            for name in ("step", "through_step"):
                number = getattr(rule, name)
                if number is not None and number not in steps:
                    out.append(f"{where}.{name}: no timeline step {number}")
            from handlers.router import COMMANDS  # here: handlers import this module

            for command in rule.commands:
                if command not in COMMANDS:
                    out.append(f"{where}.commands: no chat command /{command}")
            keys = [rule.message, *(f"status.{s}" for s in rule.status)]
            keys += [f"remind.cmd.{c}" for c in rule.commands]
            for key in keys:
                missing = [lang for lang in LANGUAGES if not _in_catalog(lang, key)]
                if missing:
                    out.append(f"{where}: message '{key}' missing in {', '.join(missing)}")
        return out


def _in_catalog(lang: str, key: str) -> bool:
    return key in catalog(lang)


def rules_path(plan: Plan) -> Path:
    return DEFAULT_PLAN_PATH.parent / f"{plan.id}.reminders.toml"


def read_rules(path: Path) -> tuple[ReminderRules | None, list[str]]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [f"cannot read: {exc}"]
    try:
        return ReminderRules.model_validate(data), []
    except ValidationError as exc:
        return None, [_describe(e) for e in exc.errors()]


def _describe(error: object) -> str:
    assert isinstance(error, dict)
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
    return f"{loc.lstrip('.') or '(top level)'}: {error['msg']}"


def check_rules_file(path: Path, plan: Plan) -> list[str]:
    rules, errors = read_rules(path)
    return errors if rules is None else rules.problems(plan)


_LOADED: dict[tuple[str, Path], ReminderRules] = {}


def load_rules(plan: Plan, path: Path | None = None) -> ReminderRules:
    """The plan's rules file (or `path`); a plan without one gets no rules, default windows."""
    path = Path(path or rules_path(plan))
    key = (plan.id, path)
    if key not in _LOADED:
        if not path.exists():
            _LOADED[key] = ReminderRules(plan=plan.id)
        else:
            rules, errors = read_rules(path)
            errors = errors if rules is None else rules.problems(plan)
            if rules is None or errors:
                raise ValueError(f"{path}: invalid reminder rules:\n  " + "\n  ".join(errors))
            _LOADED[key] = rules
    return _LOADED[key]
