"""Properties of every reply, in every format, at each platform's real limit and at small ones: link-heavy,
emoji, CJK and code-heavy Markdown, as LLMs write it."""

from __future__ import annotations

import re
from itertools import count, groupby

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.format import MARKDOWN, PLAIN, Format, Part, chunks, render, utf16_len
from bot.render.spans import Span, Tag, to_spans
from handlers.platforms.generic import Generic
from handlers.platforms.line import Line
from handlers.platforms.messenger import Messenger
from handlers.platforms.slack import Slack
from handlers.platforms.telegram import Telegram
from handlers.platforms.twilio import Twilio
from handlers.platforms.webchat import Webchat
from handlers.platforms.whatsapp import WhatsApp
from tests import tdlib

TELEGRAM_HTML, SLACK_MRKDWN, WHATSAPP = Telegram.format, Slack.format, WhatsApp.format
PLATFORMS = [(a.format, a.max_text) for a in (Telegram, Slack, WhatsApp, Messenger, Twilio, Line, Generic, Webchat)]
FORMATS = {"html": TELEGRAM_HTML, "plain": PLAIN, "slack": SLACK_MRKDWN, "whatsapp": WHATSAPP, "markdown": MARKDOWN}
CASES = PLATFORMS + [(fmt, limit) for fmt in FORMATS.values() for limit in (120, 300)]
CASE_IDS = [next(name for name, f in FORMATS.items() if f is fmt) + f"-{limit}" for fmt, limit in CASES]
every_case = pytest.mark.parametrize(("fmt", "limit"), CASES, ids=CASE_IDS)

# Deterministic: the same examples on every run and machine, and no example database to carry between runs.
PROPERTIES = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ascii_words = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
emoji = st.sampled_from(["😀", "👨‍👩‍👧‍👦", "👍🏽", "🇯🇵", "❤️", "🧑🏻‍💻", "e\u0301"])
cjk = st.text("你好世界中文字符こんにちは한국어漢字", min_size=1, max_size=12)
specials = st.sampled_from(["&", "<b>", "a>b", "x<y", "*", "_", "`", "~", "|", "(1)", "[x]"])
words = st.one_of(ascii_words, ascii_words, emoji, cjk, specials, st.builds("".join, st.lists(emoji, min_size=2, max_size=6)))
urls = st.builds(lambda path, n: f"https://example.com/{path}?n={n}", st.text("abcxyz/-", max_size=80), st.integers(0, 999))


def phrase(max_size: int = 8) -> st.SearchStrategy[str]:
    return st.lists(words, min_size=1, max_size=max_size).map(" ".join)


inline = st.one_of(
    words, words, words,
    st.builds(lambda text, url: f"[{text}]({url})", phrase(4), urls),
    st.builds(lambda text, url: f"[`{text}`]({url})", ascii_words, urls),
    st.builds(lambda text: f"`{text}`", phrase(3)),
    st.builds(lambda text: f"**{text}**", phrase(4)),
    st.builds(lambda text: f"_{text}_", phrase(4)),
)
paragraph = st.lists(inline, min_size=1, max_size=30).map(" ".join)
code_block = st.builds(lambda lang, lines: f"```{lang}\n" + "\n".join(lines) + "\n```",
                       st.sampled_from(["", "python"]), st.lists(phrase(6).map(lambda s: "    " + s), min_size=1, max_size=12))
link_list = st.lists(st.builds(lambda text, url: f"- [{text}]({url})", phrase(5), urls), min_size=1, max_size=8).map("\n".join)
blocks = st.one_of(paragraph, paragraph, code_block, link_list, paragraph.map(lambda p: "> " + p),
                   phrase(4).map(lambda p: "## " + p))


@st.composite
def replies(draw: st.DrawFn, limit: int) -> str:
    """Generated blocks, repeated up to a few times the limit: long enough to need several parts."""
    parts = draw(st.lists(blocks, min_size=1, max_size=6))
    target, out = limit * draw(st.floats(0.2, 3.5)), []
    while sum(len(block) for block in out) < target:
        out.extend(parts)
    numbers = count()
    return re.sub(r"\?n=\d+", lambda _: f"?n={next(numbers)}", "\n\n".join(out))  # every link its own URL


