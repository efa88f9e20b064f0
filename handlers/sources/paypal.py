"""PayPal: verified by PayPal's own verify-webhook-signature API, called from the worker (bot/business/paypal.py)."""

from __future__ import annotations

from flask import Request
from marshmallow import fields

from bot.errors import Rejected
from bot.outbound.business.paypal import HEADERS
from bot.outbound.business.records import BusinessEvent
from handlers.platforms.base import ID, Payload
from handlers.sources.base import Source, json_body


class Event(Payload):
    id = fields.String(required=True, validate=ID)
    event_type = fields.String(required=True, validate=ID)


EVENT = Event()


class PayPal(Source):
    """A PayPal app's webhook: kept with its transmission headers until PayPal has verified it."""

    name = "paypal"
    required = ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET", "PAYPAL_WEBHOOK_ID")
    signed = False  # anyone may post here: refused payloads are kept apart from the signed sources'

    def verify(self, request: Request, key: str | None) -> None:
        """Only that PayPal's transmission headers are there: the signature is PayPal's to check, in the worker."""
        if not all(request.headers.get(header) for header in HEADERS.values()):
            raise Rejected(f"missing PayPal transmission headers: {', '.join(HEADERS.values())}", 401)

    def parse(self, request: Request) -> list[BusinessEvent]:
        """One event, its raw body and headers kept for the verify API; its `id` is what PayPal's retries repeat."""
        body = json_body(request, EVENT)
        headers = {header: request.headers[header] for header in HEADERS.values()}
        return [self.event(body["id"], body["event_type"], body, raw=request.get_data(as_text=True), headers=headers)]
