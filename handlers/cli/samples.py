"""Correctly signed sample events, one per platform, for `flask send-sample`: test a running instance
with a single event before pointing a real platform at it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Callable
from urllib.parse import urlencode

import click
import requests
from flask.cli import with_appcontext

from bot.config import Config
from bot.runtime import app_runtime
from handlers.platforms import line, signatures, twilio

Sample = tuple[dict[str, str], bytes]  # headers, body


def _telegram(config: Config, url: str, text: str) -> Sample:
    update = {"update_id": int(time.time()), "message": {
        "message_id": 1, "from": {"id": 42, "is_bot": False, "first_name": "Sample"},
        "chat": {"id": 42, "type": "private"}, "date": int(time.time()), "text": text}}
    return _json({"X-Telegram-Bot-Api-Secret-Token": config.setting("TELEGRAM_WEBHOOK_SECRET")}, update)


def _slack(config: Config, url: str, text: str) -> Sample:
    event = {"type": "event_callback", "team_id": "T0SAMPLE", "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event": {
        "type": "message", "channel_type": "im", "channel": "D0SAMPLE", "user": "U0SAMPLE", "text": text,
        "ts": f"{time.time():.6f}"}}
    body, ts = json.dumps(event).encode(), str(int(time.time()))
    secret = config.setting("SLACK_SIGNING_SECRET").encode()
    signature = "v0=" + signatures.digest(secret, f"v0:{ts}:".encode() + body).hex()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}, body


def _meta(prefix: str, payload: dict) -> Callable[[Config, str, str], Sample]:
    def build(config: Config, url: str, text: str) -> Sample:
        body = json.dumps(payload).replace("SAMPLE_TEXT", text).replace("SAMPLE_ID", uuid.uuid4().hex).encode()
        signature = "sha256=" + signatures.digest(config.setting(f"{prefix}_APP_SECRET").encode(), body).hex()
        return {"Content-Type": "application/json", "X-Hub-Signature-256": signature}, body
    return build


_WHATSAPP = {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"phone_number_id": "100000000000000"},
    "messages": [{"from": "15550000000", "id": "wamid.SAMPLE_ID", "timestamp": "0", "type": "text",
                  "text": {"body": "SAMPLE_TEXT"}}]}}]}]}
_MESSENGER = {"object": "page", "entry": [{"id": "PAGE", "messaging": [{
    "sender": {"id": "PSID0SAMPLE"}, "recipient": {"id": "PAGE"}, "message": {"mid": "m_SAMPLE_ID", "text": "SAMPLE_TEXT"}}]}]}


def _twilio(config: Config, url: str, text: str) -> Sample:
    form = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+15550000000", "To": "+15551111111", "Body": text, "NumMedia": "0"}
    signature = twilio.sign(config.setting("TWILIO_AUTH_TOKEN"), url, form.items())
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}, urlencode(form).encode()


def _line(config: Config, url: str, text: str) -> Sample:
    event = {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000), "webhookEventId": uuid.uuid4().hex,
             "source": {"type": "user", "userId": "U0SAMPLE"}, "message": {"id": "1", "type": "text", "text": text}}
    body = json.dumps({"destination": "U0BOT", "events": [event]}).encode()
    return {"Content-Type": "application/json", "x-line-signature": line.signature(config.setting("LINE_CHANNEL_SECRET"), body)}, body


def _generic(config: Config, url: str, text: str) -> Sample:
    body = json.dumps({"conversation_id": "sample", "user_id": "sample-user", "text": text}).encode()
    webhook_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    key = signatures.standard_key(config.setting("GENERIC_WEBHOOK_SECRET"))
    return {"Content-Type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(now),
            "webhook-signature": signatures.standard_sign(key, webhook_id, now, body)}, body


def _webchat(config: Config, url: str, text: str) -> Sample:
    return _json({}, {"session": "sample-session", "message_id": uuid.uuid4().hex, "text": text})


def _json(headers: dict[str, str], payload: dict) -> Sample:
    return {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


BUILDERS: dict[str, Callable[[Config, str, str], Sample]] = {
    "telegram": _telegram, "slack": _slack, "whatsapp": _meta("WHATSAPP", _WHATSAPP),
    "messenger": _meta("MESSENGER", _MESSENGER), "twilio": _twilio, "line": _line, "webhook": _generic, "webchat": _webchat,
}


def sample(platform: str, config: Config, url: str, text: str) -> Sample:
    """A signed sample event for `platform`, to POST to `url` (Twilio signs the URL itself)."""
    return BUILDERS[platform](config, url, text)


@click.command("send-sample")
@with_appcontext
@click.argument("platform")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running instance.")
@click.option("--text", default="Hello from a sample event!", show_default=True)
def send_sample(platform: str, url: str, text: str) -> None:
    """POST one correctly signed sample event for PLATFORM to a running instance, and show its answer."""
    rt = app_runtime()
    if platform not in rt.channels:
        raise click.ClickException(f"{platform} is not enabled here: set its variables first")
    target = f"{url.rstrip('/')}/webhooks/{platform}"
    headers, body = sample(platform, rt.config, target, text)
    response = requests.post(target, data=body, headers=headers, timeout=15)
    click.echo(f"{response.status_code} {response.text.strip()[:300]}")
    if not response.ok:
        raise SystemExit(1)
