"""Facebook Messenger: Page webhooks in, the Send API out (docs/platforms.md section 4)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from flask import Request
from marshmallow import fields, validate
from redis import Redis

from bot.config import Config
from bot.media.refs import Media
from bot.messages import IncomingMessage, Reply
from bot.render.format import PLAIN
from handlers.platforms.allowlist import Allowlist
from handlers.platforms.base import ID, TIME, Payload, load
from handlers.platforms.http import PlatformAPI
from handlers.platforms.media import fetch
from handlers.platforms.meta import MetaAdapter

# The tags Meta lets a Page's automated message carry outside the 24-hour window (HUMAN_AGENT is a person's reply only).
TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")
MEDIA = {"image": "image", "audio": "audio", "file": "document"}  # attachment types the bot fetches, by media kind
MEDIA_HOSTS = "*.fbcdn.net,*.fbsbx.com"  # Meta's CDNs, where attachments' payload.url points


class AttachmentPayload(Payload):
    url = fields.String(validate=validate.Length(max=4096))  # a CDN link: no token fetches it, none may go there
    sticker_id = fields.Integer()  # a sticker sent as an image


class Attachment(Payload):
    type = fields.String(load_default="", validate=ID)
    payload = fields.Nested(AttachmentPayload, allow_none=True, load_default=None)  # a `fallback` may carry none


class Party(Payload):
    id = fields.String(required=True, validate=ID)


class Message(Payload):
    mid = fields.String(required=True, validate=ID)  # Meta's retries repeat it
    text = fields.String()  # absent on attachments
    attachments = fields.List(fields.Nested(Attachment), load_default=list)  # images, audio, files, stickers, video
    is_echo = fields.Boolean(load_default=False)  # the Page's own sends, sender and recipient swapped


class Postback(Payload):
    """A button, menu item or Get Started the user tapped: the chat shows its title as what they sent."""

    text = fields.String(data_key="title", load_default="")
    mid = fields.String(validate=ID)  # absent on older postbacks


class Event(Payload):
    sender = fields.Nested(Party, required=True)  # the user's page-scoped id (PSID)
    recipient = fields.Nested(Party, required=True)  # the Page
    timestamp = fields.Integer(validate=TIME)  # when it was sent, Unix milliseconds
    message = fields.Nested(Message)  # absent on postbacks, reads and deliveries
    postback = fields.Nested(Postback)


class Entry(Payload):
    messaging = fields.List(fields.Nested(Event), load_default=list)


class Notification(Payload):
    entry = fields.List(fields.Nested(Entry), required=True)


NOTIFICATION = Notification()


class Messenger(MetaAdapter):
    """A Facebook Page whose Meta app sends its webhooks to /webhooks/messenger."""

    name = "messenger"
    title = "Messenger"
    prefix = "MESSENGER"
    max_text = 2000
    format = PLAIN  # Messenger has no markup
    required = ("MESSENGER_PAGE_ACCESS_TOKEN", "MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN")
    token_setting = "MESSENGER_PAGE_ACCESS_TOKEN"
    webhook_object = "page"
    webhook_fields = "messages,messaging_postbacks"  # postbacks come only to those who subscribe to them
    typing_every = 15  # typing_on lapses after about 20 s
    rate_limits = frozenset({4, 32, 613, 80006})  # app, page, calls per time, Messenger business use case
    sample_payload = {"object": "page", "entry": [{"id": "PAGE", "messaging": [{
        "sender": {"id": "PSID0SAMPLE"}, "recipient": {"id": "PAGE"},
        "message": {"mid": "m_SAMPLE_ID", "text": "SAMPLE_TEXT"}}]}]}
    refusals = {(10, 2018278): "Messenger refused the message: the user's last message is more than 24 hours old "
                               "(10/2018278); outside that window only tagged messages (MESSAGE_TAG) may be sent"}
    reply_window = 24 * 3600  # the standard messaging window; past it, a message needs a tag

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.media_hosts = Allowlist(config.setting("MESSENGER_MEDIA_HOSTS") or MEDIA_HOSTS, setting="MESSENGER_MEDIA_HOSTS",
                                     what="media")
        # Its own client, without the token, whose connections check the address each host resolved to.
        self.media_http = PlatformAPI(self.name, config.platform_timeout, config.worker_concurrency,
                                      self.media_hosts.peer_refusal)

    def parse(self, request: Request) -> list[IncomingMessage]:
        """Every user's message and postback in the notification (text "" for attachments); echoes and reads are ignored."""
        notification = load(NOTIFICATION, request)
        events = [event for entry in notification["entry"] for event in entry["messaging"]]
        return [self._incoming(event) for event in events if _from_user(event)]

    def _incoming(self, event: dict[str, Any]) -> IncomingMessage:
        """One message; the conversation is the pair (Page, PSID)."""
        page, psid = event["recipient"]["id"], event["sender"]["id"]
        said, sent = event.get("message") or event["postback"], event.get("timestamp")
        return IncomingMessage(
            platform=self.name,
            message_id=said.get("mid") or f"{psid}:{sent or 0}",  # Meta's retries repeat both
            conversation_id=f"{page}:{psid}",
            user_id=psid,
            text=said.get("text", ""),
            sent_at=sent / 1000 if sent is not None else None,
            context={"psid": psid},
            media=[media.to_dict() for media in _media(said.get("attachments") or [])],
        )

    def download(self, media: Media, limit: int) -> bytes:
        """The attachment's CDN link, without the Page token, from MESSENGER_MEDIA_HOSTS only (redirects too)."""
        return fetch(self.media_http, media.ref, limit, hops=self.media_hosts.refusal)

    def send(self, reply: Reply) -> None:
        """One text message, as the answer to the user's (messaging_type RESPONSE); outside the window, tagged."""
        template = reply.context.get("template")
        kind = {"messaging_type": "MESSAGE_TAG", "tag": template["tag"]} if template else {"messaging_type": "RESPONSE"}
        self.post("me/messages", {"recipient": {"id": reply.context["psid"]}, **kind, "message": {"text": reply.text}})

    @classmethod
    def template_refusal(cls, template: dict[str, Any]) -> str:
        """Messenger sends the message itself outside the window, with a tag saying what kind of update it is."""
        return "" if template.get("tag") in TAGS else f"and a Messenger message then needs a tag: {', '.join(TAGS)}"

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """The typing_on sender action: "typing…" until the reply comes or about 20 s pass."""
        self.post("me/messages", {"recipient": {"id": context["psid"]}, "sender_action": "typing_on"})

    def set_webhook(self, url: str) -> None:
        """Subscribe the app, then the Page too: Meta sends only the fields both subscribe to."""
        super().set_webhook(url)
        self.post("me/subscribed_apps", {"subscribed_fields": self.webhook_fields})  # the Page token names the Page


def _media(attachments: list[dict[str, Any]]) -> list[Media]:
    """The photos, voice clips and files among the attachments (a file named as its link's last segment, which is all
    Messenger says of its name); stickers (an image with a sticker_id) and video are not fetched."""
    return [Media(MEDIA[kind], url, name=PurePosixPath(urlsplit(url).path).name, voice=kind == "audio")
            for attachment in attachments if (kind := attachment["type"]) in MEDIA
            and (url := (attachment["payload"] or {}).get("url")) and "sticker_id" not in attachment["payload"]]


def _from_user(event: dict[str, Any]) -> bool:
    """A message the user sent, text or attachments, not the Page's own echo; or a button they tapped."""
    message = event.get("message")
    if message is None:
        return "postback" in event
    return ("text" in message or bool(message["attachments"])) and not message["is_echo"]
