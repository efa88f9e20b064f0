"""HubSpot: `X-HubSpot-Signature-v3`, the base64 HMAC-SHA256 of method, full URI, body and timestamp (contracts-next.md 7.5)."""

from __future__ import annotations

import base64

from flask import Request
from marshmallow import fields, validate

from bot.errors import Rejected
from bot.outbound.business.records import BusinessEvent
from handlers.platforms import signatures
from handlers.platforms.base import ID, INT64, Payload
from handlers.platforms.twilio import public_url
from handlers.sources.base import Source, json_body

HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP = "X-HubSpot-Request-Timestamp"  # milliseconds since the epoch
MAX_BATCH = 100  # events in one delivery


class Event(Payload):
    eventId = fields.Integer(required=True, strict=True, validate=INT64)  # noqa: N815  (HubSpot's name)
    subscriptionType = fields.String(required=True, validate=validate.And(validate.Length(min=1), ID))  # noqa: N815


EVENT = Event()


class HubSpot(Source):
    """A HubSpot app's webhook subscriptions, signed with the app's client secret."""

    name = "hubspot"
    required = ("HUBSPOT_CLIENT_SECRET",)

    def verify(self, request: Request, key: str | None) -> None:
        """Signed within 5 minutes, over the URL HubSpot called: PUBLIC_BASE_URL, as for Twilio, behind a proxy."""
        timestamp = request.headers.get(TIMESTAMP, "")
        signatures.require_fresh(TIMESTAMP, timestamp, per_second=1000)
        url = public_url(request, self.config.setting("PUBLIC_BASE_URL"))
        signed = f"{request.method}{url}".encode() + request.get_data() + timestamp.encode()
        expected = base64.b64encode(signatures.digest(self.secret.encode(), signed)).decode()
        signatures.require(HEADER, request.headers.get(HEADER), expected)

    def parse(self, request: Request) -> list[BusinessEvent]:
        """A batch of up to 100 events, each its own, deduped on its eventId."""
        batch = json_body(request, EVENT, kind=list)
        if not 0 < len(batch) <= MAX_BATCH:
            raise Rejected(f"a HubSpot delivery carries 1 to {MAX_BATCH} events, not {len(batch)}")
        return [self.event(item["eventId"], item["subscriptionType"], item) for item in batch]
