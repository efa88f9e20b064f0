"""Business events become messages by the rules in prompts/events.yaml, through the conversation's own turn, each
with exactly one ledger outcome."""

from __future__ import annotations

import json

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from bot import jobs, keys
from bot.ops import ledger
from bot.outbound.business import records, route
from tests import test_whatsapp as whatsapp_samples
from tests import test_window as window
from tests.business import PAYPAL_WEBHOOK_ID, SOURCES, payment_intent, paypal_event, post_github, post_paypal, post_stripe
from tests.fakes import Canned, FakePlatform, telegram_error
from tests.helpers import ROOT, Bot, dead_letters, texts

ADA = "telegram:123456789"


@pytest.fixture
def paypal():
    """PayPal's OAuth token and verify-webhook-signature endpoints, verifying every event unless told otherwise."""
    token = Canned(body={"access_token": "A21AAFEpH4PsADK7qSS7", "token_type": "Bearer", "expires_in": 32400})
    fake = FakePlatform({"token": token,
                         "verify-webhook-signature": Canned(body={"verification_status": "SUCCESS"})},
                        scripted=lambda call: call.method == "verify-webhook-signature").start()
    yield fake
    fake.stop()


def bot(settings, tmp_path, rules: str | None = None, **overrides: str) -> Bot:
    """A bot whose events rules are `rules` (default: the repository's prompts/events.yaml), Ada known on Telegram."""
    path = tmp_path / "events.yaml"
    if rules is not None:
        path.write_text(rules)
    b = Bot(settings, **SOURCES, EVENT_RULES_FILE=str(path if rules is not None else ROOT / "prompts" / "events.yaml"),
            **overrides)
    b.say("hi")
    return b


def outcome(redis, ref: str) -> dict:
    return ledger.lookup(redis, "events", ref)


def test_a_stripe_payment_tells_the_customer_on_telegram_that_it_arrived(settings, tmp_path, redis, llm, telegram):
    """The worked example of docs/events.md: prompts/events.yaml and prompts/examples/payment-received.md as shipped."""
    b = bot(settings, tmp_path)
    event = payment_intent(ADA)
    llm.then(Canned(body={"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Thank you, Ada: your payment of 25.00 EUR for Order #1042 has arrived."}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}))
    assert post_stripe(b.client, event).status_code == 200
    b.run()
    assert texts(telegram)[-1] == "Thank you, Ada: your payment of 25.00 EUR for Order #1042 has arrived."
    system = llm.completions[-1]["messages"][0]["content"]
    assert "The payment: 25.00 EUR, for Order #1042." in system and "on telegram" in system
    assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "sent"
    shown = b.app.test_cli_runner().invoke(args=["outcome", "events", f"stripe:{event['id']}"])
    assert shown.exit_code == 0 and json.loads(shown.output)["conversation"] == ADA
    assert json.loads(shown.output)["event"]["payload"] == event  # kept for inspection
    b.say("thanks!")  # the message joined the history
    assert llm.completions[-1]["messages"][-2]["content"].startswith("Thank you, Ada: your payment")


TEXT_RULES = """
stripe:
  payment_intent.succeeded:
    to: "{{ data.object.metadata.conversation }}"
    text: "Payment of {{ '%.2f' | format(data.object.amount / 100) }} {{ data.object.currency | upper }} received."
"""


def test_a_text_rule_sends_its_template_and_every_event_gets_one_outcome(settings, tmp_path, redis, llm, telegram):
    b = bot(settings, tmp_path, TEXT_RULES)
    sent, stranger, unruled = payment_intent(ADA), payment_intent("telegram:999"), payment_intent(ADA)
    unruled["type"] = "charge.refunded"
    nameless = payment_intent(ADA)
    del nameless["data"]["object"]["metadata"]["conversation"]
    for event in (sent, stranger, unruled, nameless):
        assert post_stripe(b.client, event).status_code == 200
    b.run()
    assert texts(telegram)[1:] == ["Payment of 25.00 EUR received."]
    assert len(llm.completions) == 1  # the greeting's only: a text rule needs no LLM
    assert outcome(redis, f"stripe:{sent['id']}")["outcome"] == "sent"
    assert outcome(redis, f"stripe:{stranger['id']}")["outcome"] == "no_recipient"
    assert outcome(redis, f"stripe:{nameless['id']}")["outcome"] == "no_recipient"
    assert outcome(redis, f"stripe:{unruled['id']}")["outcome"] == "no_rule"


