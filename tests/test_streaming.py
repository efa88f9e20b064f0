"""Streamed replies: shown while the model writes them, where the platform has a safe way, and still sent once whole."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from bot.ops import ledger
from bot.ops.ledger import Outcome
from bot.render.format import HTML, render
from tests import streams, tdlib
from tests.fakes import Canned, FakePlatform, completion, tool_calls
from tests.helpers import Bot, post_update, texts, update
from tests.processes import stop_group
from tests.test_tools import tool_settings, write_tool
from tests.vendors import SLACK_SECRET, post_slack

SLACK_OK = Canned(body={"ok": True, "channel": "D123", "ts": "1767225601.000100"})

LONG = "one two three four five six seven eight nine ten"


@pytest.fixture
def settings(settings):
    """Short leases, so that a killed worker's turn is resumed within seconds."""
    return {**settings, "LEASE_SECONDS": "2", "SHUTDOWN_GRACE": "1"}


def test_a_private_chat_sees_drafts_of_the_reply_then_the_reply_once(settings, llm, telegram, redis):
    llm.then(Canned(body=completion(f"**{LONG}**")))
    llm.midway.clear()  # the stream stops halfway: its first half must show before the rest is written
    bot = Bot(settings)
    post_update(bot.client, update("tell me", update_id=901))
    worker = threading.Thread(target=bot.run)
    worker.start()
    telegram.wait_for(lambda: telegram.drafts and telegram.drafts[-1]["text"].startswith("**one two"))
    assert telegram.sent == []  # written so far, not sent
    llm.midway.set()
    worker.join(30)
    assert texts(telegram) == [f"<b>{LONG}</b>"]
    assert {draft["draft_id"] for draft in telegram.drafts} == {telegram.drafts[0]["draft_id"]}  # one part, one draft
    assert all(draft["parse_mode"] == "HTML" and draft["chat_id"] == 123456789 for draft in telegram.drafts)
    assert ledger.lookup(redis, "telegram", "901")["outcome"] == Outcome.REPLIED
    assert llm.completions[0]["stream"] is True and llm.completions[0]["stream_options"] == {"include_usage": True}


def test_the_daily_budget_counts_a_streamed_replys_tokens(settings, telegram):
    bot = Bot(settings, USER_DAILY_TOKENS="20")  # each answer costs 15 (10 prompt, 5 written), told in the last chunk
    for word in ("one", "two", "three"):
        bot.say(word)
    assert texts(telegram) == ["LLM: one", "LLM: two", bot.app.extensions["bot"].config.budget_notice]


def test_groups_get_no_draft(settings, llm, telegram):
    bot = Bot(settings)
    post_update(bot.client, update("/start@ada_test_bot hi", chat_id=-100, chat_type="supergroup"))
    post_update(bot.client, update("@ada_test_bot hi", chat_id=-100, chat_type="supergroup"))
    bot.run()
    assert len(telegram.sent) == 2 and telegram.drafts == []
    assert "stream" not in llm.completions[0]  # nothing to show it in: the call is not streamed


def test_streaming_off_sends_the_reply_alone(settings, llm, telegram):
    Bot(settings, STREAMING="0").say("hello")
    assert texts(telegram) == ["LLM: hello"] and telegram.drafts == []
    assert "stream" not in llm.completions[0]


def test_a_prompt_may_turn_streaming_off_for_itself(settings, llm, telegram, tmp_path):
    (tmp_path / "system.md").write_text("---\nstreaming: false\n---\nYou are terse.")
    Bot(settings, PROMPTS_DIR=str(tmp_path)).say("hello")
    assert texts(telegram) == ["LLM: hello"] and telegram.drafts == []
    assert "stream" not in llm.completions[0]  # nor is the call streamed


def test_the_responses_api_streams_too(settings, llm, telegram):
    llm.midway.clear()
    bot = Bot(settings, OPENAI_API="responses")
    post_update(bot.client, update(LONG))
    worker = threading.Thread(target=bot.run)
    worker.start()
    telegram.wait_for(lambda: telegram.drafts and telegram.drafts[-1]["text"].startswith("LLM: one"))
    assert telegram.sent == []
    llm.midway.set()
    worker.join(30)
    assert texts(telegram) == [f"LLM: {LONG}"]
    assert llm.calls("responses")[0]["stream"] is True


