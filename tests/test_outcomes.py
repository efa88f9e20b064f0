"""Every message ends in exactly one recorded outcome: replied, merged, notice, dead letter or rejected."""

from __future__ import annotations

import json

import pytest

from bot.ops import ledger
from bot.turn import commands
from tests.fakes import openai_error, telegram_error
from tests.helpers import Bot, dead_letters, post_update, texts, update


def outcome(redis, update_id: int) -> str:
    return ledger.lookup(redis, "telegram", str(update_id))["outcome"]


def test_a_message_alone_is_replied_and_a_burst_is_merged(client, run_worker, redis, telegram):
    post_update(client, update("alone", update_id=1))
    run_worker()
    for n in (2, 3, 4):
        post_update(client, update(f"burst {n}", update_id=n))
    run_worker()
    assert [outcome(redis, n) for n in (1, 2, 3, 4)] == ["replied", "merged", "merged", "merged"]
    turns = {ledger.lookup(redis, "telegram", str(n))["turn"] for n in (2, 3, 4)}
    assert len(turns) == 1
    assert ledger.counts(redis) == {"replied": 1, "merged": 3}


def test_the_burst_window_waits_for_the_user_to_finish(settings, telegram):
    b = Bot(settings, BURST_WINDOW="0.5", BURST_MAX_WAIT="3")
    post_update(b.client, update("part one", update_id=11))
    post_update(b.client, update("part two", update_id=12))
    b.run()
    assert texts(telegram) == ["LLM: part one + part two"]


@pytest.mark.parametrize("second, expected", [
    ("R second", ["LLM: R first + R second"]),  # folded into the running turn, and the LLM asked again
    ("/help", ["LLM: R first", commands.HELP]),  # a command is left for a turn of its own
])
def test_restart_mode_folds_messages_sent_during_the_llm_call_into_its_reply_but_not_a_command(settings, llm, telegram,
                                                                                             start_workers, second, expected):
    settings.update(BURST_MODE="restart")  # the workers' environment too
    client = Bot(settings).client
    llm.gate.clear()
    post_update(client, update("R first", update_id=21))
    start_workers()
    llm.wait_for(lambda: len(llm.completions) == 1)
    post_update(client, update(second, update_id=22))
    llm.gate.set()
    telegram.wait_for(lambda: len(telegram.sent) == len(expected))
    assert texts(telegram) == expected


def test_an_llm_failure_is_a_notice_and_a_dead_letter(client, run_worker, redis, llm, telegram):
    llm.then(*[openai_error(500, "boom")] * 3)
    post_update(client, update("fails", update_id=31))
    run_worker()
    assert texts(telegram) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert outcome(redis, 31) == "notice"
    assert dead_letters(redis)[0]["reason"] == "LLM: LLM answered 500"


def test_an_exhausted_llm_quota_is_not_retried(client, run_worker, redis, llm, telegram):
    llm.then(openai_error(429, "You exceeded your current quota", code="insufficient_quota"))
    post_update(client, update("quota", update_id=32))
    run_worker()
    assert len(llm.completions) == 1
    assert outcome(redis, 32) == "notice"
    assert dead_letters(redis)[0]["reason"] == "LLM: LLM quota exhausted"


def test_a_refused_delivery_is_a_dead_letter(client, run_worker, redis, telegram):
    telegram.then(telegram_error(403, "Forbidden: bot was blocked by the user"))
    post_update(client, update("blocked", update_id=41))
    run_worker()
    record = ledger.lookup(redis, "telegram", "41")
    assert record["outcome"] == "dead_letter"
    assert dead_letters(redis)[0]["id"] == record["detail"]


def test_over_the_rate_limit_the_user_gets_one_notice_per_window(settings, redis, telegram):
    b = Bot(settings, USER_RATE_LIMIT="2")
    for n in (51, 52, 53, 54):
        post_update(b.client, update(f"msg {n}", update_id=n))
        b.run()
    notice = "You're sending messages faster than I can answer. Please wait a minute."
    assert texts(telegram) == ["LLM: msg 51", "LLM: msg 52", notice]
    assert [outcome(redis, n) for n in (51, 52, 53, 54)] == ["replied", "replied", "notice", "rejected"]


def test_over_the_daily_token_budget_the_llm_is_not_called(settings, redis, llm, telegram):
    b = Bot(settings, USER_DAILY_TOKENS="20")  # the fake LLM reports 15 tokens a call
    for n in (61, 62, 63, 64):
        post_update(b.client, update(f"msg {n}", update_id=n))
        b.run()
    assert len(llm.completions) == 2
    assert texts(telegram)[2] == "You've reached today's limit for this assistant. Please come back tomorrow."
    assert [outcome(redis, n) for n in (61, 62, 63, 64)] == ["replied", "replied", "notice", "rejected"]


