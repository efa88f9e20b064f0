"""Crashes and shutdowns: a turn survives SIGKILL, SIGTERM and a Redis restart, without duplicate parts."""

from __future__ import annotations

import signal
import time

import pytest
from rq.registry import FailedJobRegistry

from bot.ops import ledger
from tests.fakes import Canned, completion
from tests.helpers import Bot, post_update, update
from tests.processes import RedisServer, stop_group

LEASE = "bot:lease:telegram:123456789"


@pytest.fixture
def settings(settings):
    """Short leases and grace, so recovery takes seconds, not a minute."""
    return {**settings, "LEASE_SECONDS": "2", "SHUTDOWN_GRACE": "1"}


def sent_texts(telegram) -> list[str]:
    return [call.body["text"] for call in telegram.delivered if call.method == "sendMessage"]


def test_a_worker_killed_during_the_llm_call_is_replaced_and_the_message_answered_once(client, redis, llm, telegram,
                                                                                      start_workers):
    llm.gate.clear()
    post_update(client, update("K one", update_id=7001))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)
    stop_group(first, signal.SIGKILL)
    first.wait()
    llm.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7001") is not None, timeout=60)
    assert sent_texts(telegram) == ["LLM: K one"]
    assert ledger.lookup(redis, "telegram", "7001")["outcome"] == "replied"


def test_a_worker_killed_mid_delivery_never_resends_a_part_nor_asks_the_llm_again(client, redis, llm, telegram, start_workers):
    """Part 1 was on its way when the worker died: Telegram may have it, and has no key to dedupe a resend, so the
    resumed turn leaves it unconfirmed and goes on with part 2."""
    paragraphs = [f"P{n} " + " ".join(["word"] * 700) for n in range(3)]  # three parts of ~3.5k characters
    llm.then(Canned(body=completion("\n\n".join(paragraphs))))
    telegram.gate.clear()
    telegram.hold = lambda call: call.method == "sendMessage" and call.body["text"].startswith("P1")
    post_update(client, update("K long", update_id=7002))
    [first] = start_workers()
    telegram.wait_for(lambda: any(call.body.get("text", "").startswith("P1") for call in telegram.requests))
    stop_group(first, signal.SIGKILL)  # part 0 delivered; part 1 on its way, never acknowledged
    first.wait()
    telegram.hold = lambda call: False
    telegram.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7002") is not None, timeout=60)
    assert [text[:2] for text in sent_texts(telegram)] == ["P0", "P1", "P2"]  # the held P1 landed late, once
    assert [body["text"][:2] for body in telegram.sent] == ["P0", "P1", "P2"]  # and was never asked for again
    assert ledger.lookup(redis, "telegram", "7002")["outcome"] == "unconfirmed"
    assert len(llm.completions) == 1


def test_sigterm_hands_the_turn_back_at_once(client, redis, llm, telegram, start_workers):
    llm.gate.clear()
    post_update(client, update("T one", update_id=7003))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)
    first.send_signal(signal.SIGTERM)  # Heroku's restart: the turn gets SHUTDOWN_GRACE seconds, then is handed back
    first.wait(timeout=30)
    assert not redis.exists(LEASE)  # released, not left to lapse
    assert redis.llen("rq:queue:turns") == 1  # and queued again
    llm.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7003") is not None, timeout=60)
    assert sent_texts(telegram) == ["LLM: T one"]


def test_a_redis_restart_with_persistence_loses_no_queued_message(settings, telegram, tmp_path):
    server = RedisServer(tmp_path, persistent=True)
    try:
        b = Bot({**settings, "REDIS_URL": server.url})
        assert post_update(b.client, update("survive", update_id=7004)).status_code == 200
        server.restart()
        b.run()
        assert sent_texts(telegram) == ["LLM: survive"]
    finally:
        server.stop()


