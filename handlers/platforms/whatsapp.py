"""WhatsApp Cloud API: Graph webhooks in, /{phone_number_id}/messages out (docs/platforms.md section 3)."""

from __future__ import annotations

from typing import Any

from flask import Request
from marshmallow import ValidationError, fields, validates_schema
from redis import Redis

from bot.config import Config
from bot.errors import Permanent
from bot.media import cards
from bot.media.fetch import check_size
from bot.media.refs import Media
from bot.messages import IncomingMessage, Reply
from bot.render.format import CODE, marks
from handlers.platforms import http
from handlers.platforms.base import ID, NAME, TIME, Payload, described, load
from handlers.platforms.media import fetch
from handlers.platforms.meta import GraphError, MetaAdapter

# What a person sends: text, a choice from the bot's buttons or lists, or media the bot cannot read.
# Reactions, system and unsupported messages are not answered.
CONTENT = {"text", "interactive", "button", "image", "audio", "video", "document", "sticker", "location", "contacts"}
FORMATTING = marks({"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), **CODE})


MEDIA = {"audio": "audio", "image": "image", "document": "document"}  # message types the bot fetches, by media kind


class Text(Payload):
    body = fields.String(required=True)


class Choice(Payload):
    title = fields.String(load_default="")  # what the chat shows the user sent


class Interactive(Payload):
    button_reply = fields.Nested(Choice)  # a reply button tapped
    list_reply = fields.Nested(Choice)  # a list row picked; other kinds (Flows) carry no title


class Button(Payload):
    title = fields.String(data_key="text", load_default="")  # a template's quick-reply button: its label


class File(Payload):
    """An audio, image or document message's media: its id, fetched through the Graph API."""

    id = fields.String(required=True, validate=ID)
    mime_type = fields.String(load_default="", validate=ID)
    filename = fields.String(load_default="", validate=ID)
    caption = fields.String(load_default="")
    voice = fields.Boolean(load_default=False)  # recorded in the chat


class Place(Payload):
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    name = fields.String(load_default="")
    address = fields.String(load_default="")


class CardName(Payload):
    formatted_name = fields.String(load_default="")


class Phone(Payload):
    phone = fields.String(load_default="")


class Card(Payload):
    """A contact card the user shared: not the sender's own contact entry, which the change's `contacts` holds."""

    name = fields.Nested(CardName, load_default=dict)
    phones = fields.List(fields.Nested(Phone), load_default=list)


class Message(Payload):
    id = fields.String(required=True, validate=ID)  # the wamid: Meta's retries repeat it
    type = fields.String(required=True, validate=ID)
    timestamp = fields.Integer(validate=TIME)  # when it was sent, Unix seconds (as a string)
    sender = fields.String(data_key="from", validate=ID)  # the phone number, which users with a username may hide
    from_user_id = fields.String(validate=ID)  # the business-scoped user id (BSUID)
    text = fields.Nested(Text)
    interactive = fields.Nested(Interactive)
    button = fields.Nested(Button)
    audio = fields.Nested(File)
    image = fields.Nested(File)
    document = fields.Nested(File)
    location = fields.Nested(Place)
    contacts = fields.List(fields.Nested(Card))

    @validates_schema
    def _has_a_sender(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Someone to reply to: the phone number, the BSUID, or both."""
        if not (data.get("sender") or data.get("from_user_id")):
            raise ValidationError("a message needs from or from_user_id")


class Profile(Payload):
    name = fields.String(load_default="", validate=NAME)


class Contact(Payload):
    wa_id = fields.String(validate=ID)
    user_id = fields.String(validate=ID)
    profile = fields.Nested(Profile, load_default=dict)


class Metadata(Payload):
    phone_number_id = fields.String(validate=ID)


class Value(Payload):
    metadata = fields.Nested(Metadata, load_default=dict)
    contacts = fields.List(fields.Nested(Contact), load_default=list)
    messages = fields.List(fields.Nested(Message), load_default=list)  # absent on statuses and errors


class Change(Payload):
    value = fields.Nested(Value, required=True)


class Entry(Payload):
    changes = fields.List(fields.Nested(Change), load_default=list)


class Notification(Payload):
    entry = fields.List(fields.Nested(Entry), required=True)


NOTIFICATION = Notification()


class WhatsApp(MetaAdapter):
    """A WhatsApp Business number whose Meta app sends its webhooks to /webhooks/whatsapp."""

    name = "whatsapp"
    title = "WhatsApp"
    prefix = "WHATSAPP"
    max_text = 4096
    format = FORMATTING
    required = ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
    token_setting = "WHATSAPP_ACCESS_TOKEN"
    webhook_object = "whatsapp_business_account"
    typing_every = 20  # WhatsApp shows the indicator for up to 25 s
    reply_window = 24 * 3600  # free-form text only within 24 hours of the user's last message (else error 131047)
    rate_limits = frozenset({4, 80007, 130429, 131056})  # app, business use case, throughput, pair rate
    sample_payload = {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "100000000000000"},
        "messages": [{"from": "15550000000", "id": "wamid.SAMPLE_ID", "timestamp": "SAMPLE_TIME", "type": "text",
                      "text": {"body": "SAMPLE_TEXT"}}]}}]}]}
    refusals = {(131047, None): "WhatsApp refused free-form text: the user's last message is more than 24 hours old "
                                "(131047); reply with an approved template instead",
                (132001, None): "WhatsApp has no approved template of that name in that language (132001): check the "
                                "template's name and language in WhatsApp Manager"}

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.phone_number_id = config.setting("WHATSAPP_PHONE_NUMBER_ID")

    def parse(self, request: Request) -> list[IncomingMessage]:
        """Every message a person sent in the notification, which may batch entries, changes and messages.

        A tapped button or list row reads as its title. Status callbacks and errors carry no messages; media comes
        with text "" (the turn answers it with a notice).
        """
        notification = load(NOTIFICATION, request)
        return [self._incoming(change["value"], message)
                for entry in notification["entry"] for change in entry["changes"]
                for message in change["value"]["messages"] if message["type"] in CONTENT]

    def _incoming(self, value: dict[str, Any], message: dict[str, Any]) -> IncomingMessage:
        """One message, keyed on the business number and the user's BSUID, else their phone number."""
        number = value["metadata"].get("phone_number_id") or self.phone_number_id
        contact = _contact(value["contacts"], message)
        user = message.get("from_user_id") or contact.get("user_id") or message["sender"]
        # Meta asks for the phone number when there is one; the BSUID reaches users who hide theirs.
        target = {"to": message["sender"]} if message.get("sender") else {"recipient": user}
        return IncomingMessage(
            platform=self.name,
            message_id=message["id"],
            conversation_id=f"{number}:{user}",
            user_id=user,
            user_name=contact.get("profile", {}).get("name", ""),
            text=_said(message),
            sent_at=message.get("timestamp"),
            context={"phone_number_id": number, "target": target, "message_id": message["id"]},
            media=[media.to_dict() for media in _media(message)],
        )

    def send(self, reply: Reply) -> None:
        """One text message to the user, from the number they wrote to; outside the window, the template instead."""
        template = reply.context.get("template")
        content = {"type": "template", "template": cloud_template(template)} if template else {
            "type": "text", "text": {"preview_url": False, "body": reply.text}}
        self.post(f"{reply.context['phone_number_id']}/messages", {
            "messaging_product": "whatsapp", "recipient_type": "individual", **reply.context["target"], **content})

    @classmethod
    def template_refusal(cls, template: dict[str, Any]) -> str:
        """A Cloud API template is named by its name and language, as approved in WhatsApp Manager."""
        return "" if template.get("name") and template.get("language") else "and a WhatsApp template needs a name and a language"

    @classmethod
    def template_text(cls, template: dict[str, Any]) -> str:
        return described(template)

    def download(self, media: Media, limit: int) -> bytes:
        """The media id's URL from the Graph API (valid 5 minutes), then the file, both with the access token."""
        check_size(media.size, limit)
        response = self.http.request("GET", f"{self.api_url}/{media.ref}", headers=self.auth)
        if not response.ok:
            raise self.error(GraphError.of(response))
        found = http.json_body(response)
        check_size(found.get("file_size"), limit)
        url = str(found.get("url", ""))
        if not url.startswith(("https://", "http://")):
            raise Permanent(f"WhatsApp gave no URL for media {media.ref}", kind="media_refused")
        return fetch(self.http, url, limit, self.auth if self.own_host(url) else None)

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Mark the user's message read and show "typing…" until the reply comes or 25 s pass."""
        self.post(f"{context['phone_number_id']}/messages", {
            "messaging_product": "whatsapp", "status": "read", "message_id": context["message_id"],
            "typing_indicator": {"type": "text"},
        })


def cloud_template(template: dict[str, Any]) -> dict[str, Any]:
    """The Cloud API's template object: its body parameters in order, or by name for a template made with named ones."""
    parameters = template.get("parameters") or []
    if isinstance(parameters, dict):
        body = [{"type": "text", "parameter_name": name, "text": value} for name, value in parameters.items()]
    else:
        body = [{"type": "text", "text": value} for value in parameters]
    named = {"name": template["name"], "language": {"code": template["language"]}}
    return {**named, "components": [{"type": "body", "parameters": body}]} if body else named


def _said(message: dict[str, Any]) -> str:
    """The user's words: their text, the title of the button or list row they chose, a photo's or document's caption,
    or a shared location or contact cards as text."""
    interactive = message.get("interactive", {})
    choice = interactive.get("button_reply") or interactive.get("list_reply") or message.get("button") or {}
    caption = (message.get("image") or message.get("document") or {}).get("caption", "")
    return message.get("text", {}).get("body") or choice.get("title", "") or caption or _cards(message)


def _cards(message: dict[str, Any]) -> str:
    """A shared location, or each shared contact card on a line; "" for anything else."""
    if place := message.get("location"):
        return cards.location(place["latitude"], place["longitude"], place["name"], place["address"])
    return "\n".join(cards.contact(card["name"]["formatted_name"], *(phone["phone"] for phone in card["phones"]))
                     for card in message.get("contacts") or [])


def _media(message: dict[str, Any]) -> list[Media]:
    """The voice note, audio file, photo or document the message carries."""
    file = message.get(message["type"]) if message["type"] in MEDIA else None
    if not file:
        return []
    return [Media(MEDIA[message["type"]], file["id"], file["mime_type"], file["filename"], voice=file["voice"])]


def _contact(contacts: list[dict[str, Any]], message: dict[str, Any]) -> dict[str, Any]:
    """The contact entry for the message's sender: the same phone number or the same BSUID."""
    ids = {message.get("sender"), message.get("from_user_id")} - {None}
    return next((contact for contact in contacts if ids & {contact.get("wa_id"), contact.get("user_id")}), {})
