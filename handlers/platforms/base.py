"""The adapter seam: what every chat platform module provides."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Request, Response, jsonify
from marshmallow import EXCLUDE, Schema, ValidationError, validate
from redis import Redis

from bot.config import Config
from bot.errors import Permanent, Rejected
from bot.media.refs import Media
from bot.messages import AfterTimeout, Channel, IncomingMessage, Reply
from bot.render.format import PLAIN, Format
from handlers.platforms.http import PlatformAPI

Sample = tuple[dict[str, str], bytes]  # a webhook request's headers and body


class Adapter(Channel):
    """One chat platform: verifies and parses its webhooks, and is the Channel (bot/messages.py) its replies go through.

    Subclasses set the class attributes (name and max_text among them) and implement verify, parse and send; the rest
    has defaults that suit most platforms.
    """

    prefix: str  # of its settings, such as TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL
    format: Format = PLAIN
    required: tuple[str, ...] = ()  # the environment variables that enable it
    default_api_url: str = ""  # the platform API's base URL, unless <prefix>_API_URL names another (a self-hosted server)
    dedupe_ttl: int = 3 * 86400  # seconds a message id is remembered: longer than the platform retries
    typing_every: float = 4.0  # seconds between typing indicators, where the platform has one
    signed: bool = True  # `verify` proves the platform sent it; False: anyone may post (the chat page)
    reply_window: int = 0  # most platforms take free-form text however long ago the user last wrote
    # Set where no API can register the webhook: one sentence saying where the operator sets it instead.
    webhook_console: str = ""

    def __init__(self, config: Config, redis: Redis) -> None:
        self.config = config
        self.redis = redis
        # <PLATFORM>_DEDUPE_TTL overrides the default, which outlasts the platform's retries
        self.dedupe_ttl = int(config.setting(f"{self.name.upper()}_DEDUPE_TTL") or type(self).dedupe_ttl)
        self.api_url = (config.setting(f"{self.prefix}_API_URL") or self.default_api_url).rstrip("/")
        self.http = PlatformAPI(self.name, config.platform_timeout, config.worker_concurrency)

    @classmethod
    def missing(cls, config: Config) -> list[str]:
        """The variables still to set before this platform is enabled."""
        return [name for name in cls.required if not config.setting(name)]

    def verify(self, request: Request) -> None:
        """Authenticate the request from its raw bytes; raise Rejected (401/403) if it is not the platform's."""
        raise NotImplementedError

    def handshake(self, request: Request) -> Response | None:
        """Answer a platform's URL check instead of treating it as a message.

        GET requests (Meta's hub.challenge) come here unverified and must check their own token;
        POSTs (Slack's url_verification) come here after `verify`.
        """
        return None

    def parse(self, request: Request) -> list[IncomingMessage]:
        """The text messages in the request; [] for events the bot ignores."""
        raise NotImplementedError

    def stale(self, message: IncomingMessage) -> bool:
        """Sent longer ago than `dedupe_ttl`: its id may be forgotten by now, so answering it might answer it twice."""
        return message.sent_at is not None and time.time() - message.sent_at > self.dedupe_ttl

    def acknowledge(self) -> Response:
        """The 200 answer once the request's messages are stored."""
        return jsonify(ok=True)

    def send(self, reply: Reply) -> None:
        """Deliver one part of a reply; raise Transient, Permanent or FormattingRejected."""
        raise NotImplementedError

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Show that the bot is writing, where the platform can."""

    def download(self, media: Media, limit: int) -> bytes:
        """A message's file through the platform's API; platforms that carry none never ask."""
        raise Permanent(f"{self.name} does not download media")

    @classmethod
    def window(cls, contact: IncomingMessage) -> int:
        """The user's reply window: the platform's, for most platforms the same for every user."""
        return cls.reply_window

    @classmethod
    def outside_window(cls, contact: IncomingMessage) -> bool:
        """Whether the user last wrote longer ago than their reply window lets free-form text through."""
        window = cls.window(contact)
        return bool(window) and time.time() - contact.received_at > window

    @classmethod
    def window_refusal(cls, contact: IncomingMessage, template: dict[str, Any] | None) -> str:
        """Why a message the bot sends on its own cannot reach the user now ("" when it can): outside the reply window
        only a template the platform takes goes through."""
        if not cls.outside_window(contact):
            return ""
        why = cls.template_refusal(template) if template else "and no template was given to send instead"
        hours = cls.window(contact) // 3600
        return why and f"outside the {hours}-hour customer-service window: the user last wrote more than {hours} hours ago, {why}"

    @classmethod
    def template_refusal(cls, template: dict[str, Any]) -> str:
        """Why the platform cannot send `template` outside the window, as "and ..." ("" when it can)."""
        return f"and {cls.name} has no message templates"

    @classmethod
    def template_text(cls, template: dict[str, Any]) -> str | None:
        """What the history keeps of a template sent in place of the message; None where the message goes out, tagged."""
        return None

    def discard(self, media: list[Media]) -> None:
        """Platforms keep a turn's files themselves: nothing of ours to delete when it ends."""

    def forget(self, conversation_id: str) -> int:
        """Most adapters keep nothing of a conversation themselves."""
        return 0

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """A part the platform took but answered too late for: most platforms can neither dedupe it nor tell."""
        return AfterTimeout.UNKNOWN

    def set_webhook(self, url: str) -> None:
        """Point the platform's webhook at `url` through its API; raise the bot's errors on refusal."""
        raise NotImplementedError

    def show_webhook(self) -> dict[str, Any]:
        """What the platform reports of the webhook: its URL and state; {} when none is set."""
        raise NotImplementedError

    def delete_webhook(self) -> None:
        """Remove the webhook through the platform's API, so it stops sending messages here."""
        raise NotImplementedError

    def sample(self, url: str, text: str) -> Sample:
        """A correctly signed webhook carrying `text` from a sample user, to POST to `url` (`flask send-sample`)."""
        raise NotImplementedError


