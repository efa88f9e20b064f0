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

from bot.spans import Span, Tag, common_prefix, to_spans
from bot.split import split_points


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
        return [Span(span.text, tuple(tag for tag in span.tags if tag[0] != "code")) if _linked(span) else span
                for span in spans]

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


def _linked(span: Span) -> bool:
    return any(tag[0] == "a" for tag in span.tags)


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


def _marks(marks: dict[str, tuple[str, str]], escape: Callable[[str], str] = lambda s: s, code_in_links: bool = True) -> Format:
    """A lightweight markup that wraps each formatted run in marks, such as *bold*; links become `text (url)`."""
    marks = {"a": ("", " ({0})"), **marks}

    def opening(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[0].format(*tag[1:])

    def closing(tag: Tag) -> str:
        return marks.get(tag[0], ("", ""))[1].format(*tag[1:])

    return Format(opening, closing, escape, counts_markup=True, code_in_links=code_in_links)


_CODE = {"code": ("`", "`"), "pre": ("```\n", "\n```")}

# Telegram's HTML parse mode; its length limit counts the text after entity parsing.
TELEGRAM_HTML = Format(_html_open, _html_close, lambda s: html.escape(s, quote=False))
# The web chat page shows the same small tag set, styled by its own CSS.
WEB_HTML = TELEGRAM_HTML
PLAIN = _marks({})
# Slack's mrkdwn: only &, < and > are escaped; a link's text shows no code marks, so they are left out.
SLACK_MRKDWN = _marks(
    {"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), "a": ("<{0}|", ">"), **_CODE},
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    code_in_links=False,
)
WHATSAPP = _marks({"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), **_CODE})
# Standard Markdown again, for systems that render it themselves.
MARKDOWN = _marks({"b": ("**", "**"), "i": ("_", "_"), "s": ("~~", "~~"), "a": ("[", "]({0})"),
                   "code": ("`", "`"), "pre": ("```{0}\n", "\n```")})


def render(markdown: str, fmt: Format, limit: int) -> list[Part]:
    """Render the LLM's Markdown for a platform, as parts no longer than `limit`."""
    spans = fmt.nest(to_spans(markdown))
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
