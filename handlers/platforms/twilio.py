"""Twilio Messaging, SMS and WhatsApp: signed form webhooks in, Messages.json out (docs/platforms.md section 5)."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any, Iterable
from urllib.parse import urlencode, urlparse

import requests
from flask import Request, Response
from marshmallow import fields, pre_load, validate
from redis import Redis

from bot.config import Config
from bot.errors import BotError, Permanent, Transient
from bot.media import cards
from bot.media.refs import Media, kind_of
from bot.messages import AfterTimeout, IncomingMessage, Reply
from handlers.platforms import http, signatures
from handlers.platforms.base import ID, NAME, Adapter, Payload, Sample, described, validate_payload
from handlers.platforms.media import fetch
from handlers.platforms.whatsapp import WhatsApp

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Replies go through the REST API, so the webhook's TwiML answer asks Twilio to send nothing itself.
LATE_SEND_SECONDS = 600  # how far back a part answered too late is looked for
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
AUTH_HINT = "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
HINTS = {  # Twilio error codes whose message alone does not tell the operator what happened
    21610: "the user has unsubscribed (they texted STOP) and must text START before the bot can answer",
    63016: "WhatsApp allows free-form replies only within 24 hours of the user's last message",
    63028: "the template's variables do not match its placeholders: give one for each, numbered 1, 2, 3 with no gaps",
}
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")  # a Content Template Builder template, which Twilio has WhatsApp approve


MAX_MEDIA = 10  # Twilio's most per message


def _required() -> fields.String:
    """A required, non-empty field: an empty MessageSid would dedupe every message as the same one."""
    return fields.String(required=True, validate=validate.Length(min=1, max=ID.max))


class Medium(Payload):
    url = fields.String(required=True, validate=validate.Length(max=2048))  # on Twilio's API host, behind basic auth
    type = fields.String(load_default="", validate=ID)


class Inbound(Payload):
    """An incoming message webhook: the fields the bot uses, named as Twilio sends them."""

    MessageSid = _required()
    From = _required()
    To = _required()
    Body = fields.String(load_default="")
    NumMedia = fields.Integer(load_default=0)
    Latitude = fields.Float()  # a location shared on WhatsApp, which comes with an empty Body
    Longitude = fields.Float()
    Label = fields.String(load_default="")
    Address = fields.String(load_default="")
    ProfileName = fields.String(load_default="", validate=NAME)  # WhatsApp only
    media = fields.List(fields.Nested(Medium), load_default=list)  # MediaUrlN and MediaContentTypeN, N from 0

    @pre_load
    def _media(self, data: Any, **kwargs: Any) -> Any:
        """Gather the numbered media fields into one list: NumMedia's own field says what is wrong with it."""
        if not isinstance(data, dict) or not str(data.get("NumMedia", "")).isdigit():
            return data
        count = min(int(data["NumMedia"]), MAX_MEDIA)
        return {**data, "media": [{"url": data.get(f"MediaUrl{n}"), "type": data.get(f"MediaContentType{n}", "")}
                                  for n in range(count)]}


INBOUND = Inbound()