DESCRIBED_MAX = 1000  # characters: one part on every platform with templates, so that the template goes out once


def described(template: dict[str, Any]) -> str:
    """A template as the history keeps it: its name and the values it was filled with (the platform has its text)."""
    parameters = template.get("parameters") or []
    values = [f"{name}={value}" for name, value in parameters.items()] if isinstance(parameters, dict) else parameters
    return f"(template {template['name']}{': ' if values else ''}{', '.join(values)})"[:DESCRIBED_MAX]


# Bounds of what a payload may carry, so that no caller fills a Redis key, a prompt or a page with it (longer: 400).
# Texts are bounded by MAX_BODY_BYTES alone: a platform's own limit is lower.
ID = validate.Length(max=256)  # an id, a type, a token: past any platform's (LINE's quote tokens, ~150, are the longest)
NAME = validate.Length(max=128)  # a display name: the platforms allow 25 (WhatsApp) to 64 (Telegram) characters
INT64 = validate.Range(min=-(2**63), max=2**63 - 1)  # a numeric id
TIME = validate.Range(min=0, max=2**53)  # a Unix time, in seconds or milliseconds: exact as a float


class Payload(Schema):
    """Base of every webhook schema: fields we do not use are tolerated, not rejected."""

    class Meta:
        unknown = EXCLUDE


def load(schema: Schema, request: Request, empty: bool = False) -> dict[str, Any]:
    """Validate the request's JSON body (no body at all reads as {} where `empty`), or raise Rejected (400) saying why."""
    body = {} if empty and not request.get_data() else request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Rejected("the body must be a JSON object")
    return validate_payload(schema, body)


def validate_payload(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Load `data` with `schema`, or raise Rejected (400) saying what is wrong."""
    try:
        return schema.load(data)
    except ValidationError as error:
        raise Rejected(f"invalid payload: {error.messages}") from None


def json_sample(headers: dict[str, str], payload: dict[str, Any]) -> Sample:
    """A sample webhook whose body is `payload` as JSON."""
    return {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()
