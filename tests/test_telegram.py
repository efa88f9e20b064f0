"""Telegram end to end: webhook -> Redis -> RQ worker -> LLM fake -> Telegram fake."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest
import telegram as ptb  # python-telegram-bot: `telegram` is the fake's fixture here

from bot.config import Config
from bot.media import parts
from bot.ops import ledger, metrics
from bot.render.format import utf16_len
from tests.fakes import Canned, completion, openai_error, telegram_error
from tests.helpers import SENT_AT, Bot, dead_letters, post_update, stored, texts, update
from tests.samples_media import ogg

_ids = itertools.count(5_000_000)


def test_a_text_message_gets_exactly_one_reply_with_the_llm_text(client, run_worker, llm, telegram):
    response = post_update(client, update("hello bot"))
    assert response.status_code == 200
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: hello bot"]
    assert telegram.sent[0]["chat_id"] == 123456789
    assert telegram.sent[0]["parse_mode"] == "HTML"
    assert "reply_parameters" not in telegram.sent[0]  # private chats get a plain message
    prompt = llm.completions[0]["messages"]
    assert prompt[0]["role"] == "system" and "assistant" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "hello bot"}


def test_typing_is_shown_while_the_llm_works(client, run_worker, telegram, llm):
    llm.answer_after = lambda: telegram.calls("sendChatAction")
    post_update(client, update("hi"))
    run_worker()
    methods = [call.method for call in telegram.requests]
    assert methods.index("sendChatAction") < methods.index("sendMessage")
    assert telegram.calls("sendChatAction")[0] == {"chat_id": 123456789, "action": "typing"}


def test_a_reply_waits_for_a_typing_indicator_still_on_its_way(client, run_worker, telegram, llm):
    telegram.hold = lambda call: call.method == "sendChatAction"
    telegram.gate.clear()
    llm.answer_after = lambda: telegram.calls("sendChatAction")
    post_update(client, update("hi"))
    worker = threading.Thread(target=run_worker)
    worker.start()
    llm.wait_for(lambda: llm.delivered)
    time.sleep(0.3)  # the reply is ready: it must not go while the indicator is held
    assert telegram.sent == []
    telegram.gate.set()
    worker.join(30)
    assert [call.method for call in telegram.requests if call.method != "sendMessageDraft"] == ["sendChatAction", "sendMessage"]


def test_missing_secret_is_401_and_wrong_secret_403_and_nothing_is_stored(client, redis, telegram):
    assert post_update(client, update("hi"), secret=None).status_code == 401
    wrong = post_update(client, update("hi"), secret="not-the-secret")
    assert wrong.status_code == 403
    assert "X-Telegram-Bot-Api-Secret-Token" in wrong.get_json()["error"]
    assert redis.keys("*") == []


def test_the_same_update_twice_is_answered_once(client, run_worker, telegram):
    payload = update("only once", update_id=5001)
    assert post_update(client, payload).status_code == 200
    assert post_update(client, payload).status_code == 200
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: only once"]


def test_history_carries_earlier_turns(client, run_worker, llm, telegram):
    post_update(client, update("my name is Ada"))
    run_worker()
    post_update(client, update("what is my name?"))
    run_worker()
    roles = [(m["role"], m["content"]) for m in llm.completions[1]["messages"][1:]]
    assert roles == [("user", "my name is Ada"), ("assistant", "LLM: my name is Ada"), ("user", "what is my name?")]


def test_group_messages_reply_to_the_user_and_keep_the_topic(client, run_worker, telegram, llm):
    llm.answer_after = lambda: telegram.calls("sendChatAction")
    post_update(client, update("@Ada_Test_Bot hi all", chat_id=-100123, chat_type="supergroup", thread=7, message_id=99))
    run_worker()
    sent = telegram.sent[0]
    assert sent["chat_id"] == -100123 and sent["message_thread_id"] == 7
    assert sent["reply_parameters"] == {"message_id": 99, "allow_sending_without_reply": True}
    assert telegram.calls("sendChatAction")[0]["message_thread_id"] == 7


def test_other_updates_and_bots_are_acknowledged_and_ignored(client, redis, run_worker, telegram):
    edited = {"update_id": 1, "edited_message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "text": "x"}}
    sticker = update("ignored")
    del sticker["message"]["text"]
    for payload in (edited, sticker, update("from a bot", is_bot=True)):
        assert post_update(client, payload).status_code == 200
    run_worker()
    assert telegram.sent == []
    assert stored(redis) == []


def test_a_malformed_update_is_400_with_a_reason(client, redis):
    response = post_update(client, {"message": {"text": "no update id"}})
    assert response.status_code == 400
    assert "update_id" in response.get_json()["error"]
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_value", "Content-Type": "application/json"}
    not_json = client.post("/webhooks/telegram", data=b"{oops", headers=headers)
    assert not_json.status_code == 400
    assert stored(redis) == []


@pytest.mark.parametrize("field, value", [("first_name", "A" * 129), ("language_code", "x" * 257), ("id", 2**63)])
def test_a_name_or_id_past_any_platform_limit_is_400(client, redis, field, value):
    payload = update("hi")
    payload["message"]["from"][field] = value
    response = post_update(client, payload)
    assert response.status_code == 400 and field in response.get_json()["error"]
    assert stored(redis) == []


def test_a_long_reply_is_split_at_4096_without_breaking_words_or_code(client, run_worker, llm, telegram):
    paragraph = " ".join(f"word{i}" for i in range(700))  # ~5.5k characters, one paragraph
    code = "\n".join(f"print({i})  # <tag> & more" for i in range(200))
    llm.then(Canned(body=completion(f"**Intro** text.\n\n{paragraph}\n\n```python\n{code}\n```")))
    post_update(client, update("write a lot"))
    run_worker()
    parts = telegram.sent
    assert len(parts) >= 3
    plain = [_visible(part["text"]) for part in parts]
    assert all(utf16_len(text) <= 4096 for text in plain)
    words = " ".join(plain).split()
    assert [w for w in words if w.startswith("word")] == [f"word{i}" for i in range(700)]
    code_parts = [part["text"] for part in parts if "print(" in part["text"]]
    assert all(text.startswith('<pre><code class="language-python">') and text.endswith("</code></pre>") for text in code_parts)
    assert len(code_parts) == 2  # ~5.5k of code: it needs two parts, each a whole code block
    assert "&lt;tag&gt; &amp; more" in code_parts[0]


def _visible(html_text: str) -> str:
    """The text as Telegram shows it: tags removed, entities decoded."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_rejected_html_is_resent_as_plain_text(client, run_worker, llm, telegram):
    llm.then(Canned(body=completion("Use **bold** and `code`.")))
    telegram.then(telegram_error(400, "Bad Request: can't parse entities: unsupported start tag"))
    post_update(client, update("format please"))
    run_worker()
    first, second = telegram.sent
    assert first["parse_mode"] == "HTML" and first["text"] == "Use <b>bold</b> and <code>code</code>."
    assert "parse_mode" not in second and second["text"] == "Use bold and code."


