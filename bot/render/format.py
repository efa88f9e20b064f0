"""Standard Markdown in, per-platform text out, split at the platform's limit.

The LLM writes Markdown. We parse it once into flat spans (text plus the formatting
that applies to it), split the spans into parts that fit the platform's limit, measured
as the platform counts it (escapes, tags and link URLs included where they count), and
only then render each part, so every part opens and closes its own tags and no split
ever leaves an entity or a code block half open.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import groupby
from typing import Callable

from bot.render.spans import Span, Tag, common_prefix, to_spans
from bot.render.split import Splitter


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
    code_in_links: bool = True  # False where a link's text cannot be code: the text stays plain, the link stays

    def nest(self, spans: list[Span]) -> list[Span]:
        """The spans with only the nesting this platform can show."""
        if self.code_in_links:
            return spans
        return [Span(span.text, tuple(tag for tag in span.tags if tag[0] != "code")) if _link(span) else span
                for span in spans]

    def unit(self, span: Span) -> Tag | None:
        """The tag of the run this span is in that is kept whole where it fits in a part: code, or a link whose URL counts."""
        return next((tag for tag in span.tags if tag[0] == "pre" or (tag[0] == "a" and self.counts_markup)), None)

    def tag_cost(self, tags: tuple[Tag, ...]) -> int:
        """What opening and closing these tags adds to the length the platform counts."""
        return sum(utf16_len(self.opening(tag) + self.closing(tag)) for tag in tags) if self.counts_markup else 0

    def char_cost(self, char: str) -> int:
        """What a character of text adds to the length the platform counts."""
        return utf16_len(self.escape(char) if self.counts_markup else char)

    def render(self, spans: list[Span]) -> str:
        """Render spans, closing and reopening only the tags that change between them."""
        out: list[str] = []
        current: tuple[Tag, ...] = ()
        for span in spans + [Span("")]:
            keep = common_prefix(current, span.tags)
            out.extend(self.closing(tag) for tag in reversed(current[keep:]))
            out.extend(self.opening(tag) for tag in span.tags[keep:])
            out.append(self.escape(span.text))
            current = span.tags
        return "".join(out)


def _link(span: Span) -> Tag | None:
    return next((tag for tag in span.tags if tag[0] == "a"), None)


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


def marks(marks: dict[str, tuple[str, str]], escape: Callable[[str], str] = lambda s: s, code_in_links: bool = True) -> Format:
    """A lightweight markup that wraps each formatted run in marks, such as *bold*; links become `text (url)`."""
    marks = {"a": ("", " ({0})"), **marks}

    def opening(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[0].format(*tag[1:])

    def closing(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[1].format(*tag[1:])

    return Format(opening, closing, escape, counts_markup=True, code_in_links=code_in_links)


CODE = {"code": ("`", "`"), "pre": ("```\n", "\n```")}  # code as the lightweight markups of chat apps mark it

# A small tag set (b, i, s, code, pre with its language, a, blockquote): what Telegram's HTML parse mode and the web chat
# page show. Its length counts the text only, as Telegram's limit counts the text after entity parsing.
HTML = Format(_html_open, _html_close, lambda s: html.escape(s, quote=False))
PLAIN = marks({})
# Standard Markdown again, for systems that render it themselves.
MARKDOWN = marks({"b": ("**", "**"), "i": ("_", "_"), "s": ("~~", "~~"), "a": ("[", "]({0})"),
                  "code": ("`", "`"), "pre": ("```{0}\n", "\n```")})


def render(markdown: str, fmt: Format, limit: int) -> list[Part]:
    """Render the LLM's Markdown for a platform, as parts no longer than `limit` as the platform counts."""
    return [_part(chunk, fmt) for chunk in chunks(markdown, fmt, limit)]


def chunks(markdown: str, fmt: Format, limit: int) -> list[list[Span]]:
    """The spans of each part `render` renders."""
    spans = _drop_long_urls(fmt.nest(to_spans(markdown)), fmt, limit)
    text = "".join(span.text for span in spans)
    in_code = [any(tag[0] in ("pre", "code") for tag in span.tags) for span in spans for _ in span.text]
    splitter = Splitter(text, in_code, _units(spans, fmt), _Meter(spans, fmt).cost, limit)
    return [_slice(spans, start, end) for start, end in splitter.bounds() if text[start:end].strip()]


def _part(spans: list[Span], fmt: Format) -> Part:
    return Part(fmt.render(spans), "".join(span.text for span in spans))


def _drop_long_urls(spans: list[Span], fmt: Format, limit: int) -> list[Span]:
    """Where the URL counts against the limit, a link too long for any part keeps its text and loses its URL."""
    if not fmt.counts_markup:
        return spans
    out: list[Span] = []
    for link, group in groupby(spans, key=_link):
        run = list(group)
        if link and utf16_len(fmt.render(run)) > limit:
            run = [Span(span.text, tuple(tag for tag in span.tags if tag != link)) for span in run]
        out.extend(run)
    return out


def _units(spans: list[Span], fmt: Format) -> list[tuple[int, int]]:
    """Where the runs kept whole where they fit in a part are: code blocks, and links whose URL counts."""
    out, pos = [], 0
    for unit, group in groupby(spans, key=fmt.unit):
        size = sum(len(span.text) for span in group)
        if unit:
            out.append((pos, pos + size))
        pos += size
    return out


class _Meter:
    """The length the platform counts for any slice of the spans, in constant time.

    A slice costs its characters (escaped, where escapes count), each tag opened inside it (its opening and its
    closing), and the tags already open where it starts, which it reopens.
    """

    def __init__(self, spans: list[Span], fmt: Format) -> None:
        self.sums, self.opened, self.open = [0], [], []
        previous: tuple[Tag, ...] = ()
        for span in spans:
            opened = fmt.tag_cost(span.tags[common_prefix(previous, span.tags):])
            whole = fmt.tag_cost(span.tags)
            for i, char in enumerate(span.text):
                self.opened.append(0 if i else opened)
                self.open.append(whole)
                self.sums.append(self.sums[-1] + fmt.char_cost(char) + self.opened[-1])
            previous = span.tags

    def cost(self, start: int, end: int) -> int:
        """The length of the part text[start:end] as rendered."""
        return self.sums[end] - self.sums[start] - self.opened[start] + self.open[start]


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
