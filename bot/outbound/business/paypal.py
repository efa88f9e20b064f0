"""PayPal's events are verified by PayPal itself, through its verify-webhook-signature API, from the worker."""

from __future__ import annotations

import json

import requests

from bot.config import Config
from bot.errors import Permanent, Transient
from bot.outbound.business.records import BusinessEvent

DEFAULT_API_URL = "https://api-m.paypal.com"  # sandbox: https://api-m.sandbox.paypal.com
# The verify API's body fields, from the delivery's headers
HEADERS = {"auth_algo": "PAYPAL-AUTH-ALGO", "cert_url": "PAYPAL-CERT-URL", "transmission_id": "PAYPAL-TRANSMISSION-ID",
           "transmission_sig": "PAYPAL-TRANSMISSION-SIG", "transmission_time": "PAYPAL-TRANSMISSION-TIME"}
CREDENTIALS_HINT = "PayPal refused our credentials: check PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_API_URL"


def refusal(config: Config, event: BusinessEvent) -> str:
    """Why PayPal did not verify the event, or "" when it did; Transient when PayPal could not answer, Permanent on
    our credentials."""
    base = (config.setting("PAYPAL_API_URL") or DEFAULT_API_URL).rstrip("/")
    fields = {name: event.headers.get(header, "") for name, header in HEADERS.items()}
    fields["webhook_id"] = config.setting("PAYPAL_WEBHOOK_ID")
    # the event exactly as it came: whether a re-serialised one still verifies is not documented
    body = json.dumps(fields)[:-1] + ', "webhook_event": ' + event.raw + "}"
    answer = _call(config, f"{base}/v1/notifications/verify-webhook-signature", data=body.encode(),
                   headers={"Authorization": f"Bearer {_token(config, base)}", "Content-Type": "application/json"})
    if answer.status_code in (401, 403):
        raise Permanent(CREDENTIALS_HINT)
    status = _json(answer).get("verification_status") if answer.ok else None
    return "" if status == "SUCCESS" else f"PayPal did not verify it: {status or answer.status_code}"


def _token(config: Config, base: str) -> str:
    """An OAuth access token, by client credentials."""
    answer = _call(config, f"{base}/v1/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=(config.setting("PAYPAL_CLIENT_ID"), config.setting("PAYPAL_CLIENT_SECRET")))
    token = _json(answer).get("access_token") if answer.ok else None
    if not token:
        raise Permanent(f"{CREDENTIALS_HINT} (token request answered {answer.status_code})")
    return token


def _call(config: Config, url: str, **kwargs: object) -> requests.Response:
    """POST with the platforms' timeout; Transient on connection errors, timeouts, 429 and 5xx."""
    try:
        answer = requests.post(url, timeout=config.platform_timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as error:
        raise Transient(f"PayPal API unreachable: {type(error).__name__}") from None
    if answer.status_code == 429 or answer.status_code >= 500:
        raise Transient(f"PayPal API answered {answer.status_code}")
    return answer


def _json(answer: requests.Response) -> dict:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