def test_a_retried_event_job_sends_nothing_twice(settings, tmp_path, redis, telegram):
    b = bot(settings, tmp_path, TEXT_RULES)
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    b.run()
    Queue("events", connection=redis).enqueue(jobs.BUSINESS_EVENT, "stripe", event["id"])  # as RQ's retry of it would
    b.run()
    assert texts(telegram)[1:] == ["Payment of 25.00 EUR received."]
    assert ledger.counts(redis)["sent"] == 1


def test_the_rules_are_read_again_for_each_event(settings, tmp_path, redis, telegram):
    b = bot(settings, tmp_path, "{}")
    first = payment_intent(ADA)
    post_stripe(b.client, first)
    b.run()
    (tmp_path / "events.yaml").write_text(TEXT_RULES)
    second = payment_intent(ADA)
    post_stripe(b.client, second)
    b.run()
    assert [outcome(redis, f"stripe:{e['id']}")["outcome"] for e in (first, second)] == ["no_rule", "sent"]


PAYPAL_RULES = """
paypal:
  PAYMENT.CAPTURE.COMPLETED:
    to: "{{ resource.custom_id }}"
    text: "We received your payment of {{ resource.amount.value }} {{ resource.amount.currency_code }}."
"""


def test_paypal_events_are_verified_by_paypal_from_the_worker(settings, tmp_path, redis, telegram, paypal):
    b = bot(settings, tmp_path, PAYPAL_RULES, PAYPAL_API_URL=paypal.url)
    event = paypal_event()
    post_paypal(b.client, event)
    assert paypal.requests == []  # never in the request
    b.run()
    assert texts(telegram)[-1] == "We received your payment of 25.00 EUR."
    token, verify = paypal.requests
    assert token.body == {"grant_type": "client_credentials"} and token.headers["Authorization"].startswith("Basic ")
    assert verify.headers["Authorization"] == "Bearer A21AAFEpH4PsADK7qSS7"
    assert verify.body["webhook_id"] == PAYPAL_WEBHOOK_ID and verify.body["transmission_sig"] == "lmI95Jx3Y9nhR5SJ"
    assert verify.raw.endswith(b'"webhook_event": ' + json.dumps(event, separators=(",", ":")).encode() + b"}")  # as sent
    assert outcome(redis, f"paypal:{event['id']}")["outcome"] == "sent"


def test_an_event_paypal_does_not_verify_is_rejected_and_sends_nothing(settings, tmp_path, redis, telegram, paypal):
    b = bot(settings, tmp_path, PAYPAL_RULES, PAYPAL_API_URL=paypal.url)
    paypal.then(Canned(body={"verification_status": "FAILURE"}))
    forged = paypal_event("WH-FORGED")
    post_paypal(b.client, forged)
    b.run()
    assert len(telegram.sent) == 1  # the greeting only
    assert outcome(redis, "paypal:WH-FORGED")["outcome"] == "rejected"
    post_paypal(b.client, forged)  # PayPal's own delivery of that id, later: not shadowed by the forgery
    b.run()
    assert outcome(redis, "paypal:WH-FORGED")["outcome"] == "sent"


def test_wrong_paypal_credentials_dead_letter_the_event_saying_what_to_check(settings, tmp_path, redis, telegram, paypal):
    b = bot(settings, tmp_path, PAYPAL_RULES, PAYPAL_API_URL=paypal.url)
    paypal.defaults["token"] = Canned(status=401, body={"error": "invalid_client"})
    post_paypal(b.client, paypal_event("WH-1"))
    b.run()
    found = outcome(redis, "paypal:WH-1")
    assert found["outcome"] == "dead_letter" and "check PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET" in found["detail"]


def test_a_rule_with_a_broken_template_fails_prompts_check(settings, tmp_path):
    for rules, problem in (("stripe:\n  x:\n    to: '{{ data.object'\n    text: hi\n", "stripe x: to:"),
                           ("stripe:\n  x:\n    to: a\n    text: '{% if %}'\n", "stripe x: text:"),
                           ("stripe:\n  x:\n    to: a\n", "give either text or prompt"),
                           ("stripe:\n  x:\n    to: a\n    prompt: examples/nowhere.md\n", "examples/nowhere.md does not exist"),
                           ("zapier:\n  x:\n    to: a\n    text: b\n", "unknown source 'zapier'"),
                           ("stripe:\n  x:\n    to: a\n    text: b\n    colour: red\n", "colour"),
                           ("stripe:\n  x:\n    to: 42\n    text: b\n", "to, text and prompt must be strings"),
                           ("stripe:\n  x:\n    to: a\n    text: b\n    template: {language: en}\n",
                            "stripe x: template: a template is"),
                           ("stripe:\n  x:\n    to: a\n    text: b\n    template: {name: t, parameters: ['{{ x']}\n",
                            "stripe x: template parameter 0:")):
        (tmp_path / "events.yaml").write_text(rules)
        app = Bot(settings, EVENT_RULES_FILE=str(tmp_path / "events.yaml")).app
        result = app.test_cli_runner().invoke(args=["prompts", "check"])
        assert result.exit_code == 1 and problem in result.output, (rules, result.output)


