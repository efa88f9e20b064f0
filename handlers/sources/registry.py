"""Every business-event source: adding one is a module in handlers/sources/ and a line here."""

from __future__ import annotations

from bot.config import Config
from handlers.sources.base import Source
from handlers.sources.github import GitHub
from handlers.sources.hubspot import HubSpot
from handlers.sources.mailchimp import Mailchimp
from handlers.sources.paypal import PayPal
from handlers.sources.shopify import Shopify
from handlers.sources.stripe import Stripe

SOURCES: dict[str, type[Source]] = {source.name: source for source in (Stripe, Shopify, GitHub, PayPal, HubSpot, Mailchimp)}


def enabled(config: Config) -> dict[str, Source]:
    """A source for each system whose secret (PayPal: credentials) is set."""
    return {name: cls(config) for name, cls in SOURCES.items() if not cls.missing(config)}
