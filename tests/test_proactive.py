"""Proactive messages: a shop, CRM or payment system has the bot tell a customer something, now or later."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from bot.ops import ledger
from bot.outbound import proactive
from tests.fakes import telegram_error
from tests.helpers import Bot, dead_letters, post_update, texts, update

TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONVERSATION = "telegram:123456789"


def known(b: Bot) -> None:
    """The user writes first: only known conversations can be messaged."""
    b.say("hi")


def test_literal_text_is_sent_to_a_known_conversation_and_remembered(settings, redis, llm, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    known(b)
    response = b.client.post("/api/messages", json={"conversation": CONVERSATION, "text": "Your order has **shipped**."},
                           headers=AUTH)
    assert response.status_code == 202
    b.run()
    assert texts(telegram)[-1] == "Your order has <b>shipped</b>."
    assert ledger.lookup(redis, "api", response.get_json()["id"])["outcome"] == "replied"
    post_update(b.client, update("when will it arrive?"))
    b.run()
    assert llm.completions[-1]["messages"][-2] == {"role": "assistant", "content": "Your order has **shipped**."}


def test_a_prompt_writes_the_message_with_its_variables(settings, tmp_path, llm, telegram):
    (tmp_path / "system.md").write_text("You help.")
    (tmp_path / "shipped.md").write_text("Tell {{ user_name }} that order {{ order }} has shipped with {{ carrier }}.")
    b = Bot(settings, API_TOKEN=TOKEN, PROMPTS_DIR=str(tmp_path))
    known(b)
    body = {"conversation": CONVERSATION, "prompt": "shipped.md", "variables": {"order": "#1042", "carrier": "DHL"}}
    assert b.client.post("/api/messages", json=body, headers=AUTH).status_code == 202
    b.run()
    assert llm.completions[-1]["messages"][0]["content"] == "Tell Ada that order #1042 has shipped with DHL."
    assert len(telegram.sent) == 2


def test_a_scheduled_message_waits_for_its_time(settings, redis, telegram, start_workers):
    from rq.registry import ScheduledJobRegistry

    b = Bot(settings, API_TOKEN=TOKEN)
    known(b)
    at = datetime.now(timezone.utc) + timedelta(seconds=2)
    body = {"conversation": CONVERSATION, "text": "Reminder: your appointment is tomorrow.", "at": at.isoformat()}
    assert b.client.post("/api/messages", json=body, headers=AUTH).get_json()["at"] == at.isoformat()
    assert ScheduledJobRegistry(queue=b.rt.turns.queue).count == 1  # waiting for its time,
    assert redis.llen("rq:queue:turns") == 0  # not queued now
    start_workers()  # RQ's scheduler runs in the worker
    telegram.wait_for(lambda: len(telegram.sent) == 2, timeout=30)
    assert texts(telegram)[-1] == "Reminder: your appointment is tomorrow."


def test_unknown_conversations_and_bad_requests_are_refused(settings):
    b = Bot(settings, API_TOKEN=TOKEN)
    unknown = b.client.post("/api/messages", json={"conversation": "telegram:999", "text": "hi"}, headers=AUTH)
    assert unknown.status_code == 404 and "must have written to the bot first" in unknown.get_json()["error"]
    both = b.client.post("/api/messages", json={"conversation": CONVERSATION, "text": "a", "prompt": "b.md"}, headers=AUTH)
    assert both.status_code == 400 and "either text or prompt" in both.get_json()["error"]
    assert b.client.post("/api/messages", json={"conversation": CONVERSATION, "text": "hi"}).status_code == 401


def test_a_prompt_that_cannot_render_is_400(settings, tmp_path):
    (tmp_path / "system.md").write_text("You help.")
    (tmp_path / "shipped.md").write_text("Order {{ order }} shipped.")
    b = Bot(settings, API_TOKEN=TOKEN, PROMPTS_DIR=str(tmp_path))
    known(b)
    for name in ("shipped.md", "missing.md", "../../etc/passwd"):
        response = b.client.post("/api/messages", json={"conversation": CONVERSATION, "prompt": name}, headers=AUTH)
        assert response.status_code == 400, name


def test_whatsapps_24_hour_window_is_enforced_with_a_clear_error(settings, redis):
    b = Bot(settings, API_TOKEN=TOKEN)
    stale = {"platform": "whatsapp", "message_id": "wamid.1", "conversation_id": "1065:US.1", "user_id": "US.1",
             "text": "hi", "received_at": time.time() - 25 * 3600, "context": {}}
    redis.set("bot:contact:whatsapp:1065:US.1", json.dumps(stale))
    response = b.client.post("/api/messages", json={"conversation": "whatsapp:1065:US.1", "text": "hello"}, headers=AUTH)
    assert response.status_code == 409 and "24-hour" in response.get_json()["error"]


def test_a_message_the_platform_refuses_is_a_dead_letter_that_can_be_replayed(settings, redis, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    known(b)
    telegram.then(telegram_error(403, "Forbidden: bot was blocked by the user"))
    sent = b.client.post("/api/messages", json={"conversation": CONVERSATION, "text": "news"}, headers=AUTH).get_json()
    b.run()
    assert ledger.lookup(redis, "api", sent["id"])["outcome"] == "dead_letter"
    [letter] = dead_letters(redis)
    assert b.app.test_cli_runner().invoke(args=["dead-letters", "replay", letter["id"]]).exit_code == 0
    b.run()
    assert texts(telegram)[-1] == "news"


def test_a_message_scheduled_before_the_upgrade_still_goes_out(settings, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    known(b)
    item = proactive.outgoing("Scheduled by the previous release.")  # its jobs carried the message itself
    b.rt.turns.queue.enqueue("bot.proactive.send_later", CONVERSATION, json.dumps(item))
    b.run()
    assert texts(telegram)[-1] == "Scheduled by the previous release."


def test_a_message_scheduled_under_the_previous_module_path_still_goes_out(settings, redis, telegram):
    b = Bot(settings, API_TOKEN=TOKEN)
    known(b)
    item = proactive.outgoing("Scheduled before the modules moved.")
    redis.set(f"bot:scheduled:{item['id']}", json.dumps({**item, "conversation": CONVERSATION}))
    b.rt.turns.queue.enqueue("bot.proactive.send_scheduled", CONVERSATION, item["id"])  # its time came
    b.run()
    assert texts(telegram)[-1] == "Scheduled before the modules moved."
