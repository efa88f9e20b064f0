"""What a request body may be: at most MAX_BODY_BYTES (or its route's own limit) however it is framed, and JSON
that no later step chokes on.

Refused with a reason (400, 413) here, at the door, rather than crashing a turn later: a lone surrogate ("\\ud800")
cannot be encoded for Redis or the LLM, and deep nesting overflows every recursive step that reads it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, TypeVar

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from bot.errors import Rejected

View = TypeVar("View", bound=Callable[..., Any])

MAX_DEPTH = 64  # levels of nesting; the platforms' deepest payloads (Slack's rich-text blocks) use about a dozen


class StrictJSON(DefaultJSONProvider):
    """Flask's JSON, refusing (400, saying why) nesting past MAX_DEPTH, lone surrogates, NaN and infinite numbers."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document, or raise Rejected; plain syntax errors stay ValueError, as Flask expects."""
        try:
            value = json.loads(s, parse_constant=_constant, parse_float=_finite, **kwargs)
        except RecursionError:
            raise Rejected(f"the JSON body nests deeper than {MAX_DEPTH} levels") from None
        _check(value)
        return value


def install(app: Flask) -> None:
    """Parse the app's JSON strictly, and refuse a body over its limit however it is framed."""
    app.json = StrictJSON(app)
    app.before_request(_whole_body)


def limited(setting: str, limit: Callable[[], int]) -> Callable[[View], View]:
    """Give a route its own body limit, `limit()` bytes (the setting `setting`), in place of MAX_BODY_BYTES."""
    def mark(view: View) -> View:
        view.body_limit = (setting, limit)  # type: ignore[attr-defined]
        return view
    return mark


def _whole_body() -> None:
    """Refuse a body past the limit with 413, saying which; read one sent without Content-Length (chunked) at once.

    Werkzeug stops reading such a body at MAX_CONTENT_LENGTH and hands on the part it read as if it were all.
    """
    setting, limit = _limit()
    if limit is None:
        return
    if request.content_length is None:
        over = len(request.get_data()) >= limit and bool(request.input_stream.read(1))
    else:
        over = request.content_length > limit
    if over:
        raise RequestEntityTooLarge(f"The body is larger than the {limit} bytes {setting} allows.")


def _limit() -> tuple[str, int | None]:
    """The request's body limit, and the setting it comes from: the route's own (`limited`), else MAX_BODY_BYTES."""
    own = getattr(current_app.view_functions.get(request.endpoint or ""), "body_limit", None)
    if own is None:
        return "MAX_BODY_BYTES", request.max_content_length
    setting, limit = own
    request.max_content_length = limit()  # Werkzeug's own check, when the view reads the body, uses it too
    return setting, request.max_content_length


def _check(value: Any) -> None:
    """Walk the document without recursion: refuse it past MAX_DEPTH, or with a string that is not valid Unicode."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _unicode(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise Rejected(f"the JSON body nests deeper than {MAX_DEPTH} levels")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _unicode(text: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as error:
            raise Rejected(f"the JSON body is not valid Unicode: a lone surrogate ({text[error.start]!r}) in a string") from None


def _constant(name: str) -> None:
    raise Rejected(f"the JSON body has {name}, which JSON does not allow")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise Rejected(f"the JSON body has a number too large: {literal[:20]}")
    return number
