"""The turn log the console shows: both sides of every turn with its outcome, latency and prompt, the bot's own messages,
bounded in length and kept for TRANSCRIPT_TTL."""

from __future__ import annotations

from bot.config import Config
from bot.messages import IncomingMessage
from bot.ops import transcript
from bot.turn.conversation import Turn
from tests.fakes import openai_error
from tests.helpers import Bot

ADA = "telegram:123456789"
API = {"Authorization": "Bearer api-token-for-tests"}


def test_a_turn_logs_both_sides_with_outcome_latency_and_prompt(settings, redis, llm):
    b = Bot(settings, API_TOKEN="api-token-for-tests", TRANSCRIPT_TTL="3600")
    b.say("hello <b>there</b>")
    llm.then(*[openai_error(500, "boom")] * 3)
    b.say("and now?")  # the LLM fails: a notice (the turn kept as a dead letter)
    b.client.post("/api/messages", json={"conversation": ADA, "text": "Your order shipped."}, headers=API)
    b.run()
    log = transcript.entries(redis, ADA)
    assert [(entry["who"], entry["text"], entry["outcome"]) for entry in log] == [
        ("user", "hello <b>there</b>", "replied"), ("bot", "LLM: hello <b>there</b>", "replied"),
        ("user", "and now?", "notice"), ("bot", Config.failure_notice, "notice"),
        ("proactive", "Your order shipped.", "replied")]
    assert log[1]["prompt"].startswith("system.md@") and log[1]["latency_ms"] >= 0 and log[3]["kind"] == "notice"
    assert log[0]["user"] == "Ada" and 3590 < redis.ttl(f"bot:transcript:{ADA}") <= 3600


def test_the_log_keeps_the_newest_entries_only(redis):
    message = IncomingMessage("telegram", "1", "7", "42", "hi")
    for n in range(transcript.MAX_ENTRIES):
        transcript.turn(redis, 60, "telegram:7", Turn(f"t{n}", [message], reply=f"answer {n}"), "replied")
    log = transcript.entries(redis, "telegram:7")
    assert len(log) == transcript.MAX_ENTRIES and log[-1]["text"] == f"answer {transcript.MAX_ENTRIES - 1}"
    assert log[0]["text"] == "hi" and log[0]["turn"] == f"t{transcript.MAX_ENTRIES // 2}"


def test_turns_are_counted_per_prompt_and_day(settings, redis):
    b = Bot(settings)
    b.say("one")
    b.say("two")
    [(label, count)] = transcript.prompt_turns(redis).items()
    assert label.startswith("system.md@") and count == 2 and transcript.prompt_turns(redis, "2001-01-01") == {}


def test_a_log_that_cannot_be_written_fails_no_turn(settings, redis, telegram, caplog):
    from rq.registry import FailedJobRegistry

    b = Bot(settings)
    redis.set(f"bot:transcript:{ADA}", "not a list")  # every write to it fails, as an unreachable Redis would
    b.say("hello")
    assert [message["text"] for message in telegram.sent] == ["LLM: hello"]
    assert FailedJobRegistry(queue=b.rt.turns.queue).count == 0 and redis.zscore("bot:recent", ADA) is not None
    assert any(record.getMessage() == "transcript not written: ResponseError" for record in caplog.records)
