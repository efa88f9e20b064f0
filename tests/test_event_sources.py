"""POST /events/<source>: each source verified its own way on the raw bytes, its events kept once, before the 2xx."""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import urlencode

import pytest
import stripe
from rq import Queue

from bot import keys
from bot.ops import rejects
from bot.outbound.business import records, rules
from bot.worker.local import free_port
from handlers.sources import registry
from tests.business import (
    GITHUB_SECRET,
    HUBSPOT_SECRET,
    MAILCHIMP_KEY,
    SHOPIFY_SECRET,
    SOURCES,
    STRIPE_SECRET,
    github_signature,
    hubspot_batch,
    hubspot_v3,
    mailchimp_form,
    payment_intent,
    paypal_event,
    post_github,
    post_hubspot,
    post_mailchimp,
    post_paypal,
    post_shopify,
    post_stripe,
    shopify_hmac,
)
from tests.helpers import Bot, stored


@pytest.fixture
def b(settings) -> Bot:
    return Bot(settings, **SOURCES)


def kept(redis, source: str) -> list[records.BusinessEvent]:
    """The events kept for a source, whatever their ids."""
    return [records.get(redis, source, name.decode().rsplit(":", 1)[1]) for name in redis.keys(keys.business_event(source, "*"))]


def queued(redis) -> list[tuple]:
    """The arguments of the event jobs waiting on the worker's events queue."""
    return [job.args for job in Queue("events", connection=redis).jobs]


# The signers the tests use are the vendors' documented algorithms: checked here against the contracts' vectors first.

def test_the_test_signers_reproduce_the_vendors_vectors():
    assert github_signature(b"Hello, World!", GITHUB_SECRET) == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    assert shopify_hmac(b'{"id":1}', SHOPIFY_SECRET) == "QvBzlTPo5RYh0lGvEXvN6nLJRmU2XrsL6x7vnfUCHCs="
    body = json.dumps(hubspot_batch(1), separators=(",", ":")).encode()
    assert hubspot_v3("POST", "https://www.example.com/webhook_uri", body, "1564113600000", HUBSPOT_SECRET) == (
        "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=")
    header = stripe.WebhookSignature.generate_signature_header('{"id":"evt_1"}', STRIPE_SECRET, 1700000000)
    assert header == "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"


def test_a_stripe_event_signed_by_the_sdk_is_kept_and_queued_once(b, redis):
    event = payment_intent()
    assert post_stripe(b.client, event).get_json() == {"ok": True}
    assert post_stripe(b.client, event).status_code == 200  # Stripe's retry: answered, not kept again
    [found] = kept(redis, "stripe")
    assert (found.event_id, found.kind, found.payload) == (event["id"], "payment_intent.succeeded", event)
    assert queued(redis) == [("stripe", event["id"])]
    shown = json.loads(b.app.test_cli_runner().invoke(args=["outcome", "events", f"stripe:{event['id']}"]).output)
    assert shown["outcome"] is None and shown["event"]["payload"] == event  # waiting for a worker, and inspectable


def test_stripe_forged_stale_and_unsigned_deliveries_are_refused(b, redis):
    event = payment_intent()
    assert post_stripe(b.client, event, secret="whsec_other").status_code == 403
    assert post_stripe(b.client, event, timestamp=int(time.time()) - 301).status_code == 403
    assert post_stripe(b.client, event, header="v1=" + "0" * 64).status_code == 401
    assert post_stripe(b.client, event, header=f"t={'9' * 4000},v1={'0' * 64}").status_code == 401  # no float holds it
    body = json.dumps(event, indent=2)  # signed, then changed by a byte
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
    tampered = b.client.post("/events/stripe", data=body.replace("2500", "2501"), headers={"Stripe-Signature": header})
    assert tampered.status_code == 403
    assert stored(redis) == []


def test_stripe_signs_with_both_secrets_while_one_is_rolled(b, redis):
    body = json.dumps(payment_intent())
    now = int(time.time())
    old = stripe.WebhookSignature.generate_signature_header(body, "whsec_old", now)
    new = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET, now)
    header = f"{old},{new.split(',')[1]}"  # t=...,v1=<old secret's>,v1=<ours>
    assert b.client.post("/events/stripe", data=body, headers={"Stripe-Signature": header}).status_code == 200


def test_a_shopify_delivery_is_checked_on_its_raw_bytes_and_deduped_on_its_webhook_id(b, redis):
    body = b'{"id":1}'  # the contracts' vector, sent as Shopify sent it
    headers = {"X-Shopify-Hmac-Sha256": "QvBzlTPo5RYh0lGvEXvN6nLJRmU2XrsL6x7vnfUCHCs=", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}
    assert b.client.post("/events/shopify", data=body, headers=headers).status_code == 200
    assert b.client.post("/events/shopify", data=body, headers=headers).status_code == 200
    [found] = kept(redis, "shopify")
    assert (found.event_id, found.kind, found.payload) == ("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/create", {"id": 1})
    assert post_shopify(b.client, {"id": 2}, secret="shpss_other").status_code == 403


