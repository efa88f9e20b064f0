"""GET /metrics: what every web and worker process counted, added up in Redis, in Prometheus's format."""

from __future__ import annotations

import time

import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from bot.ops import series
from bot.ops.metrics import Metrics
from bot.worker.local import free_port
from tests.fakes import Canned, completion, openai_error, telegram_error
from tests.helpers import TELEGRAM_SECRET, Bot, post_update, update


def scrape(client, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_replied_message_is_counted_from_webhook_to_delivery(client, run_worker, telegram):
    post_update(client, update("hello", update_id=7))
    post_update(client, update("hello", update_id=7))  # Telegram retrying
    run_worker()
    samples = scrape(client)
    assert value(samples, "chatbot_webhooks_total", platform="telegram", status="200") == 2
    assert value(samples, "chatbot_dedupe_hits_total", platform="telegram") == 1
    assert value(samples, "chatbot_turns_total", platform="telegram", outcome="replied") == 1
    assert value(samples, "chatbot_deliveries_total", platform="telegram", status="sent") == 1
    assert value(samples, "chatbot_turn_seconds_count", platform="telegram") == 1
    assert value(samples, "chatbot_llm_seconds_count", outcome="ok") == 1
    assert value(samples, "chatbot_llm_tokens_total", kind="prompt") == 10  # the fake's usage figures
    assert value(samples, "chatbot_llm_tokens_total", kind="completion") == 5


def test_refused_webhooks_are_counted_by_status_with_unknown_platforms_grouped(client):
    post_update(client, update("forged"), secret="wrong")
    client.post("/webhooks/telegram", data="not json", headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    client.post("/webhooks/made-up-1", json={})
    client.post("/webhooks/made-up-2", json={})
    samples = scrape(client)
    assert value(samples, "chatbot_webhooks_total", platform="telegram", status="403") == 1
    assert value(samples, "chatbot_webhooks_total", platform="telegram", status="400") == 1
    assert value(samples, "chatbot_webhooks_total", platform="unknown", status="404") == 2


def test_llm_errors_by_kind_and_the_dead_letter_they_end_in(client, run_worker, llm):
    llm.then(openai_error(429, "Rate limit reached", retry_after="0"), openai_error(503, "overloaded", retry_after="0"),
             openai_error(500, "boom", retry_after="0"))
    post_update(client, update("are you there?"))
    run_worker()
    samples = scrape(client)
    assert value(samples, "chatbot_llm_errors_total", kind="rate_limited") == 1
    assert value(samples, "chatbot_llm_errors_total", kind="server") == 2
    assert value(samples, "chatbot_llm_seconds_count", outcome="error") == 3
    assert value(samples, "chatbot_dead_letters_total", platform="telegram") == 1
    assert value(samples, "chatbot_turns_total", platform="telegram", outcome="notice") == 1


def test_formatting_fallback_and_failed_deliveries(client, run_worker, llm, telegram):
    llm.then(Canned(body=completion("**bold**")))
    telegram.then(telegram_error(400, "Bad Request: can't parse entities"))
    post_update(client, update("format"))
    run_worker()
    telegram.then(telegram_error(403, "Forbidden: bot was blocked by the user"))
    post_update(client, update("blocked"))
    run_worker()
    samples = scrape(client)
    assert value(samples, "chatbot_deliveries_total", platform="telegram", status="plain_fallback") == 1
    assert value(samples, "chatbot_deliveries_total", platform="telegram", status="failed") == 1
    assert value(samples, "chatbot_turns_total", platform="telegram", outcome="dead_letter") == 1


def test_merged_bursts_and_limit_notices(settings):
    b = Bot(settings, BURST_WINDOW="0.3", USER_RATE_LIMIT="3")
    for text in ("one", "two", "three"):
        post_update(b.client, update(text))
    b.run()
    for text in ("four", "five"):  # over USER_RATE_LIMIT
        post_update(b.client, update(text))
    b.run()
    samples = scrape(b.client)
    assert value(samples, "chatbot_turns_total", platform="telegram", outcome="merged") == 1
    assert value(samples, "chatbot_merged_messages_total", platform="telegram") == 3
    assert value(samples, "chatbot_limit_notices_total", limit="rate", notified="yes") == 1


def test_gauges_show_the_queue_as_it_is_now(client, redis):
    post_update(client, update("waiting", chat_id=1))
    post_update(client, update("waiting too", chat_id=2))
    [job, _] = redis.lrange("rq:queue:turns", 0, -1)
    redis.hset(f"rq:job:{job.decode()}", "enqueued_at", "2026-01-01T00:00:00.000000Z")
    samples = scrape(client)
    assert value(samples, "chatbot_queue_depth") == 2
    assert value(samples, "chatbot_queue_oldest_seconds") > 3600
    assert value(samples, "chatbot_active_conversations") == 2
    assert value(samples, "chatbot_workers") == 0


def test_worker_processes_and_web_processes_add_into_the_same_figures(settings, client, start_workers, telegram):
    other_web = Bot(settings).client  # a second gunicorn worker, in effect
    post_update(client, update("from web one", chat_id=1))
    post_update(other_web, update("from web two", chat_id=2))
    start_workers(2)
    telegram.wait_for(lambda: value(scrape(client), "chatbot_turns_total", platform="telegram", outcome="replied") == 2)
    assert value(scrape(other_web), "chatbot_webhooks_total", platform="telegram", status="200") == 2


def test_counts_made_while_redis_is_down_are_added_once_it_is_back(redis_url, redis):
    metrics = Metrics(redis_lib.Redis(port=free_port()))
    metrics.count("dedupe_hits", platform="telegram")
    metrics.flush()  # fails quietly: the count waits
    metrics.redis = redis
    metrics.flush()
    assert list(redis.hvals("bot:metrics")) == [b"1"]


def test_metrics_token_guards_the_endpoint(settings):
    settings["METRICS_TOKEN"] = "scrape-secret"
    client = Bot(settings).client
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert "chatbot_queue_depth" in str(scrape(client, Authorization="Bearer scrape-secret"))


def test_the_consoles_per_minute_counts_ride_the_same_flush(client, run_worker, llm, redis):
    post_update(client, update("hello", chat_id=1))
    run_worker()
    llm.then(*[openai_error(500, "boom", retry_after="0")] * 3)
    post_update(client, update("are you there?", chat_id=2))
    run_worker()
    last_hour = series.window(redis, 60)  # summed, as the test may straddle two minutes
    assert len(last_hour["at"]) == 60 and last_hour["at"][-1] == time.time() // 60 * 60
    assert {outcome: sum(counts) for outcome, counts in last_hour["turns"].items()} == {"notice": 1, "replied": 1}
    assert sum(last_hour["llm_errors"]) == 3
    latencies = [(p50, p95) for p50, p95 in zip(last_hour["p50"], last_hour["p95"]) if p50 is not None]
    assert latencies and all(0 < p50 <= p95 for p50, p95 in latencies)
    minutes = redis.keys("bot:minute:*")
    assert minutes and all(0 < redis.ttl(key) <= 2 * 86400 for key in minutes)


def test_a_percentile_is_read_from_a_minutes_buckets():
    minute = {"turn_seconds:1.0": 2, "turn_seconds:2.0": 2, "turn_seconds:+Inf": 1, "turns:replied": 5}
    assert series.percentile(minute, 0.5) == 1.25 and series.percentile(minute, 0.95) == 2.0
    assert series.percentile({}, 0.5) is None


def test_the_queue_is_sampled_into_the_minutes_counts(settings, client, redis):
    post_update(client, update("waiting", chat_id=1))
    post_update(client, update("waiting too", chat_id=2))  # two turns queued, no worker running
    series.sample(Bot(settings).rt)  # what each worker's sweeper does
    last_hour = series.window(redis, 60)
    assert [(depth, workers) for depth, workers in zip(last_hour["queue_depth"], last_hour["workers"]) if workers is not None] \
        == [(2, 0)]  # one minute sampled: the others have no figure, rather than a zero
