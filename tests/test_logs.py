"""Log lines: a caller's text (a URL path, a header, an exception's message) cannot forge a line or a terminal sequence."""

from __future__ import annotations

import json
import logging

import pytest

from bot.ops.logs import JsonFormatter, TextFormatter

FORGED = "/webhooks/x\r\n2026-01-01 00:00:00,000 ERROR bot.turns: forged\x1b[2J\x85\u2028end"


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("handlers.webhooks", logging.INFO, "", 0, message, args, exc_info)


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
def test_a_record_with_control_characters_is_one_line_without_them(formatter):
    line = formatter.format(record("request rejected: unknown platform %s", FORGED))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x85" not in line and "\u2028" not in line
    assert "forged" in line


def test_text_lines_show_the_escapes():
    line = TextFormatter().format(record("path %s", FORGED))
    assert line.endswith(r"path /webhooks/x\r\n2026-01-01 00:00:00,000 ERROR bot.turns: forged\x1b[2J\x85\u2028end")


def test_json_lines_keep_the_text_itself():
    assert json.loads(JsonFormatter().format(record("path %s", FORGED)))["message"] == f"path {FORGED}"


def test_a_traceback_stays_readable_and_no_line_of_it_starts_at_the_margin():
    try:
        raise ValueError(f"bad path {FORGED}")
    except ValueError as error:
        lines = TextFormatter().format(record("turn failed", exc_info=(type(error), error, error.__traceback__))).split("\n")
    assert lines[0].endswith("turn failed") and lines[1] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") and "\r" not in line and "\x1b" not in line for line in lines[1:])
    assert "    ValueError: bad path /webhooks/x\\r" in lines
