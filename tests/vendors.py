"""Webhook requests signed as each platform signs them, with the vendors' own libraries, and the
bot's outbound callbacks checked the way a receiver using those libraries checks them.

One helper per platform. Meta publishes no Python SDK: its signature is in tests/helpers.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from linebot.v3 import SignatureValidator
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from tests.fakes import Call

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # docs/platforms.md 10.1
TWILIO_TOKEN = "twilio-auth-token"
TWILIO_URL = "http://localhost/webhooks/twilio"  # the URL Flask's test client requests
LINE_SECRET = "line-test-channel-secret"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # docs/platforms.md 10.2


def post_slack(client, payload: Any, *, secret: str = SLACK_SECRET, timestamp: int | None = None,
               headers: dict[str, str] | None = None):
    """POST to /webhooks/slack as Slack does: slack_sdk's signature over the exact bytes sent."""
    raw = json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=raw)
    sent = {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts, **(headers or {})}
    return client.post("/webhooks/slack", data=raw, content_type="application/json", headers=sent)


def twilio_signature(form: dict[str, Any], url: str = TWILIO_URL, token: str = TWILIO_TOKEN) -> str:
    """The X-Twilio-Signature twilio-python computes for this form POSTed to `url` (list values: a repeated field)."""
    return RequestValidator(token).compute_signature(url, MultiDict(form))


def post_twilio(client, form: dict[str, Any], *, signature: str | None = "", url: str = TWILIO_URL,
                headers: dict[str, str] | None = None, path: str = "/webhooks/twilio"):
    """POST a form as Twilio does, signed for `url` unless a signature (None: no header) is given."""
    if signature == "":
        signature = twilio_signature(form, url)
    signed = {"X-Twilio-Signature": signature} if signature is not None else {}
    return client.post(path, data=form, headers={**signed, **(headers or {})})


def line_signature(raw: bytes, secret: str = LINE_SECRET) -> str:
    """x-line-signature as LINE computes it (the SDK only checks one): an HMAC the SDK's validator must accept."""
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    assert SignatureValidator(secret).validate(raw.decode(), signature)
    return signature


def post_line(client, raw: bytes, headers: dict[str, str] | None = None):
    """POST these exact bytes to /webhooks/line, signed with the channel secret unless `headers` say otherwise."""
    headers = {"x-line-signature": line_signature(raw)} if headers is None else headers
    return client.post("/webhooks/line", data=raw, content_type="application/json", headers=headers)


def standard_headers(raw: bytes, webhook_id: str | None = None, timestamp: int | None = None,
                     secret: str | bytes = STANDARD_SECRET) -> dict[str, str]:
    """The Standard Webhooks headers the reference library writes for `raw` (a bytes secret is the key itself)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, timezone.utc), raw.decode())
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def standard_verified(calls: Iterable[Call], secret: str = STANDARD_SECRET) -> list[Any]:
    """The bodies of these requests, each verified by the reference library as a receiver would; raises if one fails."""
    return [Webhook(secret).verify(call.raw, call.headers) for call in calls]
