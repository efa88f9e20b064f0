"""What users expect of a chat assistant: commands, bounded memory, and manners in group chats."""

from __future__ import annotations

from bot.turn.memory import estimate_tokens, fit
from tests.helpers import Bot, post_update, texts, update

GROUP = {"chat_id": -100555, "chat_type": "supergroup"}


def test_start_greets_help_helps_and_no_llm_is_asked(client, run_worker, llm, telegram):
    post_update(client, update("/start"))
    run_worker()
    post_update(client, update("/help"))
    run_worker()
    assert texts(telegram)[0].startswith("Hi! I'm an AI assistant.")
    assert "/reset makes me forget" in texts(telegram)[1]
    assert llm.completions == []


def test_the_prompt_words_the_greeting(settings, tmp_path, telegram):
    (tmp_path / "system.md").write_text("---\ngreeting: Welcome to ACME support!\n---\nYou help ACME's customers.")
    b = Bot({**settings, "PROMPTS_DIR": str(tmp_path)})
    post_update(b.client, update("/start"))
    b.run()
    assert texts(telegram) == ["Welcome to ACME support!"]


def test_reset_forgets_the_conversation(client, run_worker, llm, telegram):
    for text in ("my name is Ada", "/reset", "what is my name?"):
        post_update(client, update(text))
        run_worker()
    assert texts(telegram)[1].startswith("Done: I've forgotten our conversation.")
    assert [m["role"] for m in llm.completions[1]["messages"]] == ["system", "user"]


def test_commands_are_not_kept_in_the_history(client, run_worker, llm):
    for text in ("/help", "hello"):
        post_update(client, update(text))
        run_worker()
    assert [m["content"] for m in llm.completions[0]["messages"][1:]] == ["hello"]


def test_history_is_bounded_by_tokens_as_well_as_messages(settings, llm):
    b = Bot({**settings, "HISTORY_MAX_TOKENS": "60"})
    for text in ("a" * 100, "b" * 100, "c"):
        post_update(b.client, update(text))
        b.run()
    history = [m["content"] for m in llm.completions[2]["messages"][1:-1]]
    assert history == ["b" * 100, "LLM: " + "b" * 100]  # the newest pair that fits 60 estimated tokens


def test_the_token_estimate_and_the_fit():
    assert estimate_tokens("") == 4 and estimate_tokens("abcd" * 10) == 14
    history = [{"role": "user", "content": "x" * 40}] * 5  # 14 tokens each
    assert fit(history, 30) == history[-2:]
    assert fit(history, 0) == history


def test_in_groups_the_bot_answers_only_when_addressed(client, run_worker, telegram):
    post_update(client, update("chatting among ourselves", **GROUP))
    post_update(client, update("replying to the bot", reply_to=123456, **GROUP))  # the bot's id leads its token
    run_worker()
    post_update(client, update("@ada_test_bot and you?", **GROUP))
    run_worker()
    post_update(client, update("/help@ada_test_bot", **GROUP))
    run_worker()
    assert texts(telegram)[:2] == ["LLM: replying to the bot", "LLM: @ada_test_bot and you?"]
    assert len(texts(telegram)) == 3


def test_group_replies_all_answers_everything(settings, telegram):
    b = Bot({**settings, "GROUP_REPLIES": "all"})
    post_update(b.client, update("chatting among ourselves", **GROUP))
    b.run()
    assert texts(telegram) == ["LLM: chatting among ourselves"]


def test_messages_leaving_the_history_are_summarised_not_forgotten(settings, llm):
    from bot.turn.memory import SUMMARY_INSTRUCTION

    b = Bot({**settings, "HISTORY_MAX_MESSAGES": "6"})
    for text in ("my name is Ada", "I live in Lyon", "I like tea", "and coffee", "where do I live?"):
        post_update(b.client, update(text))
        b.run()
    requests = [call["messages"] for call in llm.completions]
    summaries = [messages for messages in requests if messages[0]["content"] == SUMMARY_INSTRUCTION]
    chats = [messages for messages in requests if messages[0]["content"] != SUMMARY_INSTRUCTION]
    assert "user: my name is Ada" in summaries[0][1]["content"]
    last = chats[-1]
    assert last[1]["content"].startswith("Summary of the earlier conversation: ")
    assert "my name is Ada" not in [message["content"] for message in last[2:]]  # folded into the summary
    assert last[-1]["content"] == "where do I live?"


def test_summaries_can_be_turned_off(settings, llm):
    b = Bot({**settings, "HISTORY_MAX_MESSAGES": "2", "HISTORY_SUMMARY": "0"})
    for text in ("one", "two", "three"):
        post_update(b.client, update(text))
        b.run()
    assert len(llm.completions) == 3