class Twilio(Adapter):
    """A Twilio phone number or WhatsApp sender whose "A message comes in" webhook is /webhooks/twilio."""

    name = "twilio"
    prefix = "TWILIO"
    max_text = 1600  # Messages.json's limit for Body
    required = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    dedupe_ttl = 86400  # Twilio retries only when the URL asks it to (#rc=), within minutes
    default_api_url = "https://api.twilio.com"

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        account, self.token = config.setting("TWILIO_ACCOUNT_SID"), config.setting("TWILIO_AUTH_TOKEN")
        self.auth = (account, self.token)
        self.public_base_url = config.setting("PUBLIC_BASE_URL")
        self.api_origin = urlparse(self.api_url)[:2]  # scheme and host: the only place the credentials fetch media from
        self.account_url = f"{self.api_url}/2010-04-01/Accounts/{account}"
        self.phone_number = config.setting("TWILIO_PHONE_NUMBER")  # only the webhook commands need it

    def verify(self, request: Request) -> None:
        """X-Twilio-Signature over the public URL and every form value, in constant time."""
        url = public_url(request, self.public_base_url)
        params = list(request.form.items(multi=True))
        # Twilio signs the URL with or without its port, inconsistently: accept either, as twilio-python does.
        expected = [sign(self.token, variant, params) for variant in port_variants(url)]
        given = request.headers.get(SIGNATURE_HEADER)
        signatures.require(SIGNATURE_HEADER, given, _matching(given, expected))

    def parse(self, request: Request) -> list[IncomingMessage]:
        """The message's text; "" for media or a location without text (the turn answers those with a notice)."""
        form = validate_payload(INBOUND, request.form.to_dict())
        if not (form["Body"].strip() or form["NumMedia"] or "Latitude" in form):
            return []  # nothing at all to answer: an empty SMS, or a status callback
        return [IncomingMessage(
            platform=self.name,
            message_id=form["MessageSid"],
            conversation_id=f"{form['From']}:{form['To']}",  # one user may write to several of our numbers
            user_id=form["From"],
            user_name=form["ProfileName"],
            text=form["Body"].strip() or _place(form),
            context={"from": form["From"], "to": form["To"]},
            media=[Media(kind_of(item["type"]), item["url"], item["type"]).to_dict()
                   for item in form["media"]],
        )]

    def download(self, media: Media, limit: int) -> bytes:
        """GET the MediaUrl with the account's basic auth, on Twilio's API host only; requests follows its redirect to
        the media store without the credentials (it drops them on a hop to another host)."""
        if urlparse(media.ref)[:2] != self.api_origin:
            raise Permanent(f"Twilio media URL on {urlparse(media.ref).hostname}, not TWILIO_API_URL's host: "
                            "not fetched with the account's credentials", kind="media_refused")
        return fetch(self.http, media.ref, limit, auth=self.auth)

    def acknowledge(self) -> Response:
        """The 200 answer, as TwiML: Twilio logs a JSON answer as warning 12300."""
        return Response(EMPTY_TWIML, mimetype="text/xml")

    def send(self, reply: Reply) -> None:
        """Messages.json from the number the user wrote to; `whatsapp:` addresses pass through unchanged. Outside
        WhatsApp's window, the Content template instead of a Body."""
        template = reply.context.get("template")
        content = _content(template) if template else {"Body": reply.text}
        message = {"To": reply.context["from"], "From": reply.context["to"], **content}
        response = self.http.post(f"{self.account_url}/Messages.json", data=message, auth=self.auth)
        if not response.ok:
            raise _error(response)

    @classmethod
    def window(cls, contact: IncomingMessage) -> int:
        """WhatsApp's window for the users who write through Twilio's WhatsApp senders; SMS has none."""
        return WhatsApp.reply_window if str(contact.context.get("from", "")).startswith("whatsapp:") else 0

    @classmethod
    def template_refusal(cls, template: dict[str, Any]) -> str:
        """Through Twilio a WhatsApp template is a Content template, named by its Content SID."""
        if CONTENT_SID.fullmatch(template.get("name") or ""):
            return ""
        return "and a WhatsApp template through Twilio is named by its Content SID (HX and 32 hex digits)"

    @classmethod
    def template_text(cls, template: dict[str, Any]) -> str:
        return described(template)

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """Look for the part among the newest messages to the user: resend only if Twilio has no such message. A
        template's text is Twilio's, not ours to compare: it is not resent."""
        if reply.context.get("template"):
            return AfterTimeout.UNKNOWN
        params = {"To": reply.context["from"], "From": reply.context["to"], "PageSize": 20}
        try:
            response = self.http.request("GET", f"{self.account_url}/Messages.json", params=params, auth=self.auth)
        except Transient:
            return AfterTimeout.UNKNOWN
        if not response.ok:
            return AfterTimeout.UNKNOWN
        recent = [message for message in http.json_body(response).get("messages") or [] if _recent(message)]
        return AfterTimeout.DELIVERED if any(message.get("body") == reply.text for message in recent) else AfterTimeout.RESEND

    def set_webhook(self, url: str) -> None:
        """Point TWILIO_PHONE_NUMBER's "A message comes in" webhook at `url`, by HTTP POST."""
        self._update_number({"SmsUrl": url, "SmsMethod": "POST"})

    def show_webhook(self) -> dict[str, Any]:
        """The number's SMS webhook as Twilio has it."""
        number = self._number()
        return {name: number.get(name) for name in ("phone_number", "sms_url", "sms_method")}

    def delete_webhook(self) -> None:
        """Clear the number's SMS webhook: messages to it then reach no webhook."""
        self._update_number({"SmsUrl": ""})

    def _number(self) -> dict[str, Any]:
        """TWILIO_PHONE_NUMBER's IncomingPhoneNumber resource: the webhook is a setting of the number."""
        if not self.phone_number:
            raise Permanent("set TWILIO_PHONE_NUMBER to the number whose webhook to manage, in E.164 (+15551234567)")
        response = self.http.request("GET", f"{self.account_url}/IncomingPhoneNumbers.json",
                                     params={"PhoneNumber": self.phone_number}, auth=self.auth)
        if not response.ok:
            raise _error(response, "IncomingPhoneNumbers")
        numbers = http.json_body(response).get("incoming_phone_numbers") or []
        if not numbers:
            raise Permanent(f"the Twilio account has no number {self.phone_number}: check TWILIO_PHONE_NUMBER")
        return numbers[0]

    def _update_number(self, changes: dict[str, str]) -> None:
        """Change settings of TWILIO_PHONE_NUMBER."""
        url = f"{self.account_url}/IncomingPhoneNumbers/{self._number()['sid']}.json"
        response = self.http.post(url, data=changes, auth=self.auth)
        if not response.ok:
            raise _error(response, "IncomingPhoneNumbers")

    def sample(self, url: str, text: str) -> Sample:
        """An SMS from a sample number, signed over `url` as Twilio signs the URL it calls."""
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+15550000000", "To": "+15551111111", "Body": text,
                "NumMedia": "0"}
        headers = {"Content-Type": "application/x-www-form-urlencoded", SIGNATURE_HEADER: sign(self.token, url, form.items())}
        return headers, urlencode(form).encode()


