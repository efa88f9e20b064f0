"""Human handoff: the bot steps aside when asked, by the user or through the API, and comes back."""

from __future__ import annotations

import logging

import pytest

from bot.ops import ledger
from bot.turn import handoff
from tests.helpers import Bot, texts

TOKEN = "api-token-for-tests"
CONVERSATION = "telegram:123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_asking_for_a_human_pauses_the_bot_and_keeps_the_messages(settings, redis, llm, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    b.say("I want to talk to a human please", update_id=1)
    b.say("hello? my order is late", update_id=2)
    assert texts(telegram) == ["I've asked a colleague to take over. They'll answer you here soon."]
    assert llm.completions == []
    assert [ledger.lookup(redis, "telegram", n)["outcome"] for n in ("1", "2")] == ["handoff", "handoff"]
    shown = b.client.get(f"/api/conversations/{CONVERSATION}", headers=AUTH).get_json()
    assert shown["paused"]["by"] == "user"
    assert [m["content"] for m in shown["history"]] == ["I want to talk to a human please", "hello? my order is late"]


def test_the_api_pauses_and_resumes_the_bot(settings, redis, llm, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    paused = b.client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": 30}, headers=AUTH)
    assert paused.status_code == 200 and paused.get_json()["paused"]["by"] == "api"
    assert 0 < redis.ttl(f"bot:paused:{CONVERSATION}") <= 1800
    b.say("anyone?")
    assert texts(telegram) == []
    assert b.client.post(f"/api/conversations/{CONVERSATION}/resume", headers=AUTH).get_json()["resumed"] is True
    b.say("back to the bot")
    assert len(texts(telegram)) == 1  # the bot answers again, seeing what was written while it was paused
    assert [m["content"] for m in llm.completions[0]["messages"][1:]] == ["anyone?", "back to the bot"]


def test_a_handoff_times_out(settings, redis):
    Bot(settings, API_TOKEN=TOKEN, HANDOFF_TIMEOUT="60").say("talk to a human")
    assert 0 < redis.ttl(f"bot:paused:{CONVERSATION}") <= 60


def test_the_prompt_chooses_the_phrases(settings, tmp_path, telegram):
    (tmp_path / "system.md").write_text("---\nhandoff_phrases: [\"operator\"]\n---\nYou help.")
    b = Bot(settings, API_TOKEN=TOKEN, PROMPTS_DIR=str(tmp_path))
    b.say("talk to a human")
    b.say("operator!")
    assert texts(telegram) == ["LLM: talk to a human", "I've asked a colleague to take over. They'll answer you here soon."]


def test_the_api_needs_its_token(settings, redis):
    client = Bot(settings, API_TOKEN=TOKEN).client
    assert client.post(f"/api/conversations/{CONVERSATION}/pause").status_code == 401
    assert client.post(f"/api/conversations/{CONVERSATION}/pause", headers={"Authorization": "Bearer nope"}).status_code == 403
    off = Bot(settings).client
    response = off.post(f"/api/conversations/{CONVERSATION}/pause", headers=AUTH)
    assert response.status_code == 404 and "API_TOKEN" in response.get_json()["error"]
    assert handoff.status(redis, CONVERSATION) is None


def test_a_bad_pause_is_400(settings):
    client = Bot(settings, API_TOKEN=TOKEN).client
    response = client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": -5}, headers=AUTH)
    assert response.status_code == 400 and "minutes" in response.get_json()["error"]


@pytest.mark.parametrize("minutes", [1e20, 525601, -1, "١٢x"])
def test_a_pause_redis_could_not_keep_is_400_not_a_storage_outage(settings, redis, caplog, minutes):
    b = Bot(settings, API_TOKEN=TOKEN)
    response = b.client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": minutes}, headers=AUTH)
    assert response.status_code == 400 and "minutes" in response.get_json()["error"]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert handoff.status(redis, CONVERSATION) is None


def test_a_pause_body_that_is_not_json_is_400(settings, redis):
    b = Bot(settings, API_TOKEN=TOKEN)
    response = b.client.post(f"/api/conversations/{CONVERSATION}/pause", data="{minutes: 5", headers=AUTH,
                             content_type="application/json")
    assert response.status_code == 400
    assert handoff.status(redis, CONVERSATION) is None


def test_a_year_long_pause_is_kept(settings, redis):
    b = Bot(settings, API_TOKEN=TOKEN)
    assert b.client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": 525600}, headers=AUTH).status_code == 200
