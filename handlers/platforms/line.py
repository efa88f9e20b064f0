"""LINE Messaging API: webhook events in, reply or push out (docs/platforms.md section 6)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any

import requests
from flask import Request
from marshmallow import ValidationError, fields, validate, validates_schema
from redis import Redis

from bot import retry
from bot.config import Config
from bot.errors import BotError, Permanent
from bot.media import cards
from bot.media.fetch import check_size
from bot.media.refs import Media
from bot.messages import AfterTimeout, IncomingMessage, Reply
from bot.render.format import PLAIN
from handlers.platforms import http, signatures
from handlers.platforms.base import ID, TIME, Adapter, Payload, Sample, load
from handlers.platforms.media import fetch

logger = logging.getLogger(__name__)

DEFAULT_DATA_URL = "https://api-data.line.me"  # message content is served from here, not api.line.me
MEDIA = {"image": "image", "audio": "audio", "file": "document"}  # message types the bot fetches, by media kind
SIGNATURE_HEADER = "x-line-signature"
RETRY_KEY_HEADER = "X-Line-Retry-Key"
RETRY_KEYS = uuid.uuid5(uuid.NAMESPACE_URL, "https://api.line.me/v2/bot/message/push")  # namespace of our retry keys
REPLY_TOKEN_SECONDS = 50  # LINE's reply tokens expire about a minute after the event
LOADING_SECONDS = 20  # a multiple of 5, outlasting the 15 s between refreshes
CHAT_ID = {"user": "user_id", "group": "group_id", "room": "room_id"}  # where each kind of chat keeps its id


# What a person sends: text, or media the bot cannot read (answered with a notice).
CONTENT = {"text", "image", "video", "audio", "file", "location", "sticker"}


class Source(Payload):
    type = fields.String(required=True, validate=validate.OneOf(CHAT_ID))
    user_id = fields.String(data_key="userId", validate=ID)  # in groups and rooms, absent for some older clients
    group_id = fields.String(data_key="groupId", validate=ID)
    room_id = fields.String(data_key="roomId", validate=ID)

    @validates_schema
    def _names_its_chat(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Replies go to the chat's own id, so a source without it cannot be answered."""
        field = CHAT_ID[data["type"]]
        if field not in data:
            raise ValidationError(f"required for a {data['type']} source", self.fields[field].data_key)


class Message(Payload):
    id = fields.String(required=True, validate=ID)
    type = fields.String(required=True, validate=ID)
    text = fields.String()
    quote_token = fields.String(data_key="quoteToken", validate=ID)
    duration = fields.Integer(validate=TIME)  # audio, in milliseconds
    file_name = fields.String(data_key="fileName", load_default="", validate=ID)
    file_size = fields.Integer(data_key="fileSize", validate=TIME)
    provider = fields.Dict(data_key="contentProvider")  # "external": the content is elsewhere, not on LINE
    latitude = fields.Float()  # a location's
    longitude = fields.Float()
    title = fields.String(load_default="")
    address = fields.String(load_default="")


