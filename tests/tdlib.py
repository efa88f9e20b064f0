"""TDLib's own parser of Telegram's HTML, run offline: the judge of every Telegram part the tests produce."""

from __future__ import annotations

import json
import threading

import tdjson

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 units of the text after entities are parsed

_lock = threading.Lock()  # the fake answers on many threads; one parse at a time


def _execute(request: dict) -> dict:
    with _lock:
        return json.loads(tdjson.td_execute(json.dumps(request).encode()))


_execute({"@type": "setLogVerbosityLevel", "new_verbosity_level": 0})  # TDLib logs to stderr otherwise


def parse_html(text: str) -> dict:
    """TDLib's formattedText ({"text": ..., "entities": [...]}) for `text` in HTML parse mode, or its error."""
    return _execute({"@type": "parseTextEntities", "text": text, "parse_mode": {"@type": "textParseModeHTML"}})


def refusal(text: str, parse_mode: str | None, empty: bool = False) -> str | None:
    """What sendMessage answers, as Telegram words it, when it refuses this text; None when it accepts it. `empty`: the
    text may be empty, as a draft's may (sendMessageDraft shows "Thinking..." then)."""
    if parse_mode == "HTML":
        parsed = parse_html(text)
        if parsed["@type"] == "error":
            return "Bad Request: c" + parsed["message"][1:]  # "Can't parse entities: ..." as the Bot API words it
        text = parsed["text"]
    if not text.strip() and not empty:
        return "Bad Request: message text is empty"
    if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
        return "Bad Request: message is too long"
    return None