def test_llm_rate_limit_then_success_gives_one_reply(client, run_worker, llm, telegram):
    llm.then(openai_error(429, "Rate limit reached", code="rate_limit_exceeded", retry_after="1"))
    post_update(client, update("busy?"))
    run_worker()
    assert len(llm.completions) == 2
    assert [m["text"] for m in telegram.sent] == ["LLM: busy?"]


def test_llm_server_error_then_success_gives_one_reply(client, run_worker, llm, telegram):
    llm.then(openai_error(500, "The server had an error"))
    post_update(client, update("again?"))
    run_worker()
    assert len(llm.completions) == 2
    assert [m["text"] for m in telegram.sent] == ["LLM: again?"]


def test_llm_failing_every_retry_gives_one_polite_notice_and_a_dead_letter(client, run_worker, llm, telegram, redis):
    llm.then(*[openai_error(503, "overloaded", retry_after="0")] * 3)
    post_update(client, update("anyone?"))
    run_worker()
    assert len(llm.completions) == 3  # the first try and OPENAI_MAX_RETRIES=2
    assert [m["text"] for m in telegram.sent] == ["Sorry, I can't answer right now. Please try again in a few minutes."]
    assert len(dead_letters(redis)) == 1


def test_telegram_rate_limit_is_waited_out(client, run_worker, telegram):
    telegram.then(telegram_error(429, "Too Many Requests: retry after 1", retry_after=1))
    post_update(client, update("hi"))
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: hi", "LLM: hi"]  # the refused try, then the one that went through


