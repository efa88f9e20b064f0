"""Standard Markdown in, per-platform text out, split at the platform's limit.

The LLM writes Markdown. We parse it once into flat spans (text plus the formatting
that applies to it), split the spans into parts that fit the platform's limit, and only
then render each part, so every part opens and closes its own tags and no split ever
leaves an entity or a code block half open.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.split import split_points

Tag = tuple[str, ...]  # ("b",), ("pre", "python"), ("a", "https://...")

_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_INLINE = {"strong": ("b",), "em": ("i",), "s": ("s",)}
_BLOCK_GAP = "\n\n"


@dataclass(frozen=True)
class Span:
    """A run of text and the formatting that applies to all of it."""

    text: str
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True)
class Part:
    """One message's worth of a reply: the formatted text and its plain-text twin."""

    text: str
    plain: str


@dataclass(frozen=True)
class Format:
    """How one platform writes formatting; `counts_markup` when its limit counts the tags too."""

    opening: Callable[[Tag], str]
    closing: Callable[[Tag], str]
    escape: Callable[[str], str]
    counts_markup: bool = False

    def render(self, spans: list[Span]) -> str:
        """Render spans, closing and reopening only the tags that change between them."""
        out: list[str] = []
        current: tuple[Tag, ...] = ()
        for span in spans + [Span("")]:
            keep = _common_prefix(current, span.tags)
            out.extend(self.closing(tag) for tag in reversed(current[keep:]))
            out.extend(self.opening(tag) for tag in span.tags[keep:])
            out.append(self.escape(span.text))
            current = span.tags
        return "".join(out)


