"""Telegram Bot API: webhook updates in, sendMessage out (docs/platforms.md section 1)."""

from __future__ import annotations

import time
import zlib
from typing import Any

import requests
from flask import Request
from marshmallow import fields, pre_load

from bot.errors import FormattingRejected, Permanent, Transient
from bot.media import cards
from bot.media.fetch import TooLarge, check_size
from bot.media.refs import Media
from bot.messages import Draft, IncomingMessage, Reply
from bot.render.format import HTML
from bot.retry import retry_after
from handlers.platforms import http, signatures
from handlers.platforms.base import ID, INT64, NAME, TIME, Adapter, Payload, Sample, json_sample, load
from handlers.platforms.media import fetch

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message"]


class User(Payload):
    id = fields.Integer(required=True, validate=INT64)
    is_bot = fields.Boolean(load_default=False)
    first_name = fields.String(load_default="", validate=NAME)
    language_code = fields.String(load_default="", validate=ID)


class Chat(Payload):
    id = fields.Integer(required=True, validate=INT64)
    type = fields.String(required=True, validate=ID)


# What a person can send instead of text; service messages (joins, pins) carry none of these.
NON_TEXT = ("sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation", "location",
            "contact", "poll", "dice", "venue")


class File(Payload):
    """A voice note, audio file, document or one size of a photo."""

    file_id = fields.String(required=True, validate=ID)
    file_size = fields.Integer(validate=INT64)
    mime_type = fields.String(load_default="", validate=ID)
    file_name = fields.String(load_default="", validate=ID)
    duration = fields.Integer(validate=INT64)


class Location(Payload):
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)


class Venue(Payload):
    location = fields.Nested(Location, required=True)
    title = fields.String(load_default="")
    address = fields.String(load_default="")


class Contact(Payload):
    phone_number = fields.String(load_default="")
    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")


class Replied(Payload):
    sender = fields.Nested(User, data_key="from")


