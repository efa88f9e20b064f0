"""Running it: health checks, and logs that are structured and never carry secrets or message text."""

from __future__ import annotations

import json
import logging

from bot.ops.logs import JsonFormatter
from bot.worker.local import free_port
from tests.fakes import telegram_error
from tests.helpers import Bot, post_update, update


def test_healthz_is_always_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_wants_a_worker_and_says_what_to_do(client, start_workers, telegram):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["problems"] == ["no worker is running: start one (Procfile `worker`)"]
    start_workers()
    telegram.wait_for(lambda: client.get("/readyz").status_code == 200)


def test_readyz_reports_a_stuck_queue(client, redis):
    post_update(client, update("waiting"))
    [job] = redis.lrange("rq:queue:turns", 0, -1)
    redis.hset(f"rq:job:{job.decode()}", "enqueued_at", "2026-01-01T00:00:00.000000Z")
    problems = client.get("/readyz").get_json()["problems"]
    assert any("the oldest queued turn has waited" in problem for problem in problems)


def test_readyz_without_redis_is_503(settings):
    down = Bot({**settings, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}).client
    response = down.get("/readyz")
    assert response.status_code == 503 and "check REDIS_URL" in response.get_json()["problems"][0]


def test_log_lines_are_json_with_the_events_fields():
    record = logging.LogRecord("bot.turn.job", logging.INFO, "", 0, "turn done", (), None)
    record.conversation, record.latency_ms = "telegram:1", 42
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["conversation"], line["latency_ms"], line["level"]) == ("turn done", "telegram:1", 42, "INFO")


def test_no_log_line_carries_a_secret_or_the_messages_text(settings, telegram, start_workers, tmp_path, capfd):
    secrets = {"TELEGRAM_BOT_TOKEN": "999:SECRET-BOT-TOKEN", "TELEGRAM_WEBHOOK_SECRET": "SECRET-WEBHOOK",
               "OPENAI_API_KEY": "sk-SECRET-OPENAI", "API_TOKEN": "SECRET-API", "LOG_LEVEL": "DEBUG"}
    settings.update(secrets)
    b = Bot(settings)
    telegram.then(telegram_error(401, "Unauthorized"))  # failures are where secrets leak into logs
    post_update(b.client, update("my PRIVATE words"), secret="SECRET-WEBHOOK")
    post_update(b.client, update("wrong secret"), secret="SECRET-WRONG")
    start_workers()

    def worker_logs() -> str:
        return "".join(path.read_text() for path in tmp_path.glob("worker-*.log"))

    telegram.wait_for(lambda: "turn done" in worker_logs())  # with the 401 logged: for the reply or the indicator
    logs = capfd.readouterr().err + worker_logs()
    for secret in [*secrets.values()][:4] + ["PRIVATE words"]:
        assert secret not in logs, secret


def test_a_turns_log_lines_carry_ids_prompt_version_latencies_and_tokens(client, run_worker, caplog):
    caplog.set_level(logging.INFO)
    post_update(client, update("hello"))
    run_worker()
    answered = next(record for record in caplog.records if record.getMessage() == "LLM answered")
    done = next(record for record in caplog.records if record.getMessage() == "turn done")
    assert answered.prompt.startswith("system.md@") and (answered.prompt_tokens, answered.completion_tokens) == (10, 5)
    assert answered.llm_ms >= 0 and done.latency_ms >= answered.llm_ms and done.turn == answered.turn
    assert (done.conversation, done.platform, done.outcome, done.messages) == ("telegram:123456789", "telegram", "replied", 1)
