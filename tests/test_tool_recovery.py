"""A turn's tool calls survive SIGKILL and SIGTERM: the journal replays them, so none is made twice that must not be."""

from __future__ import annotations

import json
import signal

import pytest

from bot.ops import ledger
from bot.tools.loop import UNKNOWN_RESULT
from tests.conftest import stop_group
from tests.fakes import Canned, completion, tool_calls
from tests.helpers import post_update, update
from tests.test_tools import tool_settings, write_tool

JOURNAL = "bot:journal:telegram:123456789"
RESULT = '{"order": "1042", "status": "shipped"}'


@pytest.fixture
def prompts(tmp_path, shop):
    (tmp_path / "system.md").write_text("---\ntools: [lookup_order]\n---\nYou help customers with their orders.")
    write_tool(tmp_path, shop)
    return tmp_path


@pytest.fixture
def settings(settings, prompts, shop):
    """Short leases and grace, so recovery takes seconds; the tools of `prompts`, allowed and signed."""
    return {**settings, **tool_settings(prompts, shop), "LEASE_SECONDS": "2", "SHUTDOWN_GRACE": "1"}


def sent_texts(telegram) -> list[str]:
    return [call.body["text"] for call in telegram.delivered if call.method == "sendMessage"]


def answered(redis, telegram, update_id: int) -> None:
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", str(update_id)) is not None, timeout=60)


def journal(redis) -> dict[str, dict]:
    return {name.decode(): json.loads(value) for name, value in redis.hgetall(JOURNAL).items() if name != b"turn"}


def test_a_worker_killed_after_a_tool_call_and_before_the_reply_never_calls_it_again(client, redis, llm, telegram, shop,
                                                                                      start_workers):
    llm.then(tool_calls(("lookup_order", {"order": "1042"})), Canned(body=completion("never sent"), delay=60))
    post_update(client, update("where is 1042?", update_id=7101))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.completions) == 2)  # the tool's result is with the model, which takes its time
    stop_group(first, signal.SIGKILL)
    first.wait()
    assert journal(redis)["call:0:0"]["result"] == RESULT  # kept before the model saw it
    start_workers()
    answered(redis, telegram, 7101)
    assert len(shop.requests) == 1
    assert sent_texts(telegram) == [f"LLM: {RESULT}"]
    assert len(llm.completions) == 3 and llm.completions[2]["messages"] == llm.completions[1]["messages"]  # replayed
    assert not redis.exists(JOURNAL)  # dropped with the turn


def test_a_non_idempotent_call_in_flight_when_its_worker_dies_is_never_sent_again(client, redis, llm, telegram, shop, prompts,
                                                                                    start_workers):
    write_tool(prompts, shop, idempotent=False)
    shop.gate.clear()
    shop.hold = lambda call: True  # the refund is on its way, and its answer never comes back in time
    llm.then(tool_calls(("lookup_order", {"order": "1042"})))
    post_update(client, update("refund 1042", update_id=7102))
    [first] = start_workers()
    shop.wait_for(lambda: len(shop.requests) == 1)
    stop_group(first, signal.SIGKILL)
    first.wait()
    shop.gate.set()  # it lands: the shop acted, and nobody heard
    start_workers()
    answered(redis, telegram, 7102)
    assert len(shop.requests) == 1
    assert llm.completions[-1]["messages"][-1]["content"] == UNKNOWN_RESULT  # the model must not assume either way
    assert sent_texts(telegram) == [f"LLM: {UNKNOWN_RESULT}"]
    assert ledger.lookup(redis, "telegram", "7102")["tools"] == [{"tool": "lookup_order", "ms": 0, "outcome": "unknown"}]


def test_an_idempotent_call_in_flight_when_its_worker_dies_is_sent_again_with_the_same_webhook_id(client, redis, llm, telegram,
                                                                                                   shop, start_workers):
    shop.gate.clear()
    shop.hold = lambda call: len(shop.requests) == 1
    llm.then(tool_calls(("lookup_order", {"order": "1042"})))
    post_update(client, update("where is 1042?", update_id=7103))
    [first] = start_workers()
    shop.wait_for(lambda: len(shop.requests) == 1)
    stop_group(first, signal.SIGKILL)
    first.wait()
    start_workers()
    answered(redis, telegram, 7103)
    assert len(shop.requests) == 2 and len(set(shop.ids())) == 1  # the receiver can tell it is the same call
    assert sent_texts(telegram) == [f"LLM: {RESULT}"]


def test_a_turn_handed_back_on_sigterm_replays_its_tool_calls(client, redis, llm, telegram, shop, start_workers):
    llm.then(tool_calls(("lookup_order", {"order": "1042"})), Canned(body=completion("never sent"), delay=60))
    post_update(client, update("where is 1042?", update_id=7104))
    [first] = start_workers()
    llm.wait_for(lambda: len(llm.completions) == 2)
    first.send_signal(signal.SIGTERM)  # Heroku's restart: the turn is handed back, its journal with it
    first.wait(timeout=30)
    start_workers()
    answered(redis, telegram, 7104)
    assert len(shop.requests) == 1 and sent_texts(telegram) == [f"LLM: {RESULT}"]
