"""Any system, through signed generic webhooks: Standard Webhooks in, signed callbacks out (docs/platforms.md section 9)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import requests
from flask import Request
from marshmallow import ValidationError, fields, validate, validates_schema
from redis import Redis

from bot import times
from bot.config import Config, ConfigError
from bot.errors import BotError, Permanent, Rejected
from bot.media.refs import Media, kind_of
from bot.messages import AfterTimeout, Draft, IncomingMessage, Reply
from bot.render.format import MARKDOWN
from handlers.platforms import http, signatures
from handlers.platforms.allowlist import Allowlist
from handlers.platforms.base import ID, NAME, Adapter, Payload, Sample, load
from handlers.platforms.http import PlatformAPI
from handlers.platforms.media import fetch

SECRET_FORMAT = re.compile(r"(whsec_)?[A-Za-z0-9+/]+={0,2}")
MIN_KEY_BYTES = 24  # the spec's shortest secret
MAX_URL = 2048  # characters of a callback or media URL: what browsers and proxies reliably take
MAX_MEDIA = 10  # files in one message
SECRET_HINT = (
    "GENERIC_WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 random bytes; generate one with: "
    "python -c \"import base64, secrets; print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\""
)


class File(Payload):
    """A file the message carries: fetched by the worker, without credentials, from a host GENERIC_CALLBACK_ALLOWLIST lists."""

    url = fields.String(required=True, validate=validate.Length(min=1, max=MAX_URL))
    content_type = fields.String(load_default="", validate=ID)  # a hint: the bytes decide what it is
    name = fields.String(load_default="", validate=ID)


class Message(Payload):
    """What a system POSTs: one user's message in one conversation, and where the reply goes."""

    # conversation_id becomes part of Redis keys: a short, plain alphabet keeps them sane
    conversation_id = fields.String(required=True, validate=validate.Regexp(
        r"[A-Za-z0-9_.:@+-]{1,128}\Z", error="use 1 to 128 letters, digits or _-.:@+"))
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=ID.max))
    user_name = fields.String(load_default=None, validate=NAME)
    text = fields.String(load_default="", validate=validate.Length(max=4000))  # a caption, or "" when media come alone
    callback_url = fields.String(load_default=None, validate=validate.Length(max=MAX_URL))  # null or absent: GENERIC_CALLBACK_URL
    stream = fields.Boolean(load_default=False)  # true: message.delta events show the reply while it is written
    media = fields.List(fields.Nested(File), load_default=list, validate=validate.Length(max=MAX_MEDIA))

    @validates_schema
    def _says_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data["text"] or data["media"]):
            raise ValidationError("a message needs text, media or both", "text")


MESSAGE = Message()


