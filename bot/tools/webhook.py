"""A webhook tool's call: one POST of the call, signed as Standard Webhooks, to a URL the allowlist lets through."""

from __future__ import annotations

import json
import time
from typing import Any, Mapping, Protocol

import requests
from urllib3.exceptions import HTTPError

from bot import times
from bot.errors import Permanent, Transient, Unconfirmed
from bot.retry import retry_after
from bot.signing import standard_key, standard_sign
from bot.tools.files import Tool, expand, unset

RESULT_BYTES = 16_000  # the most of an answer the model reads: an order's details fit, a database dump does not


class HTTP(Protocol):
    """An HTTP client that refuses, as it connects, an address the allowlist does not let through."""

    def post(self, url: str, **kwargs: Any) -> requests.Response: ...


class Guard(Protocol):
    """The allowlist tools are held to (TOOLS_ALLOWLIST)."""

    def refusal(self, url: str) -> str | None: ...


class Webhooks:
    """Calls webhook tools: the URL and headers filled in from TOOL_ variables, checked, signed, POSTed."""

    def __init__(self, http: HTTP, guard: Guard, secret: str, env: Mapping[str, str], timeout: float) -> None:
        self.http, self.guard, self.secret, self.env, self.timeout = http, guard, secret, env, timeout

    def call(self, tool: Tool, arguments: dict[str, Any], call_id: str, context: dict[str, str]) -> str:
        """The tool's answer, cut to RESULT_BYTES; raises Transient, Unconfirmed (sent, never answered) or Permanent."""
        missing = unset(tool.url + "".join(tool.headers.values()), self.env)
        if missing or not self.secret:
            raise Permanent(f"it is not configured: set {', '.join(missing) or 'TOOLS_WEBHOOK_SECRET'}", kind="config")
        url = expand(tool.url, self.env)
        if reason := self.guard.refusal(url):
            raise Permanent(reason, kind="refused")
        body = json.dumps({"type": "tool.call", "timestamp": times.iso(),
                           "data": {"tool": tool.name, "arguments": arguments, "call_id": call_id, **context}}).encode()
        headers = {name: expand(value, self.env) for name, value in tool.headers.items()}
        now = int(time.time())
        headers.update({"content-type": "application/json", "webhook-id": call_id, "webhook-timestamp": str(now),
                        "webhook-signature": standard_sign(standard_key(self.secret), call_id, now, body)})
        with self.http.post(url, data=body, headers=headers, timeout=tool.timeout or self.timeout,
                            allow_redirects=False, stream=True) as response:
            return _answer(response)


def _answer(response: requests.Response) -> str:
    """A 2xx answer's text, bounded; any other answer as an error, Transient when worth retrying."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            raw = response.raw.read(RESULT_BYTES + 1, decode_content=True)
        except (OSError, HTTPError):  # it began to answer, and stopped: it acted, or not
            raise Unconfirmed("it stopped answering halfway") from None
        text = raw[:RESULT_BYTES].decode("utf-8", "replace")
        return (text + " [cut: the tool said more]" if len(raw) > RESULT_BYTES else text) or "(the tool returned nothing)"
    if status == 429 or status >= 500:
        raise Transient(f"it answered {status}", retry_after(response.headers.get("Retry-After")),
                        kind="rate_limited" if status == 429 else "server")
    if 300 <= status < 400:
        raise Permanent(f"it answered a redirect ({status}), which tool calls do not follow: set the final URL")
    raise Permanent(f"it answered {status}")