def test_a_rate_limit_whose_retry_after_is_nan_is_retried_with_backoff_and_no_turn_crashes(client, run_worker, telegram,
                                                                                           redis, caplog):
    telegram.then(telegram_error(429, "Too Many Requests", retry_after=float("nan")))  # JSON's NaN, which json reads
    post_update(client, update("hi"))
    run_worker()
    assert [m["text"] for m in telegram.sent] == ["LLM: hi", "LLM: hi"]
    assert dead_letters(redis) == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_a_proxy_s_error_page_is_retried_and_the_reply_delivered_once(client, run_worker, telegram):
    telegram.then(Canned(502, raw=b"<html><body><h1>502 Bad Gateway</h1></body></html>"), Canned(502, body="Bad Gateway"))
    post_update(client, update("hi"))
    run_worker()
    assert [call.body["text"] for call in telegram.delivered if call.method == "sendMessage"] == ["LLM: hi"]
    assert len(telegram.sent) == 3  # two refused tries, then the one that went through


def test_a_success_that_is_not_the_bot_api_s_is_a_dead_letter_naming_the_setting(client, run_worker, telegram, redis):
    telegram.then(Canned(200, body=None))
    post_update(client, update("hi"))
    run_worker()
    [letter] = dead_letters(redis)
    assert "check TELEGRAM_API_URL" in letter["reason"]


# Real update kinds, built and serialised by python-telegram-bot, each with its outcome (docs/platforms.md 1.3)

ADA = ptb.User(42, "Ada", False, username="ada", language_code="en")
BOT = ptb.User(123456, "Ada Test Bot", True, username="ada_test_bot")  # the bot of the tests' token, 123456:…
OTHER_BOT = ptb.User(777, "Weather", True, username="weather_bot")
PRIVATE = ptb.Chat(42, "private", first_name="Ada")
GROUP = ptb.Chat(-100200, "supergroup", title="Friends")  # no topics
FORUM = ptb.Chat(-100300, "supergroup", title="Projects", is_forum=True)
CHANNEL = ptb.Chat(-100400, "channel", title="News")
NOTICE = Config.non_text_notice


def _message(chat: ptb.Chat = PRIVATE, sender: ptb.User = ADA, message_id: int = 57, **fields) -> ptb.Message:
    return ptb.Message(message_id, SENT_AT, chat, from_user=sender, **fields)


def _file(kind: type, **fields):
    return kind(file_id=f"{kind.__name__}-id", file_unique_id=f"{kind.__name__}-unique", **fields)


REACTION = ptb.MessageReactionUpdated(PRIVATE, 57, SENT_AT, (), (ptb.ReactionTypeEmoji("👍"),), user=ADA)
JOINED = ptb.ChatMemberUpdated(GROUP, ADA, SENT_AT, ptb.ChatMemberLeft(BOT), ptb.ChatMemberMember(BOT))
REPLIED = _message(GROUP, BOT, message_id=50, text="An earlier answer.")
UPDATES = {  # kind: (the update's content, its outcome: the reply's text, the notice or None, and the reply's thread)
    "text": ({"message": _message(text="hello")}, "LLM: hello", None),
    "edited_message": ({"edited_message": _message(text="hello again", edit_date=SENT_AT)}, None, None),
    "message_reaction": ({"message_reaction": REACTION}, None, None),
    "channel_post": ({"channel_post": _message(CHANNEL, None, sender_chat=CHANNEL, text="news")}, None, None),
    "my_chat_member": ({"my_chat_member": JOINED}, None, None),
    "new_chat_members": ({"message": _message(GROUP, new_chat_members=(BOT,))}, None, None),
    "sticker": ({"message": _message(sticker=_file(ptb.Sticker, width=512, height=512, is_animated=False, is_video=False,
                                                   type="regular", emoji="👍"))}, NOTICE, None),
    "photo with caption": ({"message": _message(photo=(_file(ptb.PhotoSize, width=90, height=60),),
                                                caption="what is this?")},
                           f"LLM: what is this?\n{parts.NOT_SHOWN}", None),  # VISION=0
    "document": ({"message": _message(document=_file(ptb.Document, file_name="report.txt"))},
                 "LLM: [document report.txt]\nquarterly numbers", None),
    "voice": ({"message": _message(voice=_file(ptb.Voice, duration=3))}, "LLM: where is my parcel", None),
    "location": ({"message": _message(location=ptb.Location(13.4, 52.5))}, "LLM: Location: 52.5, 13.4", None),
    "topic message": ({"message": _message(FORUM, text="@ada_test_bot status?", message_thread_id=7, is_topic_message=True)},
                      "LLM: @ada_test_bot status?", 7),
    "reply in a group without topics": ({"message": _message(GROUP, text="and then?", reply_to_message=REPLIED,
                                                             message_thread_id=50)}, "LLM: and then?", None),
    "from a bot": ({"message": _message(sender=OTHER_BOT, text="beep")}, None, None),
    "callback_query": ({"callback_query": ptb.CallbackQuery("4382bfdwdsb323b2d9", ADA, "8428209101", data="yes",
                                                                 message=_message(sender=BOT, text="Pick one"))}, None, None),
}