class Generic(Adapter):
    """Any system that signs its webhooks with GENERIC_WEBHOOK_SECRET and takes the replies at a callback URL."""

    name = "webhook"
    prefix = "GENERIC"
    max_text = 20000
    format = MARKDOWN
    required = ("GENERIC_WEBHOOK_SECRET",)
    dedupe_ttl = 4 * 86400  # the spec's example retry schedule spans about 3 days
    webhook_console = ("generic webhooks have nothing to register here: configure the sending system "
                       "to POST to https://<your-app>/webhooks/webhook")

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.key = _key(config.setting("GENERIC_WEBHOOK_SECRET"))
        self.callback_url = config.setting("GENERIC_CALLBACK_URL")
        self.allowlist = Allowlist(config.setting("GENERIC_CALLBACK_ALLOWLIST"), self.callback_url)
        if self.callback_url and (reason := self.allowlist.refusal(self.callback_url)):
            raise ConfigError(f"GENERIC_CALLBACK_URL: {reason}")
        # callbacks go to callers' URLs: each connection's peer is checked against the allowlist
        self.http = PlatformAPI("webhook callback", config.platform_timeout, config.worker_concurrency,
                                self.allowlist.peer_refusal)
        # media come from the same hosts, fetched by a client of their own that sends no credentials
        self.media_hosts = Allowlist(config.setting("GENERIC_CALLBACK_ALLOWLIST"), self.callback_url, what="media")
        self.media_http = PlatformAPI("webhook media", config.platform_timeout, config.worker_concurrency,
                                      self.media_hosts.peer_refusal)

    def verify(self, request: Request) -> None:
        """Standard Webhooks: an HMAC of the id, the timestamp and the raw body, signed within 5 minutes."""
        signatures.standard_verify(self.key, request.headers, request.get_data())

    def parse(self, request: Request) -> list[IncomingMessage]:
        """One message, refused before anything is stored if its reply could not go where it asks."""
        data = load(MESSAGE, request)
        self._callback(data["callback_url"], Rejected)
        media = [_media(file) for file in data["media"]]
        if refusals := [reason for file in media if (reason := self.media_hosts.refusal(file.ref))]:
            raise Rejected(refusals[0])
        webhook_id = request.headers["webhook-id"]  # the spec's idempotency key: retries repeat it
        if len(webhook_id) > ID.max:
            raise Rejected(f"webhook-id is longer than {ID.max} characters")
        context = {"callback_url": data["callback_url"], "user_id": data["user_id"], "in_reply_to": webhook_id}
        if data["stream"]:
            context["stream"] = True
        return [IncomingMessage(self.name, webhook_id, data["conversation_id"], data["user_id"], data["text"],
                                data["user_name"] or "", context=context, media=[file.to_dict() for file in media])]

    def download(self, media: Media, limit: int) -> bytes:
        """GET the file's URL without credentials; it and each redirect must pass GENERIC_CALLBACK_ALLOWLIST."""
        return fetch(self.media_http, media.ref, limit, hops=self.media_hosts.refusal)

    def send(self, reply: Reply) -> None:
        """POST one part to the callback URL, signed like the webhooks we take in, without following redirects."""
        self._post(reply.context, reply.key, "message.reply", _data(reply.conversation_id, reply.context, reply.text, reply.part))

    def previews(self, context: dict[str, Any]) -> bool:
        """Where the message asked for it with "stream": true."""
        return bool(context.get("stream"))

    def preview(self, draft: Draft) -> str:
        """A message.delta event: the part's text so far (each replaces the one before), signed as replies are, with a
        webhook-id of its own."""
        data = _data(draft.conversation_id, draft.context, draft.text, draft.part)
        self._post(draft.context, draft.frame, "message.delta", data)
        return ""

    def _post(self, context: dict[str, Any], webhook_id: str, kind: str, data: dict[str, Any]) -> None:
        url = self._callback(context.get("callback_url"), Permanent)
        now = time.time()
        body = json.dumps(_event(kind, data, now)).encode()
        headers = {"content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(int(now)),
                   "webhook-signature": signatures.standard_sign(self.key, webhook_id, int(now), body)}
        response = self.http.post(url, data=body, headers=headers, allow_redirects=False)
        if not 200 <= response.status_code < 300:
            raise _failure(response)

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """Resent with the same webhook-id, which receivers dedupe on (the Standard Webhooks idempotency key)."""
        return AfterTimeout.RESEND

    def _callback(self, given: str | None, refuse: type[BotError]) -> str:
        """The message's callback URL, else GENERIC_CALLBACK_URL; raises `refuse` when there is none or it is not allowed."""
        url = given or self.callback_url
        if not url:
            raise refuse("no callback_url in the message and GENERIC_CALLBACK_URL is not set: nowhere to send the reply")
        if reason := self.allowlist.refusal(url):
            raise refuse(reason)
        return url

    def sample(self, url: str, text: str) -> Sample:
        """A message from a sample system, signed as Standard Webhooks asks."""
        body = json.dumps({"conversation_id": "sample", "user_id": "sample-user", "text": text}).encode()
        webhook_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
        return {"Content-Type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(now),
                "webhook-signature": signatures.standard_sign(self.key, webhook_id, now, body)}, body


def _media(file: dict[str, str]) -> Media:
    """A file of the message as the worker fetches it."""
    return Media(kind_of(file["content_type"]), file["url"], file["content_type"], file["name"])


def _key(secret: str) -> bytes:
    """The HMAC key in GENERIC_WEBHOOK_SECRET, or a ConfigError that says how to make a good one."""
    try:
        key = signatures.standard_key(secret) if SECRET_FORMAT.fullmatch(secret) else b""
    except ValueError:  # base64 of a length no encoder produces
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(SECRET_HINT)
    return key


def _data(conversation_id: str, context: dict[str, Any], text: str, part: int) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "user_id": context["user_id"], "text": text, "part": part,
            "in_reply_to": context["in_reply_to"]}


def _event(kind: str, data: dict[str, Any], now: float) -> dict[str, Any]:
    """The callback's body: a Standard Webhooks event carrying one part of the reply, or a frame of it (message.delta)."""
    return {"type": kind, "timestamp": times.iso(now), "data": data}


def _failure(response: requests.Response) -> BotError:
    """The error for a callback that did not answer 2xx, per the spec's delivery rules."""
    status = f"{response.status_code} {response.reason}".strip()
    if response.status_code == 410:
        return Permanent("the receiver asked us to stop: 410 Gone")
    if http.retryable(response):
        return http.transient(response, f"callback answered {status}")
    if 300 <= response.status_code < 400:
        return Permanent(f"callback answered a redirect ({status}), which webhooks do not follow: set the final URL")
    return Permanent(f"callback refused the reply: {status}")

