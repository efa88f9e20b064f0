"""Markdown parsed into flat spans: runs of text, each with the formatting that applies to all of it."""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

Tag = tuple[str, ...]  # ("b",), ("pre", "python"), ("a", "https://...")

_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_INLINE = {"strong": ("b",), "em": ("i",), "s": ("s",)}
_BLOCK_GAP = "\n\n"


@dataclass(frozen=True)
class Span:
    """A run of text and the formatting that applies to all of it."""

    text: str
    tags: tuple[Tag, ...] = ()


def common_prefix(a: tuple[Tag, ...], b: tuple[Tag, ...]) -> int:
    """How many tags, from the outermost, two stacks share."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


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
            inside = self.gap_tags[: common_prefix(self.gap_tags, self._block_tags())]
            self.spans.append(Span(self.gap, inside))
        self.gap, prefix, self.prefix = "", self.prefix, ""
        if prefix:
            self.spans.append(Span(prefix, self._block_tags()))
        self.spans.append(Span(text, tuple(self.stack) if tags is None else tags))

    def _block_tags(self) -> tuple[Tag, ...]:
        return tuple(tag for tag in self.stack if tag[0] == "blockquote")

    def _code(self, text: str, tag: Tag) -> None:
        # Slack and WhatsApp cannot nest bold with code: code keeps only its quote and its link.
        links = tuple(tag for tag in self.stack if tag[0] == "a")
        self.add(text, self._block_tags() + links + (tag,))

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
