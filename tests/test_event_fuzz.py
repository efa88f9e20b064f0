"""Fuzzing the business-event sources: their genuine events mutated, signed validly. Every answer is 200 or 400, never
a 500, and every event kept ends in exactly one ledger outcome, with no job crashing."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from rq.registry import FailedJobRegistry

from bot import keys
from bot.ops import ledger
from tests.business import (
    MAILCHIMP_KEY,
    SOURCES,
    github_signature,
    hubspot_batch,
    mailchimp_form,
    payment_intent,
    post_hubspot,
    post_shopify,
    post_stripe,
)
from tests.helpers import Bot
from tests.test_fuzz import FORM, encoded, mutated

ADA = "telegram:123456789"
RULES = f"""
stripe:
  payment_intent.succeeded:
    to: "{{{{ data.object.metadata.conversation }}}}"
    text: "Payment of {{{{ data.object.amount / 100 }}}} {{{{ data.object.currency | upper }}}} received."
hubspot:
  contact.creation:
    to: "{ADA}"
    text: "Contact {{{{ objectId }}}} from {{{{ changeSource }}}}."
mailchimp:
  subscribe:
    to: "{ADA}"
    text: "{{{{ data.merges.FNAME }}}} subscribed."
shopify:
  orders/fulfilled:
    to: "{ADA}"
    text: "Order {{{{ name }}}} shipped to {{{{ shipping_address.city }}}}."
github:
  push:
    to: "{ADA}"
    text: "{{{{ pusher.name }}}} pushed to {{{{ repository.full_name }}}}."
"""
ORDER = {"id": 450789469, "name": "#1001", "email": "ada@example.com", "total_price": "25.00", "currency": "EUR",
         "shipping_address": {"city": "Lyon", "country_code": "FR"}, "line_items": [{"title": "Tea", "quantity": 2}]}
PUSH = {"ref": "refs/heads/main", "repository": {"full_name": "octo/shop"}, "pusher": {"name": "ada"}}
EXAMPLES = 50  # per source: with the turns they start, a few seconds


def renamed(document, new_id: uuid.UUID):
    """The mutated event under a new id, where it has one: else every example would be a retry of the first."""
    return {**document, "id": f"evt_{new_id.hex}"} if isinstance(document, dict) else document


def test_mutated_events_are_answered_200_or_400_and_each_kept_one_gets_one_outcome(settings, tmp_path, redis, telegram):
    (tmp_path / "events.yaml").write_text(RULES)
    b = Bot(settings, **SOURCES, EVENT_RULES_FILE=str(tmp_path / "events.yaml"))
    b.say("hi")
    answers: set[int] = set()
    fuzz = examples(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))

    @fuzz
    @given(st.tuples(mutated(payment_intent(ADA), "stripe"), st.uuids()))
    def stripe_events(drawn):
        answers.add(post_stripe(b.client, renamed(*drawn)).status_code)

    @fuzz
    @given(mutated(hubspot_batch(1, 2), "hubspot"), st.integers(1, 2**40))
    def hubspot_batches(batch, first):
        if isinstance(batch, list) and batch and isinstance(batch[0], dict):
            batch[0]["eventId"] = first
        answers.add(post_hubspot(b.client, batch).status_code)

    @fuzz
    @given(mutated(mailchimp_form(), "mailchimp"))
    def mailchimp_posts(form):
        if isinstance(form, dict):
            body = encoded({str(name): str(value) for name, value in form.items()})
            answers.add(b.client.post(f"/events/mailchimp/{MAILCHIMP_KEY}", data=body, content_type=FORM).status_code)

    @fuzz
    @given(mutated(PUSH, "github"), st.uuids())
    def github_pushes(push, delivery):
        body = json.dumps(push).encode()
        headers = {"X-Hub-Signature-256": github_signature(body), "X-GitHub-Event": "push", "X-GitHub-Delivery": str(delivery)}
        answers.add(b.client.post("/events/github", data=body, headers=headers).status_code)

    @fuzz
    @given(mutated(ORDER, "shopify"), st.uuids())
    def shopify_orders(order, webhook_id):
        answers.add(post_shopify(b.client, order, webhook_id=str(webhook_id)).status_code)

    for run in (stripe_events, hubspot_batches, mailchimp_posts, github_pushes, shopify_orders):
        run()
    b.run()
    assert answers <= {200, 400} and 200 in answers
    kept = [name.decode().split(":", 2)[2] for name in redis.keys(keys.business_event("*", "*"))]
    assert kept and all(ledger.lookup(redis, "events", ref) for ref in kept)
    assert FailedJobRegistry("events", connection=redis).count == 0
    sent = sum(ledger.counts(redis).get(outcome, 0) for outcome in ("sent", "no_rule", "no_recipient", "dead_letter"))
    assert sent == len(kept)

