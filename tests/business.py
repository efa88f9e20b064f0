"""Business events signed exactly as each vendor signs them (contracts-next.md section 7), independently of the code
under test, and the settings that enable every source."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import stripe

STRIPE_SECRET = "whsec_test"
SHOPIFY_SECRET = "shpss_example"
GITHUB_SECRET = "It's a Secret to Everybody"
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
MAILCHIMP_KEY = "mc-8f3a1c0b9e2d4f67a5b1"
PUBLIC_BASE_URL = "https://bot.example.com"
PAYPAL_WEBHOOK_ID = "8PT597110X687430LKGECATA"
SOURCES = {"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET, "SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
           "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
           "MAILCHIMP_WEBHOOK_KEY": MAILCHIMP_KEY, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
           "PAYPAL_CLIENT_ID": "paypal-client-id", "PAYPAL_CLIENT_SECRET": "paypal-client-secret",
           "PAYPAL_WEBHOOK_ID": PAYPAL_WEBHOOK_ID}


def shopify_hmac(body: bytes, secret: str = SHOPIFY_SECRET) -> str:
    """Shopify's X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def github_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    """GitHub's X-Hub-Signature-256: sha256= and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hubspot_v3(method: str, uri: str, body: bytes, timestamp: str, secret: str = HUBSPOT_SECRET) -> str:
    """HubSpot's X-HubSpot-Signature-v3: base64 of the HMAC-SHA256 of method + URI + body + timestamp (ms)."""
    signed = (method + uri + body.decode() + timestamp).encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def payment_intent(conversation: str = "telegram:123456789", event_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A Stripe payment_intent.succeeded event, shaped as Stripe's API reference shows it."""
    intent = {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": 2500, "amount_received": 2500,
              "currency": "eur", "description": "Order #1042", "status": "succeeded", "livemode": False,
              "metadata": {"conversation": conversation}, **changes}
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2024-06-20",
            "created": int(time.time()), "type": "payment_intent.succeeded", "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "data": {"object": intent}}


def post_stripe(client, event: dict[str, Any], secret: str = STRIPE_SECRET, timestamp: int | None = None, header: str = "",
                **kwargs: Any):
    """POST as Stripe does: the body signed by the stripe SDK's own test helper."""
    body = json.dumps(event, indent=2)
    signature = header or stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return client.post("/events/stripe", data=body, headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                       **kwargs)


def post_shopify(client, payload: dict[str, Any], topic: str = "orders/fulfilled", webhook_id: str | None = None,
                 secret: str = SHOPIFY_SECRET, **kwargs: Any):
    body = json.dumps(payload).encode()
    headers = {"X-Shopify-Hmac-Sha256": shopify_hmac(body, secret), "X-Shopify-Topic": topic, "Content-Type": "application/json",
               "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "X-Shopify-Shop-Domain": "shop.myshopify.com"}
    return client.post("/events/shopify", data=body, headers=headers, **kwargs)


def post_github(client, payload: dict[str, Any] | bytes, event: str = "push", delivery: str | None = None,
                secret: str = GITHUB_SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-Hub-Signature-256": github_signature(body, secret), "X-GitHub-Event": event, "Content-Type": "application/json",
               "X-GitHub-Delivery": delivery or str(uuid.uuid4()), "User-Agent": "GitHub-Hookshot/044aadd"}
    return client.post("/events/github", data=body, headers=headers)


def hubspot_batch(*event_ids: int, kind: str = "contact.creation") -> list[dict[str, Any]]:
    """HubSpot's webhook payload: a JSON array of events (its v1 sample's shape)."""
    return [{"eventId": event_id, "subscriptionId": 12345, "portalId": 62515, "occurredAt": 1564113600000,
             "subscriptionType": kind, "attemptNumber": 0, "objectId": 123, "changeSource": "CRM", "changeFlag": "NEW",
             "appId": 54321}
            for event_id in event_ids]


def post_hubspot(client, batch: Any, timestamp: str | None = None, base: str = PUBLIC_BASE_URL):
    body = json.dumps(batch).encode()
    timestamp = timestamp or str(int(time.time() * 1000))
    headers = {"X-HubSpot-Signature-v3": hubspot_v3("POST", f"{base}/events/hubspot", body, timestamp),
               "X-HubSpot-Request-Timestamp": timestamp, "Content-Type": "application/json"}
    return client.post("/events/hubspot", data=body, headers=headers)


def mailchimp_form(email: str = "ada@example.com", name: str = "Ada", kind: str = "subscribe") -> dict[str, str]:
    """What Mailchimp posts for a subscribe: bracketed form fields."""
    return {"type": kind, "fired_at": "2026-12-01 10:15:00", "data[id]": "8a25ff1d98", "data[list_id]": "a6b5da1054",
            "data[email]": email, "data[email_type]": "html", "data[merges][EMAIL]": email, "data[merges][FNAME]": name,
            "data[merges][LNAME]": "Lovelace", "data[ip_opt]": "10.20.10.30", "data[web_id]": "3375995"}


def post_mailchimp(client, form: dict[str, str], key: str = MAILCHIMP_KEY):
    return client.post(f"/events/mailchimp/{key}", data=urlencode(form), content_type="application/x-www-form-urlencoded")


def paypal_event(event_id: str = "WH-2WR32451HC0233532-67976317FL4543714", conversation: str = "telegram:123456789") -> dict:
    """A PayPal PAYMENT.CAPTURE.COMPLETED event, shaped as PayPal's samples."""
    return {"id": event_id, "event_version": "1.0", "create_time": "2026-12-01T10:15:00.000Z", "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Payment completed for EUR 25.0 EUR",
            "resource": {"id": "42311647XV020574X", "amount": {"currency_code": "EUR", "value": "25.00"}, "status": "COMPLETED",
                         "custom_id": conversation}}


PAYPAL_HEADERS = {"PAYPAL-AUTH-ALGO": "SHA256withRSA", "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-1",
                  "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55", "PAYPAL-TRANSMISSION-SIG": "lmI95Jx3Y9nhR5SJ",
                  "PAYPAL-TRANSMISSION-TIME": "2026-12-01T10:15:01Z"}


def post_paypal(client, event: dict[str, Any], headers: dict[str, str] | None = None):
    body = json.dumps(event, separators=(",", ":"))
    return client.post("/events/paypal", data=body,
                       headers={**(PAYPAL_HEADERS if headers is None else headers), "Content-Type": "application/json"})