def test_github_answers_ping_and_keeps_events_once_per_delivery(b, redis):
    ping = post_github(b.client, {"zen": "Design for failure.", "hook_id": 1, "hook": {"type": "Repository"}}, event="ping")
    assert ping.status_code == 200 and ping.get_json()["ok"] is True
    assert stored(redis) == []
    push = {"ref": "refs/heads/main", "repository": {"full_name": "octo/shop"}, "pusher": {"name": "ada"}}
    assert post_github(b.client, push, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958").status_code == 200
    assert post_github(b.client, push, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958").status_code == 200  # a redelivery
    [found] = kept(redis, "github")
    assert (found.kind, found.payload) == ("push", push)
    assert post_github(b.client, push, secret="wrong").status_code == 403


def test_a_verified_body_of_unexpected_shape_is_400_and_kept_like_other_rejects(b, redis):
    response = post_github(b.client, b"Hello, World!")  # the contracts' vector: verified, but no JSON event
    assert response.status_code == 400
    assert rejects.counts(redis) == {"github": 1}
    assert post_stripe(b.client, {"id": "evt_1", "type": "charge.succeeded"}).status_code == 400  # no data
    assert rejects.newest(redis)[0]["platform"] == "stripe"
    assert stored(redis) == []


def test_a_hubspot_batch_is_one_event_each_deduped_on_its_event_id(b, redis):
    assert post_hubspot(b.client, hubspot_batch(101, 102, 103)).status_code == 200
    assert post_hubspot(b.client, hubspot_batch(103, 104)).status_code == 200  # 103 again: a retried batch
    assert sorted(event.event_id for event in kept(redis, "hubspot")) == ["101", "102", "103", "104"]
    assert post_hubspot(b.client, hubspot_batch(*range(1, 102))).status_code == 400  # more than 100
    assert post_hubspot(b.client, [{"eventId": "1", "subscriptionType": "contact.creation"}]).status_code == 400


def test_hubspot_stale_and_wrong_url_signatures_are_refused(b, redis):
    stale = str(int((time.time() - 301) * 1000))
    assert post_hubspot(b.client, hubspot_batch(1), timestamp=stale).status_code == 403
    assert post_hubspot(b.client, hubspot_batch(1), base="https://elsewhere.example.com").status_code == 403
    assert post_hubspot(b.client, hubspot_batch(1), timestamp="soon").status_code == 401
    assert post_hubspot(b.client, hubspot_batch(1), timestamp="9" * 5000).status_code == 401  # past int()'s digits: not a 500
    assert stored(redis) == []


def test_mailchimp_checks_its_url_key_answers_its_get_and_nests_its_form(b, redis):
    assert b.client.get(f"/events/mailchimp/{MAILCHIMP_KEY}").status_code == 200
    assert b.client.get("/events/mailchimp/guess").status_code == 403
    assert post_mailchimp(b.client, mailchimp_form(), key="guess").status_code == 403
    assert b.client.post("/events/mailchimp", data=mailchimp_form()).status_code == 401
    assert post_mailchimp(b.client, mailchimp_form()).status_code == 200
    assert post_mailchimp(b.client, mailchimp_form()).status_code == 200  # the same body again: a retry
    [found] = kept(redis, "mailchimp")
    assert found.kind == "subscribe" and found.event_id == hashlib.sha256(urlencode(mailchimp_form()).encode()).hexdigest()[:32]
    assert found.payload["data"]["merges"] == {"EMAIL": "ada@example.com", "FNAME": "Ada", "LNAME": "Lovelace"}
    assert post_mailchimp(b.client, mailchimp_form("bob@example.com", "Bob")).status_code == 200  # another event
    assert sorted(event.payload["data"]["email"] for event in kept(redis, "mailchimp")) == ["ada@example.com", "bob@example.com"]
    assert post_mailchimp(b.client, {"type": "x", "data": "1", "data[id]": "2"}).status_code == 400
    assert post_mailchimp(b.client, {"type": "x", "data" + "[a]" * 64: "1"}).status_code == 200
    assert post_mailchimp(b.client, {"type": "x", "data" + "[a]" * 3000: "1"}).status_code == 400  # not a RecursionError


def test_a_paypal_event_is_kept_with_what_its_verification_needs(b, redis):
    event = paypal_event()
    assert post_paypal(b.client, event, headers={}).status_code == 401
    assert post_paypal(b.client, event).status_code == 200
    [found] = kept(redis, "paypal")
    assert json.loads(found.raw) == event and found.headers["PAYPAL-TRANSMISSION-ID"] == "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
    assert post_paypal(b.client, {"id": "WH-1"}).status_code == 400
    assert rejects.newest(redis)[0]["platform"] == "paypal"  # kept with the unsigned: anyone may post there


def test_the_rules_know_every_source_and_no_other():
    assert tuple(registry.SOURCES) == rules.SOURCES


def test_sources_without_their_secret_are_404_saying_what_to_set(settings):
    client = Bot(settings).client
    response = client.post("/events/stripe", json={})
    assert response.status_code == 404 and "STRIPE_WEBHOOK_SECRET" in response.get_json()["error"]
    assert client.post("/events/zapier", json={}).status_code == 404


def test_redis_down_is_503_so_the_source_retries(settings):
    down = Bot({**settings, **SOURCES, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = post_stripe(down.client, payment_intent())
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_every_answer_is_counted_by_source_and_status(b, redis):
    post_stripe(b.client, payment_intent(), secret="whsec_other")
    post_stripe(b.client, payment_intent())
    assert b.client.post("/events/stripe/extra", json={}).status_code == 404  # only Mailchimp's URL carries a key
    b.rt.metrics.flush()
    counted = {tuple(json.loads(name)): float(value) for name, value in redis.hgetall(keys.metrics()).items()}
    assert {name: n for name, n in counted.items() if name[0] == "webhooks"} == {
        ("webhooks", "stripe", "403"): 1, ("webhooks", "stripe", "200"): 1, ("webhooks", "stripe", "404"): 1}
