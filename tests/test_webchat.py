"""The web chat page's pipeline: POST a message, a worker answers, the page polls the reply."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.helpers import Bot

SESSION = "session-0123456789"


def say(client, text: str, message_id: str = "m-0000000001", **request: Any):
    return client.post("/webhooks/webchat", json={"session": SESSION, "message_id": message_id, "text": text}, **request)


def events(client, after: str = "0") -> dict:
    return client.get(f"/webchat/events?session={SESSION}&after={after}").get_json()


def test_round_trip_renders_the_llm_markdown(client, run_worker):
    assert say(client, "hi **there**").status_code == 200
    assert events(client) == {"replies": [], "typing": False}
    run_worker()
    replies = events(client)["replies"]
    assert [reply["html"] for reply in replies] == ["LLM: hi <b>there</b>"]
    assert events(client, after=replies[0]["id"])["replies"] == []


def test_a_resent_message_is_kept_once(client, run_worker):
    say(client, "once", "m-same-000001")
    say(client, "once", "m-same-000001")
    run_worker()
    assert len(events(client)["replies"]) == 1


def test_the_page_is_served(client):
    page = client.get("/chat")
    assert page.status_code == 200
    assert b"/webhooks/webchat" in page.data and b"/webchat/events" in page.data


def test_typing_shows_while_the_llm_writes(client, llm, start_workers):
    llm.gate.clear()
    say(client, "slow one")
    start_workers()
    llm.wait_for(lambda: events(client)["typing"])
    llm.gate.set()
    llm.wait_for(lambda: len(events(client)["replies"]) == 1)
    assert events(client)["typing"] is False


def test_it_is_rate_limited(settings):
    client = Bot({**settings, "WEBCHAT_RATE_LIMIT": "2"}).client
    statuses = [say(client, "hi", f"m-rate-{i:06}").status_code for i in range(3)]
    assert statuses == [200, 200, 429]


def forwarded_for(client, addresses: str, message_id: str, router: str = "10.1.2.3") -> int:
    """A message through a proxy at `router` that sends X-Forwarded-For: `addresses` (the last one is the proxy's own)."""
    return say(client, "hi", message_id, headers={"X-Forwarded-For": addresses}, environ_base={"REMOTE_ADDR": router}).status_code


def test_behind_the_router_each_visitor_has_a_bucket_and_a_forged_address_is_not_one(settings):
    client = Bot({**settings, "WEBCHAT_RATE_LIMIT": "1"}).client  # TRUSTED_PROXIES=1: Heroku's router
    assert forwarded_for(client, "203.0.113.1", "m-first-0001") == 200
    assert forwarded_for(client, "203.0.113.2", "m-second-001") == 200
    assert forwarded_for(client, "203.0.113.1", "m-first-0002") == 429
    # The router appends the address it saw to the client's own header: only that one counts.
    assert forwarded_for(client, "198.51.100.7, 203.0.113.1", "m-first-0003") == 429


def test_facing_clients_directly_a_forged_forwarded_for_is_not_a_bucket_of_its_own(settings):
    client = Bot({**settings, "WEBCHAT_RATE_LIMIT": "1", "TRUSTED_PROXIES": "0"}).client
    assert forwarded_for(client, "203.0.113.1", "m-first-0001", router="198.51.100.9") == 200
    assert forwarded_for(client, "203.0.113.2", "m-second-001", router="198.51.100.9") == 429


def test_it_is_off_unless_enabled(settings):
    client = Bot({**settings, "WEBCHAT_ENABLED": "0"}).client
    assert client.get("/chat").status_code == 404
    response = say(client, "hi")
    assert response.status_code == 404 and "WEBCHAT_ENABLED" in response.get_json()["error"]


def test_bad_ids_are_400(client):
    response = client.post("/webhooks/webchat", json={"session": "x", "message_id": "m-0000000001", "text": "hi"})
    assert response.status_code == 400 and "session" in response.get_json()["error"]
    assert client.get("/webchat/events?session=bad!&after=0").status_code == 400


def test_without_a_key_the_offline_model_answers(settings):
    settings = {k: v for k, v in settings.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    offline = Bot(settings)
    client = offline.client
    say(client, "hello")

    offline.run()
    assert events(client)["replies"][0]["html"] == "(offline model) you said: hello"


def test_flask_chat_talks_through_the_real_pipeline(app, start_workers):
    start_workers()
    result = app.test_cli_runner().invoke(args=["chat"], input="hello **there**\n")
    assert result.exit_code == 0, result.output
    assert "bot> LLM: hello there" in result.output


def test_a_trailing_newline_is_no_part_of_an_id(client, redis):
    response = client.post("/webhooks/webchat", json={"session": SESSION + "\n", "message_id": "m-0000000001", "text": "hi"})
    assert response.status_code == 400 and "session" in response.get_json()["error"]
    newline = {"session": SESSION, "message_id": "m-0000000001\n", "text": "hi"}
    assert client.post("/webhooks/webchat", json=newline).status_code == 400
    assert client.get(f"/webchat/events?session={SESSION}%0A&after=0").status_code == 400
    assert redis.keys("bot:inbox:*") == []


@pytest.mark.parametrize("after", ["١٢", "١٢-٣", "12-", "-1", "1.5", "18446744073709551615", "1-18446744073709551615",
                                   "99999999999999999999999"])
def test_an_event_id_redis_would_refuse_is_400_not_a_storage_outage(client, caplog, after):
    response = client.get(f"/webchat/events?session={SESSION}&after={after}")
    assert response.status_code == 400 and "after" in response.get_json()["error"]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_the_largest_event_id_redis_takes_is_read(client):
    assert client.get(f"/webchat/events?session={SESSION}&after=18446744073709551614-18446744073709551614").status_code == 200