class Message(Payload):
    message_id = fields.Integer(required=True, validate=INT64)
    sender = fields.Nested(User, data_key="from")  # absent on channel posts
    chat = fields.Nested(Chat, required=True)
    date = fields.Integer(validate=TIME)  # when it was sent, Unix seconds
    text = fields.String()
    caption = fields.String()  # the text under a photo or a document
    reply_to_message = fields.Nested(Replied)
    message_thread_id = fields.Integer(validate=INT64)  # a forum topic, or in a group without topics its reply chain's first
    is_topic_message = fields.Boolean(load_default=False)  # only then is message_thread_id a topic to answer in
    voice = fields.Nested(File)
    audio = fields.Nested(File)
    document = fields.Nested(File)
    photo = fields.List(fields.Nested(File))  # the sizes Telegram made of it, smallest first
    location = fields.Nested(Location)  # a venue carries its location too
    venue = fields.Nested(Venue)
    contact = fields.Nested(Contact)
    non_text = fields.List(fields.String())  # which of NON_TEXT it carries: one field, not thirteen to deserialise

    @pre_load
    def _non_text(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data  # the field's own error says what is wrong
        return {**data, "non_text": [kind for kind in NON_TEXT if kind in data]}


class Update(Payload):
    update_id = fields.Integer(required=True, validate=INT64)
    message = fields.Nested(Message)


UPDATE = Update()


class Telegram(Adapter):
    """A Telegram bot whose webhook points at /webhooks/telegram."""

    name = "telegram"
    prefix = "TELEGRAM"
    max_text = 4096
    format = HTML  # the HTML parse mode
    required = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
    dedupe_ttl = 26 * 3600  # Telegram drops undelivered updates after 24 h
    default_api_url = "https://api.telegram.org"
    preview_every = 1.0  # Telegram publishes no limit for drafts (docs/streaming.md): one a second per chat, as for messages

    def __init__(self, config, redis) -> None:
        super().__init__(config, redis)
        self.secret = config.setting("TELEGRAM_WEBHOOK_SECRET")
        base, token = self.api_url, config.setting("TELEGRAM_BOT_TOKEN")
        self.api_url = f"{base}/bot{token}/"
        self.file_url = f"{base}/file/bot{token}/"  # a self-hosted server serves files the same way
        self.bot_id = config.setting("TELEGRAM_BOT_TOKEN").split(":", 1)[0]  # a token starts with the bot's id
        self.username = config.setting("TELEGRAM_BOT_USERNAME").lstrip("@").lower()
        self.everything_in_groups = config.setting("GROUP_REPLIES", "mentions") == "all"

    def verify(self, request: Request) -> None:
        """The secret token set with setWebhook, compared in constant time."""
        signatures.require(SECRET_HEADER, request.headers.get(SECRET_HEADER), self.secret)

    def parse(self, request: Request) -> list[IncomingMessage]:
        """Messages from people (text "" for stickers, images, voice); other updates and bots are ignored."""
        return self.messages(load(UPDATE, request))

    def messages(self, update: dict[str, Any]) -> list[IncomingMessage]:
        """The messages of one validated update, from the webhook or from getUpdates."""
        message = update.get("message")
        if not message or message.get("sender", {}).get("is_bot", True) or not _from_person(message):
            return []
        if message["chat"]["type"] != "private" and not (self.everything_in_groups or self._addressed(message)):
            return []  # group chatter not meant for the bot
        chat, sender = message["chat"], message["sender"]
        thread = message.get("message_thread_id") if message["is_topic_message"] else None
        return [IncomingMessage(
            platform=self.name,
            message_id=str(update["update_id"]),
            conversation_id=f"{chat['id']}:{thread}" if thread else str(chat["id"]),
            user_id=str(sender["id"]),
            user_name=sender["first_name"],
            text=message.get("text") or message.get("caption") or _card(message),
            sent_at=message.get("date"),
            context={"chat_id": chat["id"], "thread_id": thread, "chat_type": chat["type"], "message_id": message["message_id"],
                     "language": sender["language_code"]},
            media=[media.to_dict() for media in _media(message)],
        )]

    def _addressed(self, message: dict[str, Any]) -> bool:
        """In a group: a reply to the bot, a mention of it, or a command (commands reach bots only when meant)."""
        text = (message.get("text") or message.get("caption") or "").lower()
        replied_to = str(message.get("reply_to_message", {}).get("sender", {}).get("id", ""))
        mentioned = bool(self.username) and f"@{self.username}" in text
        return replied_to == self.bot_id or mentioned or text.startswith("/")

    def send(self, reply: Reply) -> None:
        """sendMessage in HTML; in groups the first part replies to the user's message."""
        payload = self._target(reply.context) | {"text": reply.text}
        if reply.formatted:
            payload["parse_mode"] = "HTML"
        if reply.part == 0 and reply.context.get("chat_type") != "private":
            payload["reply_parameters"] = {"message_id": reply.context["message_id"], "allow_sending_without_reply": True}
        self.call("sendMessage", payload)

    def previews(self, context: dict[str, Any]) -> bool:
        """Drafts go to private chats only (platforms.md section 1); groups see the typing indicator."""
        return context.get("chat_type") == "private"

    def preview(self, draft: Draft) -> str:
        """sendMessageDraft: a preview that lasts 30 s or until the reply's sendMessage replaces it. The same draft_id
        for every frame of a part animates the text; empty text shows Telegram's "Thinking..." placeholder."""
        draft_id = zlib.crc32(draft.key.encode()) & 0x7FFFFFFF or 1  # non-zero, stable for the turn and part
        frame = {"draft_id": draft_id, "text": draft.text, "parse_mode": "HTML"}
        self.call("sendMessageDraft", self._target(draft.context) | frame)
        return ""

    def download(self, media: Media, limit: int) -> bytes:
        """getFile, then the file from /file/bot<token>/<file_path>; bots may fetch files of up to 20 MB."""
        check_size(media.size, limit)
        try:
            file = self.call("getFile", {"file_id": media.ref}) or {}
        except Permanent as error:
            raise (TooLarge(str(error)) if "file is too big" in str(error) else error) from None
        check_size(file.get("file_size"), limit)
        if not file.get("file_path"):  # optional in the Bot API's File: without it there is nothing to fetch
            raise Permanent(f"Telegram getFile gave no file_path for file {media.ref}", kind="media_refused")
        return fetch(self.http, self.file_url + file["file_path"], limit)

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """sendChatAction: shows "typing…" for up to 5 seconds."""
        self.call("sendChatAction", self._target(context) | {"action": "typing"})

    def set_webhook(self, url: str) -> None:
        """setWebhook, with the secret Telegram sends back and the updates the bot reads."""
        self.call("setWebhook", {"url": url, "secret_token": self.secret, "allowed_updates": ALLOWED_UPDATES})

    def show_webhook(self) -> dict[str, Any]:
        """getWebhookInfo: the URL, the pending updates and the last delivery error."""
        return self.call("getWebhookInfo", {})

    def delete_webhook(self) -> None:
        """deleteWebhook: updates then wait at Telegram, for up to 24 h, for a webhook or getUpdates."""
        self.call("deleteWebhook", {})

    @staticmethod
    def _target(context: dict[str, Any]) -> dict[str, Any]:
        target = {"chat_id": context["chat_id"]}
        if context.get("thread_id"):
            target["message_thread_id"] = context["thread_id"]
        return target

    def updates(self, offset: int, hold: int) -> list[dict[str, Any]]:
        """getUpdates, which Telegram holds open for up to `hold` seconds: the HTTP timeout must outlast the hold."""
        payload = {"offset": offset, "timeout": hold, "allowed_updates": ALLOWED_UPDATES}
        return self.call("getUpdates", payload, timeout=hold + self.http.timeout)

    def call(self, method: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        """Call a Bot API method and return its result, raising the bot's errors on failure."""
        response = self.http.post(self.api_url + method, json=payload, timeout=timeout)
        body = http.json_body(response)
        if body.get("ok"):
            return body.get("result")
        raise _error(method, response, body)

    def sample(self, url: str, text: str) -> Sample:
        """An update from a sample user in a private chat, with the webhook's secret."""
        update = {"update_id": int(time.time()), "message": {
            "message_id": 1, "from": {"id": 42, "is_bot": False, "first_name": "Sample"},
            "chat": {"id": 42, "type": "private"}, "date": int(time.time()), "text": text}}
        return json_sample({SECRET_HEADER: self.secret}, update)


def _media(message: dict[str, Any]) -> list[Media]:
    """The voice note, audio file, document or photo (its largest size) the message carries."""
    found = []
    for kind, field in (("audio", "voice"), ("audio", "audio"), ("document", "document")):
        if field in message:
            file = message[field]
            found.append(Media(kind, file["file_id"], file["mime_type"], file["file_name"], file.get("file_size"),
                               file.get("duration"), voice=field == "voice"))
    if message.get("photo"):
        largest = message["photo"][-1]
        found.append(Media("image", largest["file_id"], size=largest.get("file_size")))
    return found


def _card(message: dict[str, Any]) -> str:
    """A shared venue, location or contact as text; "" for anything else."""
    if venue := message.get("venue"):
        return cards.location(venue["location"]["latitude"], venue["location"]["longitude"], venue["title"], venue["address"])
    if location := message.get("location"):
        return cards.location(location["latitude"], location["longitude"])
    if contact := message.get("contact"):
        return cards.contact(f"{contact['first_name']} {contact['last_name']}", contact["phone_number"])
    return ""


def _from_person(message: dict[str, Any]) -> bool:
    """Something a person wrote or sent, not a service message such as a member joining."""
    return "text" in message or bool(message["non_text"])


def _error(method: str, response: requests.Response, body: dict[str, Any]) -> Exception:
    """Transient for what may pass on a retry (429, 5xx), else Permanent, saying what the operator can do."""
    code, description = body.get("error_code"), str(body.get("description", ""))
    if not isinstance(code, int):
        return _not_the_bot_api(method, response)
    message = f"Telegram {method} failed ({code}): {description}"
    if code == 429:
        return Transient(message, retry_after=retry_after((body.get("parameters") or {}).get("retry_after")))
    if code >= 500:
        return Transient(message)
    if "can't parse entities" in description:
        return FormattingRejected(message)
    hint = _hint(code, description)
    return Permanent(f"{message}; {hint}" if hint else message)


def _not_the_bot_api(method: str, response: requests.Response) -> Exception:
    """An answer that is not the Bot API's: a proxy's error page, or a TELEGRAM_API_URL that is no Bot API server."""
    message = f"Telegram {method} got no Bot API answer (HTTP {response.status_code} {response.reason})"
    if http.retryable(response):
        return http.transient(response, message)
    return Permanent(f"{message}; check TELEGRAM_API_URL: it must point at a Bot API server")


def _hint(code: int, description: str) -> str:
    """What the operator can do about a refusal that will not pass on a retry."""
    if code in (401, 404):  # 404: a token of the wrong shape
        return "check TELEGRAM_BOT_TOKEN (the token @BotFather gave the bot)"
    if code == 409 and "webhook" in description:
        return "run `flask --app app webhook delete telegram` to poll instead (Telegram allows one or the other)"
    if code == 409:
        return "another process is polling with this bot token: stop it (only one may poll)"
    return ""