def measure(fmt: Format, limit: int, part: Part) -> int:
    """The part's length as its platform counts it; a Telegram part must parse, with TDLib, to exactly its plain text."""
    if fmt is TELEGRAM_HTML and limit <= tdlib.MAX_TEXT:
        parsed = tdlib.parse_html(part.text)
        assert parsed == {**parsed, "@type": "formattedText", "text": part.plain}, parsed
    return utf16_len(part.plain if fmt is TELEGRAM_HTML else part.text)


def whole_length(fmt: Format, spans: list[Span]) -> int:
    """The reply's length as its platform would count it in one message."""
    return utf16_len(fmt.render(spans) if fmt.counts_markup else "".join(span.text for span in spans))


def link(span: Span) -> Tag | None:
    return next((tag for tag in span.tags if tag[0] == "a"), None)


def units(fmt: Format, spans: list[Span]) -> dict[int, int]:
    """Where each unit of the reply (a code block, a link whose URL counts) starts in its text, and where it ends."""
    out, pos = {}, 0
    for unit, group in groupby(spans, key=fmt.unit):
        size = sum(len(span.text) for span in group)
        if unit:
            out[pos] = pos + size
        pos += size
    return out


def located(text: str, pieces: list[list[Span]]) -> list[tuple[int, int]]:
    """Where each part's text begins and ends in the reply's."""
    out, pos = [], 0
    for piece in pieces:
        plain = "".join(span.text for span in piece)
        start = text.index(plain, pos)
        out.append((start, start + len(plain)))
        pos = start + len(plain)
    return out


def cost(fmt: Format, spans: list[Span], start: int, end: int) -> int:
    """The length of the reply's text[start:end] as one part."""
    out, pos = [], 0
    for span in spans:
        a, b = max(start, pos), min(end, pos + len(span.text))
        if a < b:
            out.append(Span(span.text[a - pos:b - pos], span.tags))
        pos += len(span.text)
    return whole_length(fmt, out)


def moved_on(fmt: Format, limit: int, spans: list[Span], ends: dict[int, int], start: int, end: int) -> bool:
    """Whether the part text[start:end] ends early because the next unit would have fit from its start but not whole."""
    following = min((at for at in ends if at >= end), default=None)
    return following is not None and cost(fmt, spans, start, following) <= limit < cost(fmt, spans, start, ends[following])


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@every_case
@PROPERTIES
@given(data=st.data())
def test_every_reply_splits_into_few_full_parts_that_fit(fmt: Format, limit: int, data: st.DataObject):
    markdown = data.draw(replies(limit))
    spans = fmt.nest(to_spans(markdown))
    parts, pieces = render(markdown, fmt, limit), chunks(markdown, fmt, limit)
    sizes = [measure(fmt, limit, part) for part in parts]

    assert all(size <= limit for size in sizes)
    assert all(part.plain.strip() for part in parts)
    assert no_space("".join(part.plain for part in parts)) == no_space("".join(span.text for span in spans))

    text, ends = "".join(span.text for span in spans), units(fmt, spans)
    short = [size for size, (start, end) in zip(sizes, located(text, pieces)[:-1])
             if not moved_on(fmt, limit, spans, ends, start, end)]
    assert all(size >= limit / 2 for size in short)
    moved = len(parts) - 1 - len(short)  # parts a unit that did not fit ended early
    assert len(parts) <= -(-whole_length(fmt, spans) // limit) + 1 + moved


@every_case
@PROPERTIES
@given(data=st.data())
def test_a_link_keeps_its_url_unless_it_fits_no_part_and_is_never_cut_with_it(fmt: Format, limit: int, data: st.DataObject):
    markdown = data.draw(replies(limit))
    pieces = chunks(markdown, fmt, limit)
    runs = [(tag, list(group)) for tag, group in groupby(fmt.nest(to_spans(markdown)), key=link) if tag]
    kept = [tag for piece in pieces for tag, _ in groupby(piece, key=link) if tag]
    if fmt.counts_markup:
        assert kept == [tag for tag, run in runs if utf16_len(fmt.render(run)) <= limit]
        assert all(link(a[-1]) is None or link(a[-1]) != link(b[0]) for a, b in zip(pieces, pieces[1:]))
    else:  # Telegram counts no markup: a link is never dropped, and a long one may continue in the next part
        assert [tag for tag, _ in groupby(kept)] == [tag for tag, _ in groupby(tag for tag, _ in runs)]