def _common_prefix(a: tuple[Tag, ...], b: tuple[Tag, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _html_open(tag: Tag) -> str:
    if tag[0] == "pre":
        return f'<pre><code class="language-{html.escape(tag[1])}">' if tag[1] else "<pre>"
    if tag[0] == "a":
        return f'<a href="{html.escape(tag[1])}">'
    return f"<{tag[0]}>"


def _html_close(tag: Tag) -> str:
    if tag[0] == "pre":
        return "</code></pre>" if tag[1] else "</pre>"
    return f"</{tag[0]}>"


def _marks(marks: dict[str, tuple[str, str]], escape: Callable[[str], str] = lambda s: s) -> Format:
    """A lightweight markup that wraps each formatted run in marks, such as *bold*; links become `text (url)`."""
    marks = {"a": ("", " ({0})"), **marks}

    def opening(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[0].format(*tag[1:])

    def closing(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[1].format(*tag[1:])

    return Format(opening, closing, escape, counts_markup=True)


_CODE = {"code": ("`", "`"), "pre": ("```\n", "\n```")}

# Telegram's HTML parse mode; its length limit counts the text after entity parsing.
TELEGRAM_HTML = Format(_html_open, _html_close, lambda s: html.escape(s, quote=False))
# The web chat page shows the same small tag set, styled by its own CSS.
WEB_HTML = TELEGRAM_HTML
PLAIN = _marks({})
# Slack's mrkdwn: only &, < and > are escaped.
SLACK_MRKDWN = _marks(
    {"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), "a": ("<{0}|", ">"), **_CODE},
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
)
WHATSAPP = _marks({"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), **_CODE})
# Standard Markdown again, for systems that render it themselves.
MARKDOWN = _marks({"b": ("**", "**"), "i": ("_", "_"), "s": ("~~", "~~"), "a": ("[", "]({0})"),
                   "code": ("`", "`"), "pre": ("```{0}\n", "\n```")})


def render(markdown: str, fmt: Format, limit: int) -> list[Part]:
    """Render the LLM's Markdown for a platform, as parts no longer than `limit`."""
    spans = to_spans(markdown)
    return [part for chunk in _chunks(spans, fmt, limit) if (part := _part(chunk, fmt)).plain.strip()]


def _part(spans: list[Span], fmt: Format) -> Part:
    return Part(fmt.render(spans), "".join(span.text for span in spans))


def _chunks(spans: list[Span], fmt: Format, limit: int, budget: int = 0) -> list[list[Span]]:
    """Split to `budget` visible units; where the platform counts markup too, split again until it fits."""
    text = "".join(span.text for span in spans)
    in_code = [any(tag[0] in ("pre", "code") for tag in s.tags) for s in spans for _ in s.text]
    chunks = [_slice(spans, a, b) for a, b in split_points(text, in_code, budget or limit)]
    if not fmt.counts_markup:
        return chunks
    return [piece for chunk in chunks for piece in _fit(chunk, fmt, limit)]


def _fit(chunk: list[Span], fmt: Format, limit: int) -> list[list[Span]]:
    excess = utf16_len(fmt.render(chunk)) - limit
    visible = utf16_len("".join(span.text for span in chunk))
    if excess <= 0 or visible <= 1:
        return [chunk]
    return _chunks(chunk, fmt, limit, budget=max(1, min(visible - excess, visible - 1)))


def _slice(spans: list[Span], start: int, end: int) -> list[Span]:
    """The spans covering text[start:end], cut at both ends."""
    out, pos = [], 0
    for span in spans:
        a, b = max(start, pos), min(end, pos + len(span.text))
        if a < b:
            out.append(Span(span.text[a - pos : b - pos], span.tags))
        pos += len(span.text)
    return out


def utf16_len(text: str) -> int:
    """Length as chat platforms count it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def to_spans(markdown: str) -> list[Span]:
    """Parse Markdown into flat spans."""
    builder = _SpanBuilder()
    for token in _MD.parse(markdown):
        builder.block(token)
    return builder.spans


class _SpanBuilder:
    """Walks markdown-it's token stream, keeping the open formatting as a stack."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.stack: list[Tag] = []
        self.gap = ""  # whitespace owed before the next text: block breaks are only written between blocks
        self.gap_tags: tuple[Tag, ...] = ()  # the quote the gap was owed in, if any
        self.cells = 0  # cells so far in the current table row
        self.prefix = ""  # a list item's bullet, written just before its first text
        self.lists: list[int | None] = []  # the next number of each open ordered list, None for bullets

    def add(self, text: str, tags: tuple[Tag, ...] | None = None) -> None:
        if not text:
            return
        if self.gap and self.spans:
            inside = self.gap_tags[: _common_prefix(self.gap_tags, self._block_tags())]
            self.spans.append(Span(self.gap, inside))
        self.gap, prefix, self.prefix = "", self.prefix, ""
        if prefix:
            self.spans.append(Span(prefix, self._block_tags()))
        self.spans.append(Span(text, tuple(self.stack) if tags is None else tags))

    def _block_tags(self) -> tuple[Tag, ...]:
        return tuple(tag for tag in self.stack if tag[0] == "blockquote")

    def _code(self, text: str, tag: Tag) -> None:
        # Telegram, Slack and WhatsApp cannot nest bold or links with code: code keeps only its quote.
        self.add(text, self._block_tags() + (tag,))

    def need(self, gap: str) -> None:
        if not self.gap:
            self.gap_tags = self._block_tags()
        self.gap = max(self.gap, gap, key=len)

    def block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            for child in token.children or []:
                self.inline(child)
        elif kind in ("fence", "code_block"):
            self.need(_BLOCK_GAP)
            self._code(token.content.rstrip("\n"), ("pre", token.info.split()[0] if token.info.strip() else ""))
            self.need(_BLOCK_GAP)
        elif kind == "hr":
            self.need(_BLOCK_GAP)
            self.add("———")
            self.need(_BLOCK_GAP)
        else:
            self._structure(token)

    def _structure(self, token: Token) -> None:
        kind, opening = token.type.rsplit("_", 1)[0], token.nesting == 1
        if kind in ("heading", "blockquote"):
            self.need(_BLOCK_GAP)
            self._toggle(("b",) if kind == "heading" else ("blockquote",), opening)
        elif kind == "paragraph" and not token.hidden:
            self.need(_BLOCK_GAP)
        elif kind in ("bullet_list", "ordered_list"):
            self._list(token, opening)
        elif kind == "list_item" and opening:
            self._item(token)
        elif kind == "table" or (kind == "tr" and opening):
            self.need(_BLOCK_GAP if kind == "table" else "\n")
            self.cells = 0
        elif kind in ("th", "td") and opening:
            self.add(" | " if self.cells else "")
            self.cells += 1

    def _toggle(self, tag: Tag, opening: bool) -> None:
        if opening:
            self.stack.append(tag)
        else:
            self.stack.pop()

    def _list(self, token: Token, opening: bool) -> None:
        if opening:
            self.need("\n" if self.lists else _BLOCK_GAP)
            start = token.attrGet("start")
            self.lists.append(int(start or 1) if token.type == "ordered_list_open" else None)
        else:
            self.lists.pop()
            self.need("\n" if self.lists else _BLOCK_GAP)

    def _item(self, token: Token) -> None:
        self.need("\n")
        number = self.lists[-1]
        if number is not None:
            self.lists[-1] = number + 1
        marker = "• " if number is None else f"{token.info or number}{token.markup or '.'} "
        self.prefix = "  " * (len(self.lists) - 1) + marker

    def inline(self, token: Token) -> None:
        kind = token.type
        name, _, edge = kind.rpartition("_")
        if kind in ("text", "html_inline"):
            self.add(token.content)
        elif kind in ("softbreak", "hardbreak"):
            self.add("\n")
        elif kind == "code_inline":
            self._code(token.content, ("code",))
        elif name in _INLINE:
            self._toggle(_INLINE[name], edge == "open")
        elif kind == "link_open":
            self.stack.append(("a", str(token.attrGet("href") or "")))
        elif kind == "link_close":
            self.stack.pop()
        elif kind == "image":
            self.stack.append(("a", str(token.attrGet("src") or "")))
            self.add(token.content or str(token.attrGet("src") or ""))
            self.stack.pop()
