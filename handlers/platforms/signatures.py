"""Request signatures: HMACs over raw bytes, compared in constant time, and the Standard Webhooks scheme."""

from __future__ import annotations

import hmac
import time

from flask import Request

from bot.errors import Rejected
from bot.signing import digest, standard_key, standard_sign  # noqa: F401  (re-exported for the adapters)

REPLAY_WINDOW = 300  # seconds: Slack's and Standard Webhooks' tolerance for a signed timestamp


def require(header: str, given: str | None, expected: str) -> None:
    """Refuse with 401 when the signature header is missing, 403 when it does not match."""
    if not given:
        raise Rejected(f"missing {header}", 401)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Rejected(f"wrong {header}", 403)


def require_bearer(request: Request, token: str) -> None:
    """Refuse a request whose `Authorization: Bearer <token>` is missing (401) or wrong (403)."""
    given = request.headers.get("Authorization", "")
    require("Authorization bearer token", given.removeprefix("Bearer ") or None, token)


def require_fresh(header: str, timestamp: str | None, now: float | None = None, per_second: int = 1) -> None:
    """Refuse a signed timestamp (in seconds, or `per_second` parts of one) that is missing, malformed, or further than
    5 minutes from now."""
    try:
        age = abs((now or time.time()) - int(timestamp or "") / per_second)
    except (ValueError, OverflowError):  # OverflowError: more digits than a float holds
        raise Rejected(f"missing or malformed {header}", 401) from None
    if age > REPLAY_WINDOW:
        raise Rejected(f"stale {header}: more than {REPLAY_WINDOW} s from now", 403)


def standard_verify(key: bytes, headers: dict[str, str | None], body: bytes, now: float | None = None) -> None:
    """Check `webhook-id`, `webhook-timestamp` and any `v1` entry of `webhook-signature` (key rotation)."""
    webhook_id, timestamp, signatures = (headers.get(f"webhook-{name}") for name in ("id", "timestamp", "signature"))
    if not (webhook_id and timestamp and signatures):
        raise Rejected("missing webhook-id, webhook-timestamp or webhook-signature", 401)
    require_fresh("webhook-timestamp", timestamp, now)
    expected = standard_sign(key, webhook_id, int(timestamp), body).encode()
    if not any(hmac.compare_digest(expected, entry.encode()) for entry in signatures.split() if entry.startswith("v1,")):
        raise Rejected("wrong webhook-signature", 403)
