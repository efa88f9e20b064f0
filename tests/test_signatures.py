"""Our signature checks against the vendors' own: a request we accept is one their library accepts, and the reverse."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import flask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linebot.v3 import SignatureValidator
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from bot.config import Config
from bot.errors import Rejected
from handlers.platforms.base import Adapter
from handlers.platforms.generic import Generic
from handlers.platforms.line import Line
from handlers.platforms.slack import Slack
from handlers.platforms.twilio import Twilio
from tests.vendors import (
    LINE_SECRET,
    SLACK_SECRET,
    STANDARD_SECRET,
    TWILIO_TOKEN,
    line_signature,
    standard_headers,
    twilio_signature,
)

ENV = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET, "TWILIO_ACCOUNT_SID": "AC0123",
       "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": "t",
       "GENERIC_WEBHOOK_SECRET": STANDARD_SECRET}
ADAPTERS = {kind.name: kind(Config.from_env(ENV), redis=None) for kind in (Slack, Twilio, Line, Generic)}
BODY = json.dumps({"type": "event_callback", "event": {"text": "Grüße, 你好 😀"}}, ensure_ascii=False).encode()
OTHER = "another-secret-of-the-same-kind"


def accepts(adapter: Adapter, url: str, **request: Any) -> bool:
    """Whether the adapter's verify lets this request through."""
    with flask.Flask(__name__).test_request_context(url, method="POST", **request):
        try:
            adapter.verify(flask.request)
        except Rejected:
            return False
    return True


# Slack: slack_sdk's SignatureVerifier.is_valid decides.

def _slack_signed(body: bytes = BODY, age: int = 0, secret: str = SLACK_SECRET) -> tuple[bytes, str, str]:
    timestamp = str(int(time.time()) - age)
    return body, timestamp, SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)


SLACK = {  # (body, timestamp, signature) as sent
    "signed now": (_slack_signed, True),
    "signed 299 s ago": (lambda: _slack_signed(age=299), True),
    "signed 301 s ago": (lambda: _slack_signed(age=301), False),
    "signed 301 s ahead": (lambda: _slack_signed(age=-301), False),
    "another secret": (lambda: _slack_signed(secret=OTHER), False),
    "body changed after signing": (lambda: (BODY + b" ",) + _slack_signed()[1:], False),
    "signed for another timestamp": (lambda: (BODY, str(int(time.time()) - 1), _slack_signed()[2]), False),
}


@pytest.mark.parametrize("make, valid", SLACK.values(), ids=SLACK.keys())
def test_slack_agrees_with_slack_sdk(make: Callable[[], tuple[bytes, str, str]], valid: bool):
    body, timestamp, signature = make()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    theirs = SignatureVerifier(SLACK_SECRET).is_valid(body, timestamp, signature)
    assert accepts(ADAPTERS["slack"], "/webhooks/slack", data=body, headers=headers) == theirs == valid


def test_slack_without_a_signature_or_timestamp_is_refused_as_slack_sdk_refuses_it():
    body, timestamp, signature = _slack_signed()
    for headers in ({"X-Slack-Request-Timestamp": timestamp}, {"X-Slack-Signature": signature}):
        theirs = SignatureVerifier(SLACK_SECRET).is_valid_request(body, headers)
        assert accepts(ADAPTERS["slack"], "/webhooks/slack", data=body, headers=headers) == theirs is False


# Twilio: twilio-python's RequestValidator.validate decides (it tries the URL with and without its port).

FORM = MultiDict([("MessageSid", "SM1"), ("From", "+14155551234"), ("To", "+15557654321"), ("Body", "Grüße 😀"),
                  ("MediaContentType0", "image/png"), ("MediaContentType0", "image/jpeg")])
URL = "https://bot.example.com/webhooks/twilio?tenant=7"
TWILIO = {  # (URL requested, URL signed, form signed, token)
    "signed as requested": (URL, URL, FORM, TWILIO_TOKEN, True),
    "signed with the default port": (URL, URL.replace(".com", ".com:443"), FORM, TWILIO_TOKEN, True),
    "requested with the default port": (URL.replace(".com", ".com:443"), URL, FORM, TWILIO_TOKEN, True),
    "requested on another port": (URL.replace(".com", ".com:8443"), URL, FORM, TWILIO_TOKEN, True),  # any port goes
    "plain http signed": (URL, URL.replace("https", "http"), FORM, TWILIO_TOKEN, False),
    "query left out": (URL, URL.split("?")[0], FORM, TWILIO_TOKEN, False),
    "one value of a repeated field": (URL, URL, MultiDict(FORM.to_dict()), TWILIO_TOKEN, False),
    "another token": (URL, URL, FORM, OTHER, False),
}