@pytest.mark.parametrize("group_replies", ["mentions", "all"])  # "all": group chatter is answered, service messages still not
@pytest.mark.parametrize("kind", UPDATES)
def test_every_kind_of_update_is_200_and_ends_as_it_should(settings, telegram, redis, kind, group_replies):
    content, outcome, thread = UPDATES[kind]
    bot = Bot(settings, GROUP_REPLIES=group_replies, VISION="0")
    telegram.files.update({"Document-id": b"quarterly numbers", "Voice-id": ogg()})
    assert post_update(bot.client, ptb.Update(next(_ids), **content).to_dict()).status_code == 200
    bot.run()
    if outcome is None:
        assert telegram.sent == [] and stored(redis) == []
    else:
        assert texts(telegram) == [outcome]
        assert telegram.sent[0].get("message_thread_id") == thread


def test_replies_in_a_group_without_topics_share_the_chat_s_history_and_name_no_thread(client, run_worker, llm, telegram):
    for text, answered in (("first question", 50), ("second question", 60)):  # each replies to another answer of the bot
        replied = _message(GROUP, BOT, message_id=answered, text="An answer.")
        message = _message(GROUP, text=text, reply_to_message=replied, message_thread_id=answered)  # a reply thread, not a topic
        post_update(client, ptb.Update(next(_ids), message=message).to_dict())
        run_worker()
    history = [m["content"] for m in llm.completions[1]["messages"][1:]]
    assert history == ["first question", "LLM: first question", "second question"]
    assert [sent.get("message_thread_id") for sent in telegram.sent] == [None, None]
    assert all(call.get("message_thread_id") is None for call in telegram.calls("sendChatAction"))


def test_a_part_telegram_takes_but_answers_late_for_is_not_resent_and_its_outcome_says_so(settings, redis, llm, telegram, caplog):
    b = Bot(settings, PLATFORM_TIMEOUT="0.5")
    llm.then(Canned(body=completion("\n\n".join(f"P{n} " + " ".join(["word"] * 700) for n in range(3)))))
    accepted = {"ok": True, "result": {"message_id": 1, "chat": {"id": 123456789}, "text": "P0"}}
    telegram.then(Canned(body=accepted, delay=1.5))  # the first part is taken, but its answer comes after the timeout
    b.say("long answer please", update_id=9101)
    assert [text[:2] for text in texts(telegram)] == ["P0", "P1", "P2"]  # asked once each: none resent
    record = ledger.lookup(redis, "telegram", "9101")
    assert record["outcome"] == "unconfirmed" and record["detail"].startswith("1 of 3 reply parts taken by telegram")
    assert "reply part 1 of 3 unconfirmed" in caplog.text and "Raise PLATFORM_TIMEOUT" in caplog.text
    metrics.flush_all()
    assert b.client.get("/metrics").text.count('status="unconfirmed"') == 1
