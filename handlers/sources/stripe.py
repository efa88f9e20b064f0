"""Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, an HMAC-SHA256 of "{t}.{raw body}" (contracts-next.md 7.1)."""

from __future__ import annotations

import hmac

from flask import Request
from marshmallow import fields

from bot.errors import Rejected
from bot.outbound.business.records import BusinessEvent
from handlers.platforms import signatures
from handlers.platforms.base import ID, Payload
from handlers.sources.base import Source, json_body

HEADER = "Stripe-Signature"


class Event(Payload):
    id = fields.String(required=True, validate=ID)
    type = fields.String(required=True, validate=ID)
    data = fields.Dict(required=True)


EVENT = Event()


class Stripe(Source):
    """A Stripe webhook endpoint's events, signed with its signing secret (whsec_...)."""

    name = "stripe"
    required = ("STRIPE_WEBHOOK_SECRET",)

    def verify(self, request: Request, key: str | None) -> None:
        """The timestamp within 5 minutes, and any `v1` entry matching: Stripe sends one per secret while one is rolled."""
        entries = [entry.strip().partition("=") for entry in request.headers.get(HEADER, "").split(",")]
        timestamp = next((value for name, _, value in entries if name == "t"), None)
        if not timestamp:
            raise Rejected(f"missing {HEADER}", 401)
        signatures.require_fresh(f"{HEADER} timestamp", timestamp)
        signed = f"{timestamp}.".encode() + request.get_data()
        expected = signatures.digest(self.secret.encode(), signed).hex().encode()
        if not any(hmac.compare_digest(expected, value.encode()) for name, _, value in entries if name == "v1"):
            raise Rejected(f"wrong {HEADER}", 403)

    def parse(self, request: Request) -> list[BusinessEvent]:
        """One event; its `id` is what Stripe's retries repeat."""
        body = json_body(request, EVENT)
        return [self.event(body["id"], body["type"], body)]