class Event(Payload):
    type = fields.String(required=True, validate=ID)
    mode = fields.String(load_default="active", validate=ID)
    timestamp = fields.Integer(required=True, validate=TIME)  # milliseconds, by LINE's clock
    webhook_event_id = fields.String(required=True, data_key="webhookEventId", validate=ID)  # the same on redelivery
    source = fields.Nested(Source)  # absent on some channel events
    reply_token = fields.String(data_key="replyToken", validate=ID)  # absent on standby events
    message = fields.Nested(Message)

    @validates_schema
    def _message_has_origin(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A message event must carry its message and say where it came from."""
        if data["type"] == "message" and not ("source" in data and "message" in data):
            raise ValidationError("a message event needs source and message")


class Webhook(Payload):
    events = fields.List(fields.Nested(Event), required=True)  # [] from the console's Verify button


WEBHOOK = Webhook()


class Line(Adapter):
    """A LINE Official Account whose webhook URL is /webhooks/line."""

    name = "line"
    prefix = "LINE"
    max_text = 5000
    format = PLAIN
    required = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")
    dedupe_ttl = 3 * 86400  # with webhook redelivery on, LINE resends events late and out of order
    typing_every = 15.0
    default_api_url = "https://api.line.me"

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.secret = config.setting("LINE_CHANNEL_SECRET")
        self.auth = {"Authorization": f"Bearer {config.setting('LINE_CHANNEL_ACCESS_TOKEN')}"}
        # Content comes from its own host; a LINE_API_URL (a proxy, a test server) serves it too unless LINE_DATA_URL says.
        self.data_url = (config.setting("LINE_DATA_URL") or config.setting("LINE_API_URL") or DEFAULT_DATA_URL).rstrip("/")

    def verify(self, request: Request) -> None:
        """x-line-signature: the channel secret's HMAC of the raw body, compared in constant time."""
        expected = signature(self.secret, request.get_data())
        signatures.require(SIGNATURE_HEADER, request.headers.get(SIGNATURE_HEADER), expected)

    def parse(self, request: Request) -> list[IncomingMessage]:
        """Text messages from users, groups and rooms; every other event is acknowledged and ignored."""
        return [self._incoming(event) for event in load(WEBHOOK, request)["events"] if _answerable(event)]

    def _incoming(self, event: dict[str, Any]) -> IncomingMessage:
        """The bot's message for a text event; the conversation is the chat, whoever writes in it."""
        source, message = event["source"], event["message"]
        chat = source[CHAT_ID[source["type"]]]
        return IncomingMessage(
            platform=self.name,
            message_id=event["webhook_event_id"],
            conversation_id=f"{source['type']}:{chat}",
            user_id=source.get("user_id", ""),
            text=message.get("text") or _place(message),
            sent_at=event["timestamp"] / 1000,
            context={"to": chat, "chat_type": source["type"], "reply_token": event.get("reply_token"),
                     "timestamp": event["timestamp"], "quote_token": message.get("quote_token")},
            media=[media.to_dict() for media in _media(message)],
        )

    def download(self, media: Media, limit: int) -> bytes:
        """GET /v2/bot/message/{id}/content on the content host, with the channel token (202: still processing)."""
        check_size(media.size, limit)
        return fetch(self.http, f"{self.data_url}/v2/bot/message/{media.ref}/content", limit, self.auth)

    def send(self, reply: Reply) -> None:
        """Reply with the event's token while LINE still takes it, else push (which counts against the quota)."""
        messages = [{"type": "text", "text": reply.text}]
        token = _fresh_reply_token(reply)
        if not (token and self._reply(token, messages)):
            self._push(reply, messages)

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """A push is resent with its retry key, which LINE dedupes; a reply token may be spent, and no key guards it."""
        # Asked at the try after the one that timed out: if the token was fresh then, this is at most the timeout and
        # one backoff later.
        doubt = REPLY_TOKEN_SECONDS + self.config.platform_timeout + retry.MAX_DELAY
        token_used = reply.part == 0 and reply.context.get("reply_token") and _age(reply) < doubt
        return AfterTimeout.UNKNOWN if token_used else AfterTimeout.RESEND

    def _reply(self, token: str, messages: list[dict[str, str]]) -> bool:
        """Answer with the reply token; False when LINE refuses the token (expired, or already used)."""
        response = self._call("message/reply", {"replyToken": token, "messages": messages})
        if response.status_code == 400 and "invalid reply token" in _message(response).lower():
            logger.info("LINE refused the reply token: pushing instead", extra={"platform": self.name})
            return False
        _check("reply", response)
        return True

    def _push(self, reply: Reply, messages: list[dict[str, str]]) -> None:
        """Push to the chat; the same part always carries the same retry key, so LINE sends it once."""
        headers = {RETRY_KEY_HEADER: str(uuid.uuid5(RETRY_KEYS, reply.key))} if reply.key else {}
        response = self._call("message/push", {"to": reply.context["to"], "messages": messages}, headers)
        if response.status_code != 409:  # 409: LINE already accepted a push with this retry key
            _check("push", response)

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """LINE's loading animation; it exists in one-to-one chats only."""
        if context.get("chat_type") == "user":
            payload = {"chatId": context["to"], "loadingSeconds": LOADING_SECONDS}
            _check("loading indicator", self._call("chat/loading/start", payload))

    def set_webhook(self, url: str) -> None:
        """Save the channel's webhook URL, then have LINE deliver a test event to it, as the console's Verify does."""
        self._webhook_api("PUT", "endpoint", {"endpoint": url})
        test = self._webhook_api("POST", "test", {"endpoint": url})
        if not test.get("success"):
            raise Permanent(f"LINE saved the webhook URL, but its test delivery failed "
                            f"({test.get('statusCode')} {test.get('reason')}): {test.get('detail')}")

    def show_webhook(self) -> dict[str, Any]:
        """The channel's webhook URL, and whether "Use webhook" is on (`active`)."""
        return self._webhook_api("GET", "endpoint")

    def delete_webhook(self) -> None:
        """LINE's API can replace the webhook URL but not remove it."""
        raise Permanent("LINE has no API to remove the webhook: turn off Use webhook under Messaging API → "
                        "Webhook settings in the LINE Developers Console")

    def _webhook_api(self, method: str, path: str, payload: dict[str, str] | None = None) -> dict[str, Any]:
        """Call the channel's webhook settings with the channel access token; raise if LINE refuses."""
        url = f"{self.api_url}/v2/bot/channel/webhook/{path}"
        response = self.http.request(method, url, json=payload, headers=self.auth)
        _check(f"webhook {path}", response)
        return http.json_body(response)

    def _call(self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> requests.Response:
        """POST to LINE's API with the channel access token."""
        return self.http.post(f"{self.api_url}/v2/bot/{path}", json=payload, headers={**self.auth, **(headers or {})})

    def sample(self, url: str, text: str) -> Sample:
        """A text message from a sample user, signed with the channel secret."""
        event = {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000), "webhookEventId": uuid.uuid4().hex,
                 "source": {"type": "user", "userId": "U0SAMPLE"}, "message": {"id": "1", "type": "text", "text": text}}
        body = json.dumps({"destination": "U0BOT", "events": [event]}).encode()
        return {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self.secret, body)}, body