def test_the_shipped_rules_pass_prompts_check(settings):
    result = Bot(settings, EVENT_RULES_FILE=str(ROOT / "prompts" / "events.yaml")).app.test_cli_runner().invoke(
        args=["prompts", "check"])
    assert result.exit_code == 0, result.output


def test_forget_removes_the_business_events_sent_to_the_conversation(settings, tmp_path, redis, telegram):
    b = bot(settings, tmp_path, TEXT_RULES)
    mine, other = payment_intent(ADA), payment_intent("telegram:999")
    post_stripe(b.client, mine)
    post_stripe(b.client, other)
    b.run()
    result = b.app.test_cli_runner().invoke(args=["forget", ADA])
    assert "1 business events" in result.output, result.output
    assert records.get(redis, "stripe", mine["id"]) is None and records.get(redis, "stripe", other["id"]) is not None


def test_a_payload_forgotten_while_its_event_is_routed_is_not_kept_again(settings, tmp_path, redis):
    b = bot(settings, tmp_path, TEXT_RULES)
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    found = records.get(redis, "stripe", event["id"])
    redis.delete(keys.business_event("stripe", event["id"]))  # `flask forget`, or its expiry, between the job's read and note
    records.addressed(redis, found, ADA)
    assert redis.exists(keys.business_event("stripe", event["id"])) == 0


def test_kept_payloads_expire_after_event_payload_ttl_but_never_before_their_jobs_retries(settings, tmp_path, redis):
    for ttl, kept in (("86400", 86400), ("0", records.MIN_KEEP)):
        b = bot(settings, tmp_path, TEXT_RULES, EVENT_PAYLOAD_TTL=ttl)
        event = payment_intent(ADA)
        assert post_stripe(b.client, event).status_code == 200
        assert kept - 10 < redis.ttl(keys.business_event("stripe", event["id"])) <= kept
        b.run()
        assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "sent"


def test_github_events_reach_their_rule_by_event_name(settings, tmp_path, redis, telegram):
    rules = f"github:\n  release:\n    to: {ADA}\n    text: '{{{{ repository.full_name }}}} {{{{ release.tag_name }}}} is out.'\n"
    b = bot(settings, tmp_path, rules)
    post_github(b.client, {"action": "published", "release": {"tag_name": "v2.0"}, "repository": {"full_name": "octo/shop"}},
                event="release")
    b.run()
    assert texts(telegram)[-1] == "octo/shop v2.0 is out."


def test_a_payload_with_a_field_named_self_is_rendered(settings, tmp_path, redis, telegram):
    rules = f"github:\n  push:\n    to: {ADA}\n    text: 'Pushed to {{{{ ref }}}}.'\n"
    b = bot(settings, tmp_path, rules)
    post_github(b.client, {"ref": "refs/heads/main", "self": {"login": "ada"}})  # a field any payload may have
    b.run()
    assert texts(telegram)[-1] == "Pushed to refs/heads/main."


def test_a_refused_send_is_a_dead_letter_replayed_into_the_events_ledger_its_template_passed_on(settings, tmp_path, redis,
                                                                                                   telegram):
    rules = TEXT_RULES + "    template: {name: payment_received, language: en, parameters: ['{{ data.object.currency }}']}\n"
    b = bot(settings, tmp_path, rules)
    telegram.then(telegram_error(403, "Forbidden: bot was blocked by the user"))
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    b.run()
    assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "dead_letter"
    [letter] = dead_letters(redis)
    assert letter["outgoing"]["template"] == {"name": "payment_received", "language": "en", "parameters": ["eur"]}
    assert b.app.test_cli_runner().invoke(args=["dead-letters", "replay", letter["id"]]).exit_code == 0
    b.run()
    assert texts(telegram)[-1] == "Payment of 25.00 EUR received."
    assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "sent"


def test_a_text_that_does_not_render_for_the_event_is_a_dead_letter_saying_why(settings, tmp_path, redis, telegram):
    rules = f"stripe:\n  payment_intent.succeeded:\n    to: {ADA}\n    text: '{{{{ data.object.tracking }}}}'\n"
    b = bot(settings, tmp_path, rules)
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    b.run()
    found = outcome(redis, f"stripe:{event['id']}")
    assert found["outcome"] == "dead_letter" and "'dict object' has no attribute 'tracking'" in found["detail"]
    assert len(telegram.sent) == 1


