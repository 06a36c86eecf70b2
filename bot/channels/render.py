"""Rendering replies as plain text, for channels without buttons (or with too few)."""

from __future__ import annotations

from bot.events import Button, Reply


def numbered(buttons: tuple[Button, ...] | list[Button], start: int = 1) -> list[str]:
    """Buttons as lines "[1] label": typing the number (or the label) presses the button."""
    return [f"[{n}] {button.label}" for n, button in enumerate(buttons, start)]


def as_text(reply: Reply) -> str:
    lines = [reply.text, *numbered(reply.buttons)]
    if reply.file is not None:
        lines.append(f"[file] {reply.file.filename}")
    return "\n".join(lines)
