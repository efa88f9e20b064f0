"""Outbound events: signed webhooks that tell a CRM or a helpdesk what happens in conversations."""

from __future__ import annotations

import json

import pytest
from rq.registry import ScheduledJobRegistry

from tests.fakes import Canned, FakePlatform, openai_error, tool_calls
from tests.helpers import Bot, post_update, update
from tests.vendors import STANDARD_SECRET, standard_verified


@pytest.fixture
def receiver():
    """The events' receiver: every event it got must pass the Standard Webhooks reference library's check."""
    server = FakePlatform().start()
    yield server
    server.stop()
    standard_verified(server.requests)


@pytest.fixture
def bot(settings, receiver):
    return Bot({**settings, "EVENTS_URLS": f"{receiver.url}/events", "EVENTS_SECRET": STANDARD_SECRET, "API_TOKEN": "t"})


def received(receiver) -> list[dict]:
    """The events delivered, each checked as a receiver using the reference library checks it."""
    return standard_verified(receiver.delivered)


def test_a_turn_announces_the_message_and_the_reply(client, run_worker, receiver):
    post_update(client, update("hello"))
    run_worker()
    events = received(receiver)
    assert [event["type"] for event in events] == ["message.received", "reply.sent"]
    assert events[0]["data"]["text"] == "hello" and events[1]["data"]["text"] == "LLM: hello"
    assert events[0]["data"]["conversation"] == "telegram:123456789"


def test_handoff_requests_and_dead_letters_are_announced(app, client, run_worker, llm, receiver):
    post_update(client, update("talk to a human"))
    run_worker()
    app.test_client().post("/api/conversations/telegram:555/pause", headers={"Authorization": "Bearer t"})
    llm.then(*[openai_error(500, "boom")] * 3)
    post_update(client, update("fails", chat_id=777))
    run_worker()
    kinds = [event["type"] for event in received(receiver)]
    assert kinds.count("handoff.requested") == 2
    assert "reply.sent" in kinds  # the failure notice reached the user
    assert any(event["data"].get("by") == "api" for event in received(receiver) if event["type"] == "handoff.requested")


def test_a_handoff_says_who_asked_for_it(settings, tmp_path, llm, receiver):
    (tmp_path / "system.md").write_text("---\ntools: [handoff]\n---\nYou help customers.")
    b = Bot({**settings, "EVENTS_URLS": f"{receiver.url}/events", "EVENTS_SECRET": STANDARD_SECRET,
             "PROMPTS_DIR": str(tmp_path)})
    post_update(b.client, update("talk to a human"))
    b.run()
    llm.then(tool_calls(("handoff", {"reason": "wants a refund"})))
    post_update(b.client, update("I want my money back", chat_id=778))
    b.run()
    said = [event["data"]["by"] for event in received(receiver) if event["type"] == "handoff.requested"]
    assert said == ["user", "model"]


def test_a_failed_delivery_is_retried_later(app, client, run_worker, redis, receiver):
    receiver.then(Canned(status=503, body={}), Canned(status=503, body={}))
    post_update(client, update("hello"))
    run_worker()
    retried = ScheduledJobRegistry("events", connection=redis)
    assert retried.count == 2  # both events, each waiting for its next attempt
    assert received(receiver) == []


def test_no_events_without_urls(settings, receiver):
    quiet = Bot(settings)
    post_update(quiet.client, update("hello"))
    quiet.run()
    assert receiver.requests == []


def test_events_without_a_secret_fail_the_release_check(settings):
    result = Bot({**settings, "EVENTS_URLS": "https://crm.example.com/hook"}).app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1 and "EVENTS_SECRET" in result.output


def test_event_bodies_are_standard_webhooks(client, run_worker, receiver):
    post_update(client, update("hello"))
    run_worker()
    body = json.loads(receiver.delivered[0].raw)
    assert set(body) == {"type", "timestamp", "data"} and body["timestamp"].endswith("Z")
    assert receiver.delivered[0].headers["webhook-id"].startswith("evt_")


def test_a_delivery_queued_before_the_upgrade_still_goes_out(bot, run_worker, receiver):
    event = {"type": "reply.sent", "timestamp": "2026-11-30T12:00:00Z", "data": {"text": "queued by the previous release"}}
    bot.rt.turns.events.enqueue("bot.events.deliver", f"{receiver.url}/events", "evt_1", json.dumps(event))
    run_worker()
    assert received(receiver) == [event]