def test_the_sweepers_deadline_follows_the_lease_from_the_moment_it_is_taken(settings, redis, llm, telegram, start_workers):
    b = Bot({**settings, "LEASE_SECONDS": "30"})
    llm.gate.clear()
    post_update(b.client, update("D one", update_id=7005))
    start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)  # the turn holds its lease, and has not renewed it yet
    assert redis.zscore("bot:active", "telegram:123456789") <= time.time() + 30  # a crash now is noticed in one lease


def test_by_default_a_dead_workers_turn_is_due_for_recovery_within_one_lease(settings, redis, llm, telegram, start_workers):
    defaults = {name: value for name, value in settings.items() if name not in ("LEASE_SECONDS", "SHUTDOWN_GRACE")}
    b = Bot(defaults)
    assert b.rt.config.lease_seconds + b.rt.config.lease_seconds / 4 * 1.2 < 20
    llm.gate.clear()
    post_update(b.client, update("D two", update_id=7006))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)
    stop_group(first, signal.SIGKILL)
    killed_at = time.time()
    first.wait()
    assert redis.zscore("bot:active", "telegram:123456789") <= killed_at + b.rt.config.lease_seconds
    llm.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7006") is not None, timeout=60)
    assert sent_texts(telegram) == ["LLM: D two"]


def test_a_turn_whose_job_raised_is_retried_at_once_until_it_is_dead_lettered(settings, redis, llm, telegram, caplog):
    b = Bot({**settings, "LEASE_SECONDS": "300"})  # a lapse would take minutes: only an immediate retry ends this
    redis.set("bot:history:telegram:123456789", "not a list")  # every attempt fails reading the history
    post_update(b.client, update("R one", update_id=7007))
    b.run()
    assert ledger.lookup(redis, "telegram", "7007")["outcome"] == "dead_letter"
    assert len(FailedJobRegistry("turns", connection=redis)) == 3  # three attempts, each kept for the operator
    assert "turn failed (ResponseError): retrying it at once" in caplog.text
    assert "worker died" not in caplog.text.replace("its worker died, or it raised", "")


def test_a_worker_killed_mid_send_of_a_proactive_message_neither_rewrites_it_nor_resends_a_part(
        settings, redis, llm, telegram, start_workers, tmp_path):
    (tmp_path / "system.md").write_text("You help.")
    (tmp_path / "news.md").write_text("Write the customer a long update.")
    settings.update(API_TOKEN="api-token", PROMPTS_DIR=str(tmp_path))
    bot = Bot(settings)
    bot.say("hi")  # the conversation is known
    paragraphs = [f"P{n} " + " ".join(["word"] * 700) for n in range(3)]
    llm.then(Canned(body=completion("\n\n".join(paragraphs))))
    telegram.gate.clear()
    telegram.hold = lambda call: call.method == "sendMessage" and call.body["text"].startswith("P1")
    response = bot.client.post("/api/messages", json={"conversation": "telegram:123456789", "prompt": "news.md"},
                               headers={"Authorization": "Bearer api-token"})
    [first] = start_workers()
    telegram.wait_for(lambda: any(call.body.get("text", "").startswith("P1") for call in telegram.requests))
    stop_group(first, signal.SIGKILL)
    first.wait()
    telegram.hold = lambda call: False
    telegram.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "api", response.get_json()["id"]) is not None, timeout=60)
    assert [body["text"][:2] for body in telegram.sent[1:]] == ["P0", "P1", "P2"]  # the part in flight is not asked again
    assert ledger.lookup(redis, "api", response.get_json()["id"])["outcome"] == "unconfirmed"
    assert len(llm.completions) == 2  # "hi", and the message: written once


def test_a_turn_queued_under_the_previous_module_path_still_runs(settings, telegram):
    b = Bot(settings)
    post_update(b.client, update("queued before the upgrade"))
    queue = b.rt.turns.queue
    queue.empty()  # the job intake queued, replaced by one as the previous release named it
    queue.enqueue("bot.turns.run", "telegram:123456789")
    b.run()
    assert sent_texts(telegram) == ["LLM: queued before the upgrade"]
