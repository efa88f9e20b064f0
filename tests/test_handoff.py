"""Human handoff: the bot steps aside when asked, by the user or through the API, and comes back."""

from __future__ import annotations

from app import create_app
from bot import handoff, ledger
from bot.worker import work
from tests.helpers import post_update, update

TOKEN = "api-token-for-tests"
CONVERSATION = "telegram:123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def bot(settings, **overrides: str):
    app = create_app({**settings, "API_TOKEN": TOKEN, **overrides})
    client = app.test_client()

    def say(text: str, update_id: int | None = None) -> None:
        post_update(client, update(text, update_id=update_id))
        work(app.extensions["bot"], burst=True)

    return client, say


def texts(telegram) -> list[str]:
    return [message["text"] for message in telegram.sent]


def test_asking_for_a_human_pauses_the_bot_and_keeps_the_messages(settings, redis, llm, telegram):
    client, say = bot(settings)
    say("I want to talk to a human please", update_id=1)
    say("hello? my order is late", update_id=2)
    assert texts(telegram) == ["I've asked a colleague to take over. They'll answer you here soon."]
    assert llm.completions == []
    assert [ledger.lookup(redis, "telegram", n)["outcome"] for n in ("1", "2")] == ["handoff", "handoff"]
    shown = client.get(f"/api/conversations/{CONVERSATION}", headers=AUTH).get_json()
    assert shown["paused"]["by"] == "user"
    assert [m["content"] for m in shown["history"]] == ["I want to talk to a human please", "hello? my order is late"]


def test_the_api_pauses_and_resumes_the_bot(settings, redis, llm, telegram):
    client, say = bot(settings)
    paused = client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": 30}, headers=AUTH)
    assert paused.status_code == 200 and paused.get_json()["paused"]["by"] == "api"
    assert 0 < redis.ttl(f"bot:paused:{CONVERSATION}") <= 1800
    say("anyone?")
    assert texts(telegram) == []
    assert client.post(f"/api/conversations/{CONVERSATION}/resume", headers=AUTH).get_json()["resumed"] is True
    say("back to the bot")
    assert len(texts(telegram)) == 1  # the bot answers again, seeing what was written while it was paused
    assert [m["content"] for m in llm.completions[0]["messages"][1:]] == ["anyone?", "back to the bot"]


def test_a_handoff_times_out(settings, redis):
    bot(settings, HANDOFF_TIMEOUT="60")[1]("talk to a human")
    assert 0 < redis.ttl(f"bot:paused:{CONVERSATION}") <= 60


def test_the_prompt_chooses_the_phrases(settings, tmp_path, telegram):
    (tmp_path / "system.md").write_text("---\nhandoff_phrases: [\"operator\"]\n---\nYou help.")
    say = bot(settings, PROMPTS_DIR=str(tmp_path))[1]
    say("talk to a human")
    say("operator!")
    assert texts(telegram) == ["LLM: talk to a human", "I've asked a colleague to take over. They'll answer you here soon."]


def test_the_api_needs_its_token(settings, redis):
    client, _ = bot(settings)
    assert client.post(f"/api/conversations/{CONVERSATION}/pause").status_code == 401
    assert client.post(f"/api/conversations/{CONVERSATION}/pause", headers={"Authorization": "Bearer nope"}).status_code == 403
    off = create_app(settings).test_client()
    response = off.post(f"/api/conversations/{CONVERSATION}/pause", headers=AUTH)
    assert response.status_code == 404 and "API_TOKEN" in response.get_json()["error"]
    assert handoff.status(redis, CONVERSATION) is None


def test_a_bad_pause_is_400(settings):
    client, _ = bot(settings)
    response = client.post(f"/api/conversations/{CONVERSATION}/pause", json={"minutes": -5}, headers=AUTH)
    assert response.status_code == 400 and "minutes" in response.get_json()["error"]