def test_a_tool_call_shows_as_a_status_line_never_as_its_arguments(settings, llm, telegram, shop, tmp_path):
    (tmp_path / "system.md").write_text("---\ntools: [lookup_order]\n---\nYou help customers with their orders.")
    write_tool(tmp_path, shop)
    llm.then(tool_calls(("lookup_order", {"order": "1042"})))
    shop.hold = lambda call: True  # the call waits until the test has seen its status line
    shop.gate.clear()
    bot = Bot({**settings, **tool_settings(tmp_path, shop)})
    post_update(bot.client, update("where is order 1042?"))
    worker = threading.Thread(target=bot.run)
    worker.start()
    telegram.wait_for(lambda: any("lookup_order" in draft["text"] for draft in telegram.drafts))
    shop.gate.set()
    worker.join(30)
    shown = [draft["text"] for draft in telegram.drafts]
    assert "<i>Using lookup_order…</i>" in shown
    assert not any("1042" in text or "{" in text for text in shown if "lookup_order" in text)
    assert len(telegram.sent) == 1


def test_the_offline_model_streams_its_echo_word_by_word(settings, telegram):
    offline = {name: value for name, value in settings.items() if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    Bot(offline).say("alpha beta gamma")
    assert texts(telegram) == ["(offline model) you said: alpha beta gamma"]
    assert telegram.drafts[0]["text"] == "(offline"  # its first word, at once


def test_a_worker_killed_mid_stream_leaves_a_draft_and_the_reply_comes_once(settings, client, redis, llm, telegram,
                                                                            start_workers):
    llm.midway.clear()
    post_update(client, update(LONG, update_id=902))
    [first] = start_workers()
    telegram.wait_for(lambda: telegram.drafts)
    stop_group(first, signal.SIGKILL)  # the reply half written: nothing saved but a draft shown
    first.wait()
    llm.midway.set()
    start_workers()
    telegram.wait_for(lambda: ledger.lookup(redis, "telegram", "902") is not None, timeout=60)
    assert texts(telegram) == [f"LLM: {LONG}"]
    assert ledger.lookup(redis, "telegram", "902")["outcome"] == Outcome.REPLIED
    assert len(llm.completions) == 2  # asked again: a half-written reply is never sent


@pytest.fixture
def slack():
    server = FakePlatform({"chat.postMessage": SLACK_OK, "chat.update": SLACK_OK}).start()
    yield server
    server.stop()


@pytest.fixture
def on_slack(settings, slack) -> dict[str, str]:
    """The settings with Slack enabled: changed in place, so that the workers start_workers starts have them too."""
    settings.update({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": slack.url})
    return settings


def slack_dm(client, text: str, ts: str = "1767225600.000200") -> None:
    event = {"type": "message", "channel_type": "im", "channel": "D123", "user": "U123", "text": text, "ts": ts}
    post_slack(client, {"type": "event_callback", "team_id": "T123", "event": event, "event_id": f"Ev{ts}",
                        "event_time": int(time.time()), "authorizations": [{"user_id": "U0BOT", "is_bot": True}]})


def test_slack_shows_the_reply_in_one_message_that_its_first_part_completes(on_slack, llm, slack, redis):
    paragraphs = [f"P{n} " + " ".join(["word"] * 500) for n in range(2)]  # two parts of ~2.5k characters
    llm.then(Canned(body=completion("\n\n".join(paragraphs))))
    llm.midway.clear()
    bot = Bot(on_slack)
    slack_dm(bot.client, "write a lot")
    worker = threading.Thread(target=bot.run)
    worker.start()
    slack.wait_for(lambda: slack.calls("chat.postMessage"))
    assert slack.calls("chat.postMessage")[0]["text"].startswith("P0")  # the first words, posted
    llm.midway.set()
    worker.join(30)
    shown, second = slack.calls("chat.postMessage")
    final = slack.calls("chat.update")[-1]
    assert final == {"channel": "D123", "ts": "1767225601.000100", "text": paragraphs[0]}  # part 0 completes the message
    assert second["text"] == paragraphs[1] and "ts" not in second
    assert ledger.lookup(redis, "slack", "T123:D123:1767225600.000200")["outcome"] == Outcome.REPLIED


def test_a_worker_killed_mid_stream_on_slack_leaves_one_message_the_resumed_turn_completes(on_slack, llm, slack, redis,
                                                                                           start_workers):
    llm.midway.clear()
    slack_dm(Bot(on_slack).client, LONG)
    [first] = start_workers()
    slack.wait_for(lambda: slack.calls("chat.postMessage"))
    stop_group(first, signal.SIGKILL)  # the message shows half the reply, its ts in the turn's state
    first.wait()
    llm.midway.set()
    start_workers()
    slack.wait_for(lambda: ledger.lookup(redis, "slack", "T123:D123:1767225600.000200") is not None, timeout=60)
    assert len(slack.calls("chat.postMessage")) == 1  # never a second message
    assert slack.calls("chat.update")[-1] == {"channel": "D123", "ts": "1767225601.000100", "text": f"LLM: {LONG}"}


def test_restart_mode_discards_the_draft_when_new_messages_restart_the_answer(settings, llm, telegram, start_workers):
    settings.update(BURST_MODE="restart")  # the workers' environment too
    client = Bot(settings).client
    llm.midway.clear()
    post_update(client, update("R first", update_id=31))
    start_workers()
    telegram.wait_for(lambda: telegram.drafts)  # the first answer, half written
    post_update(client, update("R second", update_id=32))
    llm.answer_after = lambda: "" in [draft["text"] for draft in telegram.drafts]  # asked again once the draft is gone
    llm.midway.set()
    telegram.wait_for(lambda: telegram.sent)
    assert texts(telegram) == ["LLM: R first + R second"]
    shown = [draft["text"] for draft in telegram.drafts]
    assert shown[0].startswith("LLM:") and "" in shown and "R second" not in "".join(shown[:shown.index("")])


RICH = ("**Bold _and italic_** then `code`, a [link](https://example.com/a?b=1&c=2), ~~struck~~ <b>raw</b>\n\n"
        "> a quote with **bold**\n\n```python\nprint('<html> & more')\n```\n\n- one\n- two with `x < y`")


def test_every_prefix_of_a_reply_renders_as_html_telegram_parses():
    for end in range(len(RICH) + 1):  # each frame is a prefix of the reply, cut anywhere
        for part in render(RICH[:end], HTML, 4096):
            assert tdlib.refusal(part.text, "HTML", empty=True) is None, RICH[:end]


def test_a_first_frame_slack_answers_late_for_is_found_by_its_key_and_never_posted_twice(on_slack, llm, slack, redis):
    def history(call) -> Canned:  # Slack's channel history: what the fake took, the late post among it
        posts = [post.body for post in slack.delivered if post.method == "chat.postMessage"]
        return Canned(body={"ok": True, "messages": [{"type": "message", "ts": "1767225601.000100", "text": post["text"],
                                                      "metadata": post.get("metadata")} for post in posts]})

    slack.defaults["conversations.history"] = history
    slack.then(Canned(body=SLACK_OK.body, delay=1.5))  # the first frame's post, answered after PLATFORM_TIMEOUT
    bot = Bot({**on_slack, "PLATFORM_TIMEOUT": "0.5"})
    slack_dm(bot.client, "hello")
    bot.run()
    assert len(slack.calls("chat.postMessage")) == 1
    assert slack.calls("chat.update")[-1] == {"channel": "D123", "ts": "1767225601.000100", "text": "LLM: hello"}
    assert ledger.lookup(redis, "slack", "T123:D123:1767225600.000200")["outcome"] == Outcome.REPLIED


def test_restart_mode_discards_the_draft_even_once_its_frames_are_spent(settings, llm, telegram, start_workers):
    settings.update(BURST_MODE="restart", STREAM_MAX_FRAMES="1")  # the first answer's one frame spends them all
    client = Bot(settings).client
    llm.midway.clear()
    post_update(client, update("R first", update_id=41))
    start_workers()
    telegram.wait_for(lambda: telegram.drafts)
    post_update(client, update("R second", update_id=42))
    llm.answer_after = lambda: "" in [draft["text"] for draft in telegram.drafts]  # asked again once the draft is gone
    llm.midway.set()
    telegram.wait_for(lambda: telegram.sent, timeout=30)
    assert texts(telegram) == ["LLM: R first + R second"]
    assert [draft["text"] for draft in telegram.drafts][-1] == ""


def test_a_shown_message_slack_will_not_update_gets_the_reply_posted_instead(on_slack, llm, slack, redis):
    slack.defaults["chat.update"] = Canned(body={"ok": False, "error": "message_not_found"})  # deleted meanwhile
    llm.midway.clear()
    bot = Bot(on_slack)
    slack_dm(bot.client, LONG)
    worker = threading.Thread(target=bot.run)
    worker.start()
    slack.wait_for(lambda: slack.calls("chat.postMessage"))
    llm.midway.set()
    worker.join(30)
    assert slack.calls("chat.postMessage")[-1]["text"] == f"LLM: {LONG}"
    assert ledger.lookup(redis, "slack", "T123:D123:1767225600.000200")["outcome"] == Outcome.REPLIED


def test_a_reply_posted_past_an_uneditable_message_and_answered_late_is_found_not_posted_twice(on_slack, llm, slack, redis):
    def history(call) -> Canned:
        posts = [post.body for post in slack.delivered if post.method == "chat.postMessage"]
        return Canned(body={"ok": True, "messages": [{"type": "message", "ts": "1767225601.000200", "text": post["text"],
                                                      "metadata": post.get("metadata")} for post in posts]})

    def late_reply(call) -> Canned | None:  # the reply's post, once: Slack takes it, and answers after PLATFORM_TIMEOUT
        key = (call.body.get("metadata") or {}).get("event_payload", {}).get("key", "")
        first = call.method == "chat.postMessage" and key.endswith("-0") and len(slack.calls("chat.postMessage")) == 2
        return Canned(body=SLACK_OK.body, delay=1.5) if first else None

    slack.defaults |= {"conversations.history": history,
                       "chat.update": Canned(body={"ok": False, "error": "message_not_found"})}
    slack.fault = late_reply
    bot = Bot({**on_slack, "PLATFORM_TIMEOUT": "0.5"})
    slack_dm(bot.client, "hello")
    bot.run()
    assert [post["text"] for post in slack.calls("chat.postMessage")][1:] == ["LLM: hello"]  # after the shown message, once
    assert ledger.lookup(redis, "slack", "T123:D123:1767225600.000200")["outcome"] == Outcome.REPLIED


def test_a_worker_killed_while_slack_takes_the_first_frame_leaves_one_message_the_resumed_turn_finds(on_slack, llm, slack,
                                                                                                      redis, start_workers):
    def history(call) -> Canned:  # what Slack holds: the post the dead worker never heard back about among it
        posts = [post.body for post in slack.delivered if post.method == "chat.postMessage"]
        return Canned(body={"ok": True, "messages": [{"type": "message", "ts": "1767225601.000100", "text": post["text"],
                                                      "metadata": post.get("metadata")} for post in posts]})

    slack.defaults["conversations.history"] = history
    slack.hold = lambda call: call.method == "chat.postMessage"  # the first frame's post, on its way
    slack.gate.clear()
    slack_dm(Bot(on_slack).client, LONG)
    [first] = start_workers()
    slack.wait_for(lambda: slack.calls("chat.postMessage"))
    stop_group(first, signal.SIGKILL)  # before Slack answered: no ts in the turn's state
    first.wait()
    slack.hold = lambda call: False
    slack.gate.set()  # Slack posts it all the same
    slack.wait_for(lambda: slack.delivered)
    start_workers()
    slack.wait_for(lambda: ledger.lookup(redis, "slack", "T123:D123:1767225600.000200") is not None, timeout=60)
    assert len(slack.calls("chat.postMessage")) == 1  # found by its key, never posted again
    assert slack.calls("chat.update")[-1] == {"channel": "D123", "ts": "1767225601.000100", "text": f"LLM: {LONG}"}


def test_a_stream_that_ends_before_the_model_finished_is_asked_again_never_sent_cut(settings, llm, telegram):
    events = streams.chat_events(completion(f"LLM: {LONG}"), usage=True)
    cut = events[:len(events) // 2]  # the body ends halfway, cleanly: no finish_reason, no usage, no [DONE]
    llm.fault = lambda call: Canned(events=cut) if len(llm.completions) == 1 else None
    Bot(settings).say(LONG)
    assert texts(telegram) == [f"LLM: {LONG}"]
    assert len(llm.completions) == 2
