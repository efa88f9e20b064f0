"""<NAME>_ALLOWED_IPS: webhooks from other addresses are refused with 403 before anything is read."""

from __future__ import annotations

import pytest

from app import create_app
from bot.config import ConfigError
from tests.business import SOURCES, payment_intent, post_shopify, post_stripe
from tests.conftest import TELEGRAM_SECRET
from tests.helpers import Bot, stored, texts, update

ALLOWED = "203.0.113.0/24,2001:db8::/32"  # the platform's published ranges, as an operator copies them
ROUTER = "10.1.2.3"  # the proxy in front, as TRUSTED_PROXIES=1 (the default) trusts


def post(b: Bot, remote: str, forwarded: str | None = None, payload: object = None):
    """A Telegram update from `remote`, with an X-Forwarded-For header if given."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, **({"X-Forwarded-For": forwarded} if forwarded else {})}
    body = payload or update("hi")
    return b.client.post("/webhooks/telegram", json=body, headers=headers, environ_base={"REMOTE_ADDR": remote})


def test_an_address_in_the_list_is_answered_and_another_is_refused_unread(settings, redis, telegram):
    b = Bot(settings, TELEGRAM_ALLOWED_IPS=ALLOWED, TRUSTED_PROXIES="0")
    refused = post(b, "198.51.100.7", payload={"not": "an update"})
    assert refused.status_code == 403 and "TELEGRAM_ALLOWED_IPS" in refused.get_json()["error"]  # not 400: never parsed
    assert stored(redis) == [] and redis.keys("bot:rejects*") == []
    for address in ("203.0.113.9", "2001:db8::7", "::ffff:203.0.113.10"):  # the last: IPv4 on a dual-stack socket
        assert post(b, address).status_code == 200
        b.run()
    assert len(texts(telegram)) == 3


def test_facing_clients_directly_a_forged_forwarded_for_is_not_believed(settings, redis):
    b = Bot(settings, TELEGRAM_ALLOWED_IPS=ALLOWED, TRUSTED_PROXIES="0")
    assert post(b, "198.51.100.7", forwarded="203.0.113.9").status_code == 403
    assert stored(redis) == []


def test_behind_the_router_only_the_address_it_saw_counts(settings):
    b = Bot(settings, TELEGRAM_ALLOWED_IPS=ALLOWED)
    assert post(b, ROUTER, forwarded="203.0.113.9").status_code == 200
    # A client's own X-Forwarded-For comes first; the router appends the address it saw, the only one believed.
    assert post(b, ROUTER, forwarded="203.0.113.9, 198.51.100.7").status_code == 403
    assert post(b, ROUTER).status_code == 403  # the router itself is not the platform


def test_other_platforms_and_an_empty_setting_are_not_restricted(settings):
    b = Bot(settings, WHATSAPP_ALLOWED_IPS=ALLOWED, TELEGRAM_ALLOWED_IPS=" ", TRUSTED_PROXIES="0")
    assert post(b, "198.51.100.7").status_code == 200


def test_an_event_source_is_restricted_by_its_own_name(settings, redis):
    client = Bot(settings, **SOURCES, STRIPE_ALLOWED_IPS="203.0.113.0/24", TRUSTED_PROXIES="0").client
    refused = post_stripe(client, payment_intent(), environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert refused.status_code == 403 and stored(redis) == []
    assert post_stripe(client, payment_intent(), environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    assert post_shopify(client, {"id": 1}, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


@pytest.mark.parametrize("value", ["203.0.113.0/33", "203.0.113.9/24", "example.com", "203.0.113.0/24;10.0.0.0/8"])
def test_a_malformed_network_stops_the_start_saying_what_to_fix(settings, value):
    with pytest.raises(ConfigError, match="TELEGRAM_ALLOWED_IPS: .*CIDR"):
        create_app({**settings, "TELEGRAM_ALLOWED_IPS": value})
