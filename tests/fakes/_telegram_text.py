"""Text handling the way the Bot API does it: UTF-16 offsets, parse modes, command entities.

Telegram measures text and entity offsets in UTF-16 code units and strips formatting markup
before checking the 4096-character limit, so the fake must too, or a message that Telegram
rejects (or accepts) would be judged differently here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, ClassVar

Entity = dict[str, Any]


class FormattingError(ValueError):
    """Markup Telegram would refuse; the text follows "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports markup errors as UTF-8 byte offsets into what the bot sent.
    return len(text[:index].encode("utf-8"))


_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


def command_entities(text: str) -> list[Entity]:
    """``bot_command`` entities, as Telegram attaches them to a user's message."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Return the plain text and entities Telegram would store for ``text``."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _HtmlToEntities(text).result()
    if mode == "markdownv2":
        return _MarkdownV2(text).result()
    if mode == "markdown":
        return _LegacyMarkdown(text).result()
    raise FormattingError(f"Unsupported parse_mode {parse_mode!r}")


class _Builder:
    """Collects plain text and entities with offsets in UTF-16 units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[Entity] = []

    def add_text(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def add_entity(self, entity_type: str, start: int, **extra: Any) -> None:
        length = self.position - start
        if length > 0:  # Telegram drops empty entities silently
            entity: Entity = {"type": entity_type, "offset": start, "length": length}
            entity.update({key: value for key, value in extra.items() if value})
            self.entities.append(entity)

    def result(self) -> tuple[str, list[Entity]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _HtmlToEntities(HTMLParser):
    """The HTML subset of the Bot API; anything else (``<br>``, ``<div>``…) is an error."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._out = _Builder()
        self._stack: list[tuple[str, int, dict[str, str | None]]] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        lines = self._source.split("\n")
        index = sum(len(part) + 1 for part in lines[: line - 1]) + column
        return _byte_offset(self._source, index)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise FormattingError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        if tag == "a" and not attributes.get("href"):
            raise FormattingError(f"Can't find the URL of the link at byte offset {self._offset()}")
        self._stack.append((tag, self._out.position, attributes))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1][0] != tag:
            expected = f'"</{self._stack[-1][0]}>"' if self._stack else "nothing"
            raise FormattingError(
                f"Unmatched end tag at byte offset {self._offset()}, "
                f'expected {expected}, found "</{tag}>"'
            )
        _, start, attributes = self._stack.pop()
        if tag == "code" and self._stack and self._stack[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            language = (attributes.get("class") or "").removeprefix("language-")
            pre_tag, pre_start, pre_attributes = self._stack[-1]
            self._stack[-1] = (pre_tag, pre_start, {**pre_attributes, "language": language})
            return
        entity_type = _HTML_TAGS[tag]
        if tag == "blockquote" and "expandable" in attributes:
            entity_type = "expandable_blockquote"
        self._out.add_entity(
            entity_type,
            start,
            url=attributes.get("href") if tag == "a" else None,
            language=attributes.get("language") if tag == "pre" else None,
            custom_emoji_id=attributes.get("emoji-id") if tag == "tg-emoji" else None,
        )

    def handle_data(self, data: str) -> None:
        self._out.add_text(data)

    def result(self) -> tuple[str, list[Entity]]:
        self.feed(self._source)
        self.close()
        if self._stack:
            raise FormattingError(
                f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"'
            )
        return self._out.result()


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}
_MDV2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


class _MarkdownV2:
    """MarkdownV2 as documented: reserved characters must be escaped outside entities."""

    def __init__(self, source: str) -> None:
        self._src = source
        self._out = _Builder()
        self._stack: list[tuple[str, int, int]] = []  # (type, text position, source index)
        self._quote_start: int | None = None

    def _fail_reserved(self, index: int) -> FormattingError:
        return FormattingError(
            f"Character '{self._src[index]}' is reserved and must be escaped with the "
            "preceding '\\'"
        )

    def _toggle(self, entity_type: str, index: int) -> None:
        open_types = [entry[0] for entry in self._stack]
        if entity_type in open_types:
            if open_types[-1] != entity_type:
                raise FormattingError(
                    f"Can't find end of {_MDV2_NAMES[open_types[-1]]} entity at byte offset "
                    f"{_byte_offset(self._src, self._stack[-1][2])}"
                )
            _, start, _ = self._stack.pop()
            self._out.add_entity(entity_type, start)
        else:
            self._stack.append((entity_type, self._out.position, index))

    def _read_code(self, index: int, fence: str) -> int:
        """Consume a code/pre entity starting after ``fence``; return the index after it."""
        i = index
        language = ""
        if fence == "```":
            newline = self._src.find("\n", i)
            first_line = self._src[i:newline] if newline != -1 else ""
            if newline != -1 and first_line and " " not in first_line:
                language, i = first_line, newline + 1
        start = self._out.position
        while i < len(self._src):
            if self._src.startswith(fence, i):
                self._out.add_entity(
                    "pre" if fence == "```" else "code", start, language=language or None
                )
                return i + len(fence)
            char = self._src[i]
            if char == "\\" and i + 1 < len(self._src):
                self._out.add_text(self._src[i + 1])
                i += 2
                continue
            if char == "`":
                raise self._fail_reserved(i)
            self._out.add_text(char)
            i += 1
        name = "Pre" if fence == "```" else "Code"
        raise FormattingError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(self._src, index)}"
        )

    def _read_url(self, index: int) -> tuple[str, int]:
        """``index`` points after "(": read up to the unescaped ")"."""
        url: list[str] = []
        i = index
        while i < len(self._src):
            char = self._src[i]
            if char == "\\" and i + 1 < len(self._src):
                url.append(self._src[i + 1])
                i += 2
                continue
            if char == ")":
                return "".join(url), i + 1
            url.append(char)
            i += 1
        raise FormattingError("Can't find end of a URL")

    def result(self) -> tuple[str, list[Entity]]:
        src = self._src
        i = 0
        while i < len(src):
            char = src[i]
            at_line_start = i == 0 or src[i - 1] == "\n"
            if at_line_start and self._quote_start is not None and char != ">":
                self._close_quote()
            if char == "\\":
                if i + 1 >= len(src) or not 1 <= ord(src[i + 1]) <= 126:
                    raise self._fail_reserved(i)
                self._out.add_text(src[i + 1])
                i += 2
            elif src.startswith("```", i):
                i = self._read_code(i + 3, "```")
            elif char == "`":
                i = self._read_code(i + 1, "`")
            elif src.startswith("__", i) or src.startswith("||", i):
                self._toggle(_MDV2_MARKERS[src[i : i + 2]], i)
                i += 2
            elif char in "*_~":
                self._toggle(_MDV2_MARKERS[char], i)
                i += 1
            elif char == "[":
                self._stack.append(("text_link", self._out.position, i))
                i += 1
            elif char == "]" and self._stack and self._stack[-1][0] == "text_link":
                if not src.startswith("(", i + 1):
                    raise self._fail_reserved(i)
                url, i = self._read_url(i + 2)
                _, start, _ = self._stack.pop()
                self._out.add_entity("text_link", start, url=url)
            elif char == ">" and at_line_start:
                if self._quote_start is None:
                    self._quote_start = self._out.position
                i += 1
            elif char in _MDV2_RESERVED:
                raise self._fail_reserved(i)
            else:
                self._out.add_text(char)
                i += 1
        if self._quote_start is not None:
            self._close_quote()
        if self._stack:
            entity_type, _, index = self._stack[-1]
            raise FormattingError(
                f"Can't find end of {_MDV2_NAMES[entity_type]} entity at byte offset "
                f"{_byte_offset(src, index)}"
            )
        return self._out.result()

    def _close_quote(self) -> None:
        assert self._quote_start is not None
        # The newline that ends the last quoted line is not part of the quote.
        end_parts = self._out.parts
        trailing_newline = bool(end_parts) and end_parts[-1] == "\n"
        if trailing_newline:
            self._out.position -= 1
        self._out.add_entity("blockquote", self._quote_start)
        if trailing_newline:
            self._out.position += 1
        self._quote_start = None


class _LegacyMarkdown:
    """The legacy "Markdown" mode: *bold*, _italic_, `code`, ```pre```, [text](url)."""

    _TYPES: ClassVar[dict[str, str]] = {"*": "bold", "_": "italic"}

    def __init__(self, source: str) -> None:
        self._src = source
        self._out = _Builder()

    def _unclosed(self, index: int) -> FormattingError:
        return FormattingError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(self._src, index)}"
        )

    def result(self) -> tuple[str, list[Entity]]:
        src = self._src
        i = 0
        while i < len(src):
            char = src[i]
            if char == "\\" and i + 1 < len(src) and src[i + 1] in "_*`[":
                self._out.add_text(src[i + 1])
                i += 2
            elif char in self._TYPES:
                end = src.find(char, i + 1)
                if end == -1:
                    raise self._unclosed(i)
                start = self._out.position
                self._out.add_text(src[i + 1 : end])
                self._out.add_entity(self._TYPES[char], start)
                i = end + 1
            elif src.startswith("```", i):
                end = src.find("```", i + 3)
                if end == -1:
                    raise self._unclosed(i)
                start = self._out.position
                self._out.add_text(src[i + 3 : end])
                self._out.add_entity("pre", start)
                i = end + 3
            elif char == "`":
                end = src.find("`", i + 1)
                if end == -1:
                    raise self._unclosed(i)
                start = self._out.position
                self._out.add_text(src[i + 1 : end])
                self._out.add_entity("code", start)
                i = end + 1
            elif char == "[":
                close = src.find("](", i + 1)
                end = src.find(")", close + 2) if close != -1 else -1
                if close == -1 or end == -1:
                    raise self._unclosed(i)
                start = self._out.position
                self._out.add_text(src[i + 1 : close])
                self._out.add_entity("text_link", start, url=src[close + 2 : end])
                i = end + 1
            else:
                self._out.add_text(char)
                i += 1
        return self._out.result()
