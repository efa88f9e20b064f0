"""One worker process, many turns at once: each slot a real RQ worker on a thread, with RQ's bookkeeping intact."""

from __future__ import annotations

import signal
import time

import pytest
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from bot.ops import ledger
from tests.helpers import Bot, post_update, update


@pytest.fixture
def settings(settings):
    return {**settings, "WORKER_CONCURRENCY": "4", "SHUTDOWN_GRACE": "1"}


def test_one_worker_process_holds_a_turn_per_slot_in_flight(client, redis, llm, telegram, start_workers):
    llm.gate.clear()
    for chat_id in range(1, 6):
        post_update(client, update(f"c{chat_id} hello", chat_id=chat_id))
    start_workers(1)
    llm.wait_for(lambda: len(llm.completions) == 4)  # four slots, four LLM calls at once; the fifth waits
    assert Worker.count(connection=redis) == 4 and redis.llen("rq:queue:turns") == 1
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == 5)
    assert sorted(call["text"] for call in telegram.sent) == sorted(f"LLM: c{n} hello" for n in range(1, 6))
    telegram.wait_for(lambda: StartedJobRegistry("turns", connection=redis).count == 0)  # RQ saw every job end


def test_sigterm_hands_back_the_turns_still_running_after_the_grace(client, redis, llm, telegram, start_workers):
    llm.gate.clear()
    for chat_id in (1, 2):
        post_update(client, update(f"c{chat_id} hello", chat_id=chat_id, update_id=8000 + chat_id))
    [worker] = start_workers(1)
    llm.wait_for(lambda: len(llm.completions) == 2)
    worker.send_signal(signal.SIGTERM)  # both turns are stuck on the LLM past the grace
    assert worker.wait(timeout=30) == 0
    assert redis.keys("bot:lease:*") == [] and redis.llen("rq:queue:turns") == 2  # handed back, queued again
    assert Worker.count(connection=redis) == 0  # every slot unregistered, idle or not
    llm.gate.set()
    start_workers(1)
    telegram.wait_for(lambda: all(ledger.lookup(redis, "telegram", str(8000 + n)) for n in (1, 2)), timeout=60)
    assert sorted(call["text"] for call in telegram.sent) == ["LLM: c1 hello", "LLM: c2 hello"]


def test_a_job_over_its_timeout_fails_in_rq_and_its_slot_goes_on(settings, redis, telegram):
    b = Bot(settings)
    Queue("turns", connection=redis).enqueue("timeit.timeit", "pass", number=10**12, job_timeout=1)  # hours, unless stopped
    post_update(b.client, update("still answered"))
    b.run()
    [failed] = FailedJobRegistry("turns", connection=redis).get_job_ids()
    assert "JobTimeoutException" in Queue("turns", connection=redis).fetch_job(failed).latest_result().exc_string
    assert [call["text"] for call in telegram.sent] == ["LLM: still answered"]


def test_a_worker_process_runs_more_slots_than_redis_pys_default_pool_of_100(settings, redis, start_workers):
    settings["WORKER_CONCURRENCY"] = "120"  # each waits on the queue with a connection of its own
    start_workers(1)
    deadline = time.monotonic() + 60
    while Worker.count(connection=redis) < 120 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # a few rounds of waiting on the queue, all slots at once
    assert Worker.count(connection=redis) == 120


def test_platform_clients_keep_a_connection_for_each_slot(settings):
    b = Bot({**settings, "WORKER_CONCURRENCY": "32"})
    session = b.rt.channels["telegram"].http.session
    assert session.get_adapter("https://api.telegram.org/").poolmanager.connection_pool_kw["maxsize"] == 32
