"""A form as an ordered list of steps, each an `ask` and an `answer` function.

Button payloads are `<flow>:<step>:<value>`, so a step only acts on its own buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.events import Button
from handlers.context import Context

Action = Callable[[Context], None]


@dataclass(frozen=True)
class Step:
    name: str
    ask: Action
    answer: Action


class Flow:
    def __init__(self, name: str, steps: Sequence[Step], extra: Sequence[Step] = ()) -> None:
        self.name = name
        self.order = [step.name for step in steps]
        self.steps = {step.name: step for step in (*steps, *extra)}

    def payload(self, step: str, value: str | int) -> str:
        return f"{self.name}:{step}:{value}"

    def buttons(self, ctx: Context, step: str, *options: tuple[str, str]) -> list[Button]:
        """The choices of one step: (catalog key of the label, value) pairs."""
        return [ctx.button(key, self.payload(step, value)) for key, value in options]

    def value(self, ctx: Context) -> str | None:
        """The value of a pressed button of the current step, else None."""
        prefix = f"{self.name}:{ctx.step}:"
        if ctx.event.kind == "button" and ctx.payload.startswith(prefix):
            return ctx.payload.removeprefix(prefix)
        return None

    def enter(self, ctx: Context, step: str) -> None:
        ctx.goto(self.name, step)
        self.steps[step].ask(ctx)

    def ask(self, ctx: Context) -> None:
        self.steps[ctx.step or self.order[0]].ask(ctx)

    def handle(self, ctx: Context) -> None:
        self.steps[ctx.step or self.order[0]].answer(ctx)

    def position(self, step: str) -> int:
        return self.order.index(step)

    def next(self, ctx: Context) -> None:
        index = self.position(ctx.step or self.order[0])
        self.enter(ctx, self.order[min(index + 1, len(self.order) - 1)])

    def previous(self, ctx: Context, first: str) -> bool:
        """Go one step back, not before `first`; False if already there."""
        step = ctx.step
        if step not in self.order or self.position(step) <= self.position(first):
            return False
        self.enter(ctx, self.order[self.position(step) - 1])
        return True
