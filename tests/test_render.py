"""Markdown to platform text, and splitting at a platform's limit."""

from __future__ import annotations

import html
import re

from bot.render.format import MARKDOWN, PLAIN, Format, render, utf16_len
from bot.render.spans import to_spans
from handlers.platforms.slack import Slack
from handlers.platforms.telegram import Telegram
from handlers.platforms.whatsapp import WhatsApp

TELEGRAM_HTML, SLACK_MRKDWN, WHATSAPP = Telegram.format, Slack.format, WhatsApp.format


def telegram(markdown: str, limit: int = 4096) -> list[str]:
    return [part.text for part in render(markdown, TELEGRAM_HTML, limit)]


def visible(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_markdown_becomes_telegram_html():
    markdown = "# Title\n\n**bold _both_** `x<y` [site](https://e.com/?a=1&b=2) ~~old~~ 5 > 3 & <b>"
    assert telegram(markdown) == [
        '<b>Title</b>\n\n<b>bold <i>both</i></b> <code>x&lt;y</code> <a href="https://e.com/?a=1&amp;b=2">site</a> '
        "<s>old</s> 5 &gt; 3 &amp; &lt;b&gt;"
    ]


def test_lists_quotes_and_code_blocks():
    markdown = "1. one\n2. two\n   - inner\n\n> said\n\n```py\nif a < b:\n    pass\n```"
    assert telegram(markdown) == [
        "1. one\n2. two\n  • inner\n\n<blockquote>said</blockquote>\n\n"
        '<pre><code class="language-py">if a &lt; b:\n    pass</code></pre>'
    ]


def test_code_inside_bold_keeps_only_the_code_entity():
    assert telegram("**see `f()` now**") == ["<b>see </b><code>f()</code><b> now</b>"]


def test_parts_break_between_paragraphs_before_anything_else():
    first, second = "a " * 30, "b " * 30
    parts = telegram(f"{first}\n\n{second}", limit=100)
    assert parts == [first.strip(), second.strip()]


def test_a_long_paragraph_breaks_between_words():
    words = [f"w{i}" for i in range(400)]
    parts = telegram(" ".join(words), limit=100)
    assert all(utf16_len(part) <= 100 for part in parts)
    assert " ".join(parts).split() == words


def test_formatting_is_closed_and_reopened_across_a_split():
    parts = telegram("**" + " ".join(["bold"] * 50) + "**", limit=60)
    assert len(parts) > 1
    assert all(part.startswith("<b>") and part.endswith("</b>") for part in parts)


def test_a_code_block_moves_whole_to_the_next_part_when_it_fits_there():
    code = "\n".join(f"line {i}" for i in range(8))
    parts = telegram(f"{'intro ' * 10}\n\n```\n{code}\n```", limit=80)
    assert parts[1] == f"<pre>{code}</pre>"


def test_a_code_block_longer_than_the_limit_splits_at_lines_and_stays_code():
    code = "\n".join(f"    value_{i} = {i}" for i in range(30))
    parts = telegram(f"```python\n{code}\n```", limit=120)
    assert len(parts) > 1
    assert all(p.startswith('<pre><code class="language-python">') and p.endswith("</code></pre>") for p in parts)
    assert "\n".join(visible(p) for p in parts) == code  # indentation kept, no line cut


def test_the_limit_counts_utf16_units_and_escaped_characters_once():
    parts = telegram("😀 " * 100 + "& " * 100, limit=50)
    assert all(utf16_len(visible(part)) <= 50 for part in parts)
    assert "".join(visible(p) for p in parts).count("😀") == 100


def test_a_word_longer_than_the_limit_is_cut_hard():
    parts = telegram("x" * 250, limit=100)
    assert [len(p) for p in parts] == [100, 100, 50]


def test_plain_text_counts_link_targets_against_the_limit():
    parts = [p.text for p in render("[docs](https://example.com/a/long/path) and more words here", PLAIN, 40)]
    assert parts[0] == "docs (https://example.com/a/long/path)"
    assert all(utf16_len(p) <= 40 for p in parts)


def test_every_part_has_a_plain_twin():
    (part,) = render("**hi** <there>", TELEGRAM_HTML, 4096)
    assert (part.text, part.plain) == ("<b>hi</b> &lt;there&gt;", "hi <there>")


def test_blank_replies_render_to_nothing():
    assert render("  \n\n ", TELEGRAM_HTML, 4096) == []


def test_code_as_link_text_keeps_its_link():
    markdown = "call [`foo()`](https://e.com/foo) now"
    assert telegram(markdown) == ['call <a href="https://e.com/foo"><code>foo()</code></a> now']
    # no code in a link's text
    assert [p.text for p in render(markdown, SLACK_MRKDWN, 4000)] == ["call <https://e.com/foo|foo()> now"]
    assert [p.text for p in render(markdown, WHATSAPP, 4096)] == ["call `foo()` (https://e.com/foo) now"]
    assert [p.text for p in render(markdown, MARKDOWN, 4096)] == ["call [`foo()`](https://e.com/foo) now"]


LONG_URL = "https://example.com/" + "x" * 120


def twilio(markdown: str, limit: int = 1600) -> list[str]:
    return [part.text for part in render(markdown, PLAIN, limit)]


def needed(markdown: str, fmt: Format, limit: int) -> int:
    """The fewest parts the reply's rendered length allows, plus the one the splitting may add."""
    return -(-utf16_len(fmt.render(fmt.nest(to_spans(markdown)))) // limit) + 1


def test_a_list_of_long_links_takes_the_parts_its_length_needs():
    markdown = "\n".join(f"- [Document number {i} about things]({LONG_URL}/{i})" for i in range(17))
    parts = twilio(markdown)
    assert 1 < len(parts) <= needed(markdown, PLAIN, 1600)
    assert all(utf16_len(part) <= 1600 for part in parts)
    assert "\n".join(parts).count(" (https://") == 17  # every link whole, with its URL


def test_a_long_slack_answer_takes_the_parts_its_length_needs():
    paragraph = " ".join(f"see <{i}> & [link {i}](https://e.com/{i}?a=1&b=2) or `code {i}`, **bold** _it_" for i in range(8))
    markdown = "\n\n".join([paragraph] * 40)
    parts = [p.text for p in render(markdown, SLACK_MRKDWN, 4000)]
    assert len(parts) <= needed(markdown, SLACK_MRKDWN, 4000)
    assert all(2000 <= utf16_len(part) <= 4000 for part in parts[:-1])


def test_a_link_that_fits_no_part_loses_its_url_before_its_text_is_cut():
    assert twilio(f"intro words here [the docs]({LONG_URL})", limit=60) == ["intro words here the docs"]
    parts = twilio(f"[{'word ' * 30}]({LONG_URL})", limit=60)
    assert all("https" not in part and utf16_len(part) <= 60 for part in parts)
    assert " ".join(parts).split() == ["word"] * 30


def test_a_link_that_fits_a_part_moves_whole_to_the_next():
    link = f"[the docs](https://example.com/{'y' * 60})"
    parts = twilio(f"{'intro ' * 5}{link} and more", limit=100)
    assert parts == ["intro " * 4 + "intro", f"the docs (https://example.com/{'y' * 60}) and more"]


def test_a_bullet_stays_with_the_link_that_moves_on():
    url = f"https://example.com/{'b' * 60}"
    assert twilio(f"- short\n- [second link]({url})", limit=100) == ["• short", f"• second link ({url})"]


def test_a_code_block_that_begins_a_part_keeps_its_indentation():
    code = "    " + "x" * 117  # one unit longer than the limit
    parts = telegram(f"{'intro ' * 10}\n\n```\n{code}\n```", limit=120)
    assert parts[0] == ("intro " * 10).strip()
    assert "".join(visible(part) for part in parts[1:]) == code


def test_a_hard_cut_keeps_emoji_sequences_and_accents_whole():
    family, accented = "👨‍👩‍👧‍👦", "e\u0301"
    assert {part.replace(family, "") for part in telegram(family * 30, limit=50)} == {""}
    assert {part.replace(accented, "") for part in telegram(accented * 90, limit=25)} == {""}
