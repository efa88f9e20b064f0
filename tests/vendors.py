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
from typing import Any, Callable, Iterable

from linebot.v3 import SignatureValidator
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.conftest import TELEGRAM_SECRET
from tests.fakes import Call, Canned, FakeServer
from tests.helpers import signature as meta_signature

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


def slack_signature(raw: bytes, timestamp: str, secret: str = SLACK_SECRET) -> str:
    """X-Slack-Signature by slack_sdk, which signs text: bytes that are not UTF-8 are signed the same way here."""
    if _utf8(raw):
        return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=raw)
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()


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
    """x-line-signature as LINE computes it (the SDK only checks one): an HMAC the SDK's validator must accept.

    The SDK takes text: bytes that are not UTF-8 are signed the same way, unchecked.
    """
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    assert not _utf8(raw) or SignatureValidator(secret).validate(raw.decode(), signature)
    return signature


def post_line(client, raw: bytes, headers: dict[str, str] | None = None):
    """POST these exact bytes to /webhooks/line, signed with the channel secret unless `headers` say otherwise."""
    headers = {"x-line-signature": line_signature(raw)} if headers is None else headers
    return client.post("/webhooks/line", data=raw, content_type="application/json", headers=headers)


def standard_headers(raw: bytes, webhook_id: str | None = None, timestamp: int | None = None,
                     secret: str | bytes = STANDARD_SECRET) -> dict[str, str]:
    """The Standard Webhooks headers the reference library writes for `raw` (a bytes secret is the key itself).

    The library signs text: bytes that are not UTF-8 are signed here as the spec says, an HMAC of the raw bytes.
    """
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    if _utf8(raw):
        signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, timezone.utc), raw.decode())
    else:
        key = base64.b64decode(secret.removeprefix("whsec_")) if isinstance(secret, str) else secret
        signed = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
        signature = "v1," + base64.b64encode(signed).decode()
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def signed_headers(platform: str, raw: bytes, content_type: str = "application/json") -> dict[str, str]:
    """The headers that make `raw`, whatever it holds, a genuine delivery from `platform`, with the tests' secrets."""
    headers = {"Content-Type": content_type}
    if platform == "telegram":
        return headers | {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    if platform == "slack":
        ts = str(int(time.time()))
        return headers | {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(raw, ts)}
    if platform in ("whatsapp", "messenger"):
        return headers | {"X-Hub-Signature-256": meta_signature(raw)}
    if platform == "twilio":  # signed over the form as Flask reads it from these bytes
        form = Request(EnvironBuilder(method="POST", data=raw, content_type=content_type).get_environ()).form
        return headers | {"X-Twilio-Signature": twilio_signature(form)}
    if platform == "line":
        return headers | {"x-line-signature": line_signature(raw)}
    if platform == "webhook":
        return headers | standard_headers(raw)
    return headers  # the chat page: nothing to sign


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def standard_verified(calls: Iterable[Call], secret: str = STANDARD_SECRET) -> list[Any]:
    """The bodies of these requests, each verified by the reference library as a receiver would; raises if one fails."""
    return [Webhook(secret).verify(call.raw, call.headers) for call in calls]


class ToolEndpoint(FakeServer):
    """A business's tool endpoint, as the docs' order service is: it checks each call's Standard Webhooks signature
    with the reference library (401 when it does not hold), then answers `answer(data)`: by default the arguments back.
    Scripted answers (`then`) come after the check, and `verified` keeps the events that passed it."""

    def __init__(self, secret: str = STANDARD_SECRET) -> None:
        super().__init__()
        self.secret = secret
        self.verified: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], Canned] = lambda data: Canned(body={"echo": data["arguments"]})

    def respond(self, call: Call) -> Canned:
        try:
            event = Webhook(self.secret).verify(call.raw, call.headers)
        except WebhookVerificationError:
            return Canned(401, {"error": "bad signature"})
        with self.lock:
            self.verified.append(event)
        return self.next_canned() or self.answer(event["data"])

    def ids(self) -> list[str]:
        """The webhook-id of each call received, in order."""
        return [call.headers.get("webhook-id", "") for call in self.requests]