@pytest.mark.parametrize("requested, signed_url, signed_form, token, valid", TWILIO.values(), ids=TWILIO.keys())
def test_twilio_agrees_with_request_validator(requested: str, signed_url: str, signed_form: MultiDict, token: str, valid: bool):
    signature = twilio_signature(signed_form, signed_url, token)
    theirs = RequestValidator(TWILIO_TOKEN).validate(requested, FORM, signature)
    ours = accepts(ADAPTERS["twilio"], requested, data=FORM, headers={"X-Twilio-Signature": signature})
    assert ours == theirs == valid


# LINE: line-bot-sdk's SignatureValidator decides.

LINE = {  # (body sent, signature)
    "signed": (lambda: (BODY, line_signature(BODY)), True),
    "another secret": (lambda: (BODY, line_signature(BODY, OTHER)), False),
    "body changed after signing": (lambda: (BODY.replace(b"Gr", b"gr"), line_signature(BODY)), False),
    "hex instead of base64": (lambda: (BODY, line_signature(BODY).encode().hex()), False),
}


@pytest.mark.parametrize("make, valid", LINE.values(), ids=LINE.keys())
def test_line_agrees_with_line_bot_sdk(make: Callable[[], tuple[bytes, str]], valid: bool):
    body, signature = make()
    theirs = SignatureValidator(LINE_SECRET).validate(body.decode(), signature)
    assert accepts(ADAPTERS["line"], "/webhooks/line", data=body, headers={"x-line-signature": signature}) == theirs == valid


# Standard Webhooks: the reference library's Webhook.verify decides.

def _rotated(headers: dict[str, str]) -> dict[str, str]:
    """Two keys in use: an old key's signature first, then the current one's."""
    old = standard_headers(BODY, headers["webhook-id"], int(headers["webhook-timestamp"]), OTHER.encode())
    return headers | {"webhook-signature": f"{old['webhook-signature']} {headers['webhook-signature']}"}


def _versioned(headers: dict[str, str], version: str) -> dict[str, str]:
    """The same signature, labelled as another scheme's."""
    return headers | {"webhook-signature": headers["webhook-signature"].replace("v1,", f"{version},")}


STANDARD = {  # (body sent, headers)
    "signed now": (lambda: (BODY, standard_headers(BODY)), True),
    "signed 299 s ago": (lambda: (BODY, standard_headers(BODY, timestamp=int(time.time()) - 299)), True),
    "signed 301 s ago": (lambda: (BODY, standard_headers(BODY, timestamp=int(time.time()) - 301)), False),
    "signed 301 s ahead": (lambda: (BODY, standard_headers(BODY, timestamp=int(time.time()) + 301)), False),
    "rotated keys": (lambda: (BODY, _rotated(standard_headers(BODY))), True),
    "another key": (lambda: (BODY, standard_headers(BODY, secret=OTHER.encode())), False),
    "body changed after signing": (lambda: (BODY + b"\n", standard_headers(BODY)), False),
    "id changed after signing": (lambda: (BODY, standard_headers(BODY) | {"webhook-id": "msg_other"}), False),
    "under another version": (lambda: (BODY, _versioned(standard_headers(BODY), "v1a")), False),
}


def _reference_accepts(body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(STANDARD_SECRET).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.mark.parametrize("make, valid", STANDARD.values(), ids=STANDARD.keys())
def test_standard_webhooks_agree_with_the_reference_library(make: Callable[[], tuple[bytes, dict[str, str]]], valid: bool):
    body, headers = make()
    ours = accepts(ADAPTERS["webhook"], "/webhooks/webhook", data=body, headers=headers)
    assert ours == _reference_accepts(body, headers) == valid


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_any_body_the_vendors_sign_is_accepted(text: str):
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    _, timestamp, signature = _slack_signed(body)
    assert accepts(ADAPTERS["slack"], "/", data=body, headers={"X-Slack-Request-Timestamp": timestamp,
                                                                 "X-Slack-Signature": signature})
    assert accepts(ADAPTERS["line"], "/", data=body, headers={"x-line-signature": line_signature(body)})
    assert accepts(ADAPTERS["webhook"], "/", data=body, headers=standard_headers(body))
    form = MultiDict([("Body", text), ("MessageSid", "SM1")])
    assert accepts(ADAPTERS["twilio"], "/webhooks/twilio", data=form,
                   headers={"X-Twilio-Signature": twilio_signature(form, "http://localhost/webhooks/twilio")})