def _content(template: dict[str, Any]) -> dict[str, str]:
    """ContentSid, and ContentVariables as the JSON string Twilio takes: placeholders by number (1, 2, ...) or by name."""
    parameters = template.get("parameters") or []
    variables = parameters if isinstance(parameters, dict) else {str(n): value for n, value in enumerate(parameters, 1)}
    return {"ContentSid": template["name"], **({"ContentVariables": json.dumps(variables)} if variables else {})}


def _place(form: dict[str, Any]) -> str:
    """A location shared on WhatsApp as text; "" for anything else."""
    if "Latitude" not in form or "Longitude" not in form:
        return ""
    return cards.location(form["Latitude"], form["Longitude"], form["Label"], form["Address"])


def _recent(message: dict[str, Any]) -> bool:
    """Created in the last few minutes: an older message with the same text is another reply."""
    try:
        created = parsedate_to_datetime(message.get("date_created") or "").timestamp()
    except (TypeError, ValueError):
        return False
    return time.time() - created < LATE_SEND_SECONDS


def sign(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The X-Twilio-Signature of a form POST to `url`: pairs sorted by name then value, repeats once."""
    signed = url + "".join(name + value for name, value in sorted(set(params)))
    return base64.b64encode(signatures.digest(token.encode(), signed.encode(), "sha1")).decode()


def port_variants(url: str) -> list[str]:
    """The URL without its port, and with one (the scheme's default when it has none)."""
    parts = urlparse(url)
    try:
        port = parts.port
    except ValueError:  # a malformed Host header: not a URL Twilio signed
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if port else parts.netloc
    with_port = f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"
    return [parts._replace(netloc=host).geturl(), parts._replace(netloc=with_port).geturl()]


def public_url(request: Request, base: str) -> str:
    """The URL Twilio requested: PUBLIC_BASE_URL, else the request's own (app.py's ProxyFix believes only TRUSTED_PROXIES
    hops), plus path and query as sent."""
    query = request.query_string.decode("latin-1")
    return (base or request.host_url).rstrip("/") + request.path + (f"?{query}" if query else "")


def _matching(given: str | None, expected: list[str]) -> str:
    """The expected signature equal to `given` (compared in constant time), else the first, to be refused."""
    matches = [sig for sig in expected if hmac.compare_digest(sig.encode(), (given or "").encode())]
    return (matches or expected)[0]


def _error(response: requests.Response, resource: str = "Messages.json") -> BotError:
    """The bot's error for a refused call: 429 and 5xx are worth retrying, the rest are not."""
    body = http.json_body(response)
    code = body.get("code")
    error = f", error {code}" if code else ""
    detail = f"Twilio {resource} failed (HTTP {response.status_code}{error}): {body.get('message') or response.reason}"
    if http.retryable(response):
        return http.transient(response, detail)
    hint = AUTH_HINT if response.status_code == 401 else HINTS.get(code)
    return Permanent(f"{detail}; {hint}" if hint else detail)