def test_paypal_down_is_retried_by_rq_and_dead_lettered_after_the_last_try(settings, tmp_path, redis, telegram, paypal):
    from rq.registry import ScheduledJobRegistry

    b = bot(settings, tmp_path, PAYPAL_RULES, PAYPAL_API_URL=paypal.url)
    paypal.defaults["verify-webhook-signature"] = Canned(status=503, body={"name": "SERVICE_UNAVAILABLE"})
    post_paypal(b.client, paypal_event("WH-DOWN"))
    b.run()
    assert outcome(redis, "paypal:WH-DOWN") is None  # not given up on: RQ tries again later
    assert ScheduledJobRegistry("events", connection=redis).count == 1
    Queue("events", connection=redis).enqueue(jobs.BUSINESS_EVENT, "paypal", "WH-DOWN")  # a last try: no retries left
    b.run()
    found = outcome(redis, "paypal:WH-DOWN")
    assert found["outcome"] == "dead_letter" and "PayPal API answered 503; after every retry" in found["detail"]
    assert len(telegram.sent) == 1


TEMPLATE_RULES = TEXT_RULES + """    template:
      name: payment_received
      language: en
      parameters: ["{{ '%.2f' | format(data.object.amount / 100) }} {{ data.object.currency | upper }}"]
"""


def test_past_the_whatsapp_window_an_event_sends_its_rule_s_template_filled_from_the_payload(settings, tmp_path, redis):
    (tmp_path / "events.yaml").write_text(TEMPLATE_RULES)
    graph = FakePlatform({"messages": Canned(body=whatsapp_samples.SENT)}).start()
    try:
        b = window.bot(settings, graph, graph, **SOURCES, EVENT_RULES_FILE=str(tmp_path / "events.yaml"))
        window.wrote(b, redis, window.WHATSAPP, hours_ago=25)
        event = payment_intent(window.WHATSAPP)
        assert post_stripe(b.client, event).status_code == 200
        b.run()
        template = window.last_sent(graph).body["template"]
    finally:
        graph.stop()
    assert template == {"name": "payment_received", "language": {"code": "en"},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": "25.00 EUR"}]}]}
    assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "sent"


def test_a_prompt_that_does_not_render_for_the_event_is_a_dead_letter_and_the_conversation_goes_on(settings, tmp_path, redis,
                                                                                                    telegram):
    b = bot(settings, tmp_path)  # the shipped rule: its prompt divides amount_received by 100
    event = payment_intent(ADA, amount_received="25.00")  # a payload whose field is not the number the prompt expects
    post_stripe(b.client, event)
    b.run()
    found = outcome(redis, f"stripe:{event['id']}")
    [letter] = dead_letters(redis)
    assert found["outcome"] == "dead_letter" and "payment-received.md: unsupported operand" in letter["reason"]
    b.say("still there?")
    assert texts(telegram)[-1] == "LLM: still there?"


def test_an_event_whose_worker_died_on_its_last_try_gets_one_outcome_and_sends_nothing(settings, tmp_path, redis, telegram):
    b = bot(settings, tmp_path, TEXT_RULES)
    sent_before = len(telegram.sent)
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    queue = Queue("events", connection=redis)
    [job_id] = queue.job_ids
    job = Job.fetch(job_id, connection=redis)
    job.retries_left = 0
    job.save()
    queue.remove(job)  # what RQ's cleanup does with a job whose worker died mid-run and no retries are left:
    FailedJobRegistry(queue=queue).add(job, ttl=3600, exc_string="AbandonedJobError")  # into its failed jobs, unhandled
    assert route.settle_abandoned(b.rt) == 1
    assert route.settle_abandoned(b.rt) == 0  # once
    found = outcome(redis, f"stripe:{event['id']}")
    assert found["outcome"] == "dead_letter" and "worker stopped during its last try" in found["detail"]
    b.run()
    assert len(telegram.sent) == sent_before


def test_an_event_already_queued_for_its_conversation_is_no_abandoned_one(settings, tmp_path, redis, telegram):
    b = bot(settings, tmp_path, TEXT_RULES)
    event = payment_intent(ADA)
    post_stripe(b.client, event)
    b.run()
    queue = Queue("events", connection=redis)  # as if a job died after it queued the message: the turn gives the outcome
    FailedJobRegistry(queue=queue).add(queue.enqueue(jobs.BUSINESS_EVENT, "stripe", event["id"]), ttl=3600)
    assert route.settle_abandoned(b.rt) == 0
    assert outcome(redis, f"stripe:{event['id']}")["outcome"] == "sent"
