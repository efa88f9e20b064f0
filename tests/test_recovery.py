"""Crashes and shutdowns: a turn survives SIGKILL, SIGTERM and a Redis restart, without duplicate parts."""

from __future__ import annotations

import signal

import pytest

from app import create_app
from bot import ledger
from bot.worker import work
from tests.conftest import RedisServer, stop_group
from tests.fakes import Canned, completion, telegram_error
from tests.helpers import post_update, update

LEASE = "bot:lease:telegram:123456789"


@pytest.fixture
def settings(settings):
    """Short leases and grace, so recovery takes seconds, not a minute."""
    return {**settings, "LEASE_SECONDS": "2", "SHUTDOWN_GRACE": "1"}


def sent_texts(telegram) -> list[str]:
    return [call.body["text"] for call in telegram.delivered if call.method == "sendMessage"]


def test_a_worker_killed_during_the_llm_call_is_replaced_and_the_message_answered_once(client, redis, llm, telegram, start_workers):
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
    paragraphs = [f"P{n} " + " ".join(["word"] * 700) for n in range(3)]  # three parts of ~3.5k characters
    llm.then(Canned(body=completion("\n\n".join(paragraphs))))
    telegram.gate.clear()
    telegram.hold = lambda call: call.method == "sendMessage" and call.body["text"].startswith("P1")
    post_update(client, update("K long", update_id=7002))
    [first] = start_workers()
    telegram.wait_for(lambda: any(call.body.get("text", "").startswith("P1") for call in telegram.requests))
    stop_group(first, signal.SIGKILL)  # part 0 delivered; part 1 on its way, never acknowledged
    first.wait()
    telegram.then(telegram_error(502, "Bad Gateway"))  # so the held part 1 did not reach the user
    telegram.hold = lambda call: False
    telegram.gate.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "7002") is not None, timeout=60)
    assert [text[:2] for text in sent_texts(telegram)] == ["P0", "P1", "P2"]
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
        bot = create_app({**settings, "REDIS_URL": server.url})
        assert post_update(bot.test_client(), update("survive", update_id=7004)).status_code == 200
        server.restart()
        work(bot.extensions["bot"], burst=True)
        assert sent_texts(telegram) == ["LLM: survive"]
    finally:
        server.stop()
