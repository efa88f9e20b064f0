"""Shopify: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body (contracts-next.md 7.2)."""

from __future__ import annotations

import base64

from flask import Request

from bot.outbound.business.records import BusinessEvent
from handlers.platforms import signatures
from handlers.sources.base import Source, json_body

HEADER = "X-Shopify-Hmac-Sha256"


class Shopify(Source):
    """A Shopify app's (or a store's admin) webhooks, signed with the app's client secret or the admin's signing key."""

    name = "shopify"
    required = ("SHOPIFY_WEBHOOK_SECRET",)

    def verify(self, request: Request, key: str | None) -> None:
        """The base64 HMAC of the raw body, in constant time."""
        expected = base64.b64encode(signatures.digest(self.secret.encode(), request.get_data())).decode()
        signatures.require(HEADER, request.headers.get(HEADER), expected)

    def parse(self, request: Request) -> list[BusinessEvent]:
        """One event: its topic from X-Shopify-Topic, its id from X-Shopify-Webhook-Id (repeated by Shopify's retries)."""
        body = json_body(request)
        return [self.event(request.headers.get("X-Shopify-Webhook-Id"), request.headers.get("X-Shopify-Topic"), body)]