@pytest.mark.parametrize("notice", ["Sorry, I can only read text messages.", ""])
def test_non_text_messages_get_a_polite_notice_or_are_ignored(settings, redis, llm, telegram, notice):
    b = Bot(settings, NON_TEXT_NOTICE=notice)
    sticker = update("", update_id=71)
    del sticker["message"]["text"]
    sticker["message"]["sticker"] = {"file_id": "CAACAgIAAxkBAAE", "emoji": "👍"}
    post_update(b.client, sticker)
    b.run()
    assert llm.completions == []
    assert texts(telegram) == ([notice] if notice else [])
    assert outcome(redis, 71) == ("notice" if notice else "rejected")


def test_the_outcome_command_answers_what_happened_to_a_message(app, client, run_worker):
    post_update(client, update("where is it?", update_id=81))
    run_worker()
    result = app.test_cli_runner().invoke(args=["outcome", "telegram", "81"])
    assert result.exit_code == 0
    assert json.loads(result.output)["outcome"] == "replied"
    missing = app.test_cli_runner().invoke(args=["outcome", "telegram", "999"])
    assert missing.exit_code == 1 and "no outcome recorded" in missing.output


def test_dead_letters_can_be_listed_shown_replayed_and_purged(app, client, run_worker, redis, llm, telegram):
    llm.then(*[openai_error(500, "boom")] * 3)
    post_update(client, update("try again later", update_id=91))
    run_worker()
    cli = app.test_cli_runner()
    [letter] = dead_letters(redis)
    assert letter["id"] in cli.invoke(args=["dead-letters", "list"]).output
    assert "try again later" in cli.invoke(args=["dead-letters", "show", letter["id"]]).output
    assert cli.invoke(args=["dead-letters", "replay", letter["id"]]).exit_code == 0
    run_worker()
    assert texts(telegram)[-1] == "LLM: try again later"
    assert dead_letters(redis) == []
    llm.then(*[openai_error(500, "boom")] * 3)
    post_update(client, update("again", update_id=92))
    run_worker()
    assert "Purged 1" in cli.invoke(args=["dead-letters", "purge", "--all"]).output
    assert dead_letters(redis) == []


def test_a_command_in_a_burst_is_answered_and_so_are_the_messages_around_it_in_order(client, run_worker, redis, llm, telegram):
    for n, text in ((41, "What are your opening hours?"), (42, "and on Sundays?"), (43, "/start"), (44, "thanks")):
        post_update(client, update(text, update_id=n))
    run_worker()
    assert texts(telegram) == ["LLM: What are your opening hours? + and on Sundays?", commands.GREETING, "LLM: thanks"]
    assert [outcome(redis, n) for n in (41, 42, 43, 44)] == ["merged", "merged", "replied", "replied"]
    last_call = [m["content"] for m in llm.completions[-1]["messages"][1:]]
    assert last_call[:2] == ["What are your opening hours?", "and on Sundays?"]  # the history kept the question


def test_reset_in_a_burst_forgets_what_came_before_it_and_the_messages_after_it_start_the_new_history(client, run_worker, llm,
                                                                                                     telegram):
    for n, text in ((51, "my name is Ada"), (52, "/reset"), (53, "what is my name?")):
        post_update(client, update(text, update_id=n))
    run_worker()
    assert texts(telegram) == ["LLM: my name is Ada", commands.FORGOTTEN, "LLM: what is my name?"]
    assert [m["content"] for m in llm.completions[-1]["messages"][1:]] == ["what is my name?"]


def test_a_handoff_phrase_anywhere_in_a_burst_hands_the_whole_turn_off(client, run_worker, redis, llm, telegram):
    post_update(client, update("I want to talk to a human", update_id=61))
    post_update(client, update("please, it's urgent", update_id=62))
    run_worker()
    assert texts(telegram) == ["I've asked a colleague to take over. They'll answer you here soon."]
    assert [outcome(redis, n) for n in (61, 62)] == ["handoff", "handoff"]
    assert llm.completions == [] and redis.exists("bot:paused:telegram:123456789")



def test_a_retry_after_past_the_turns_deadline_is_not_waited_for(settings, redis, llm, telegram):
    b = Bot(settings, TURN_DEADLINE="5")
    llm.then(openai_error(429, "Rate limit reached", retry_after="30"))
    post_update(b.client, update("limited", update_id=81))
    b.run()
    assert texts(telegram) == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert outcome(redis, 81) == "notice" and len(llm.completions) == 1