def signature(secret: str, body: bytes) -> str:
    """The x-line-signature LINE sends with `body`."""
    return base64.b64encode(signatures.digest(secret.encode(), body)).decode()


def _answerable(event: dict[str, Any]) -> bool:
    """A text message in a chat this channel owns: standby means another module answers."""
    if event["type"] != "message" or event["mode"] == "standby":
        return False
    return event["message"]["type"] in CONTENT


def _fresh_reply_token(reply: Reply) -> str | None:
    """The event's reply token, for a turn's first part while it is fresh: a token works once, for about a minute."""
    return reply.context.get("reply_token") if reply.part == 0 and _age(reply) < REPLY_TOKEN_SECONDS else None


def _age(reply: Reply) -> float:
    """Seconds since the event the reply answers."""
    return time.time() - reply.context["timestamp"] / 1000


def _media(message: dict[str, Any]) -> list[Media]:
    """The image, audio or file the message carries on LINE; content held elsewhere ("external") is not fetched."""
    if message["type"] not in MEDIA or (message.get("provider") or {}).get("type") == "external":
        return []
    seconds = message["duration"] / 1000 if message.get("duration") else None
    return [Media(MEDIA[message["type"]], message["id"], name=message["file_name"], size=message.get("file_size"),
                  seconds=seconds, voice=message["type"] == "audio")]


def _place(message: dict[str, Any]) -> str:
    """A shared location as text; "" for anything else."""
    if message["type"] != "location" or "latitude" not in message or "longitude" not in message:
        return ""
    return cards.location(message["latitude"], message["longitude"], message["title"], message["address"])


def _check(what: str, response: requests.Response) -> None:
    """Raise the bot's error for a call LINE refused."""
    if not response.ok:
        raise _error(what, response)


def _error(what: str, response: requests.Response) -> BotError:
    """Transient for what may pass on a retry; Permanent, saying what the operator can do, otherwise."""
    status, message = response.status_code, _message(response)
    prefix = f"LINE {what} failed ({status})"
    if status == 429 and "monthly limit" in message.lower():
        return Permanent(f"{prefix}: the monthly message quota is used up; pushes resume next month or on a bigger plan")
    if http.retryable(response):
        return http.transient(response, f"{prefix}: {message}")
    if status == 401:
        return Permanent(f"{prefix}: the channel access token was refused; check LINE_CHANNEL_ACCESS_TOKEN")
    return Permanent(f"{prefix}: {message}")


def _message(response: requests.Response) -> str:
    """LINE's error message, from its JSON error body when there is one."""
    return str(http.json_body(response).get("message") or response.reason or "")
