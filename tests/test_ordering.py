"""One turn at a time per conversation, in order, across worker processes; conversations in parallel."""

from __future__ import annotations

from tests.helpers import post_update, texts, update


def test_messages_waiting_together_are_answered_in_one_turn(client, run_worker, telegram):
    for text in ("A one", "A two", "A three"):
        post_update(client, update(text))
    run_worker()
    assert texts(telegram) == ["LLM: A one + A two + A three"]


def test_a_message_sent_during_a_turn_is_answered_next_in_order(client, llm, telegram, start_workers):
    llm.gate.clear()
    post_update(client, update("A first"))
    start_workers(2)
    llm.wait_for(lambda: len(llm.completions) == 1)  # the first turn is with the LLM
    post_update(client, update("A second"))
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == 2)
    assert texts(telegram) == ["LLM: A first", "LLM: A second"]
    second_prompt = [m["content"] for m in llm.completions[1]["messages"][1:]]
    assert second_prompt == ["A first", "LLM: A first", "A second"]


def test_two_workers_never_run_two_turns_of_one_conversation_at_once(client, redis, llm, telegram, start_workers):
    llm.gate.clear()
    post_update(client, update("B one"))
    start_workers(2)
    llm.wait_for(lambda: len(llm.completions) == 1)
    post_update(client, update("B two"))
    # As if the pending marker had expired in a long queue: a second turn job for the same conversation.
    redis.delete("bot:pending:telegram:123456789")
    post_update(client, update("B three"))
    llm.wait_for(lambda: redis.llen("rq:queue:turns") == 0)  # the other worker took that job
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == 2 and not redis.exists("bot:lease:telegram:123456789"))
    assert llm.max_in_flight["B"] == 1
    assert texts(telegram) == ["LLM: B one", "LLM: B two + B three"]


def test_different_conversations_run_in_parallel(client, llm, telegram, start_workers):
    llm.gate.clear()
    post_update(client, update("C hello", chat_id=1001))
    post_update(client, update("D hello", chat_id=1002))
    start_workers(2)
    llm.wait_for(lambda: llm.in_flight.get("C") == 1 and llm.in_flight.get("D") == 1)
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == 2)
    assert sorted(texts(telegram)) == ["LLM: C hello", "LLM: D hello"]
