"""Erasure and retention: `flask forget` removes everything kept about one conversation, and nothing else."""

from __future__ import annotations

import pytest

from bot.ops import ledger
from tests.fakes import Canned, FakePlatform, openai_error
from tests.helpers import Bot, dead_letters, post_update, update
from tests.samples_media import png

ADA, BOB = "telegram:123456789", "telegram:555"
EVENTS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def receiver():
    """A receiver of the bot's conversation events."""
    server = FakePlatform().start()
    yield server
    server.stop()
SESSION = "s-0123456789abcdef0123"


def kept(redis, conversation: str) -> list[bytes]:
    """Every key that names the conversation, but dedupe marks and today's usage counters: ids and counts, no content,
    gone within days."""
    return sorted(key for key in redis.keys("bot:*") if conversation.encode() in key
                  and not key.startswith((b"bot:seen:", b"bot:usage:")))


def test_forget_removes_the_conversations_history_ledger_letters_and_contact_and_nothing_else(settings, redis, llm, telegram,
                                                                                             receiver):
    b = Bot(settings, API_TOKEN="api-token", EVENTS_URLS=f"{receiver.url}/events", EVENTS_SECRET=EVENTS_SECRET)
    receiver.then(*[Canned(status=500)] * 50)  # events wait for their retries, their bodies kept
    b.say("my name is Ada", update_id=1)
    llm.then(*[openai_error(500, "boom")] * 3)
    b.say("this one fails", update_id=2)  # a notice, and a dead letter keeping the words
    for extra in ({}, {"at": "2099-01-01T00:00:00Z"}):  # now, and one scheduled for much later
        b.client.post("/api/messages", json={"conversation": ADA, "text": "Your order shipped.", **extra},
                      headers={"Authorization": "Bearer api-token"})
    b.run()
    assert redis.keys("bot:scheduled:*")
    post_update(b.client, update("hello from Bob", chat_id=555, update_id=3))
    b.run()
    assert kept(redis, ADA) and len(dead_letters(redis)) == 1 and redis.keys("bot:event:*")
    result = b.app.test_cli_runner().invoke(args=["forget", ADA])
    assert result.exit_code == 0, result.output
    assert "2 outcomes" not in result.output and "3 outcomes" in result.output and "1 dead letters" in result.output
    assert kept(redis, ADA) == [] and dead_letters(redis) == [] and redis.keys("bot:scheduled:*") == []
    assert all(b"555" in raw for raw in redis.mget(redis.keys("bot:event:*")))  # Bob's events only
    assert ledger.lookup(redis, "telegram", "3")["outcome"] == "replied" and kept(redis, BOB)  # Bob's stay
    assert redis.zscore("bot:recent", ADA) is None


def test_forget_waits_for_a_running_turn(settings, redis):
    b = Bot(settings)
    redis.set(f"bot:lease:{ADA}", "a worker's token", ex=30)
    result = b.app.test_cli_runner().invoke(args=["forget", ADA])
    assert result.exit_code == 1 and "a turn of telegram:123456789 is running: try again in a minute" in result.output


def test_forget_removes_what_the_chat_page_keeps_of_a_session(settings, redis, llm):
    b = Bot(settings)
    b.client.post("/webhooks/webchat", json={"session": SESSION, "message_id": "m-0000000001", "text": "hi"})
    b.run()
    assert redis.exists(f"bot:channel:webchat:{SESSION}")
    assert b.app.test_cli_runner().invoke(args=["forget", f"webchat:{SESSION}"]).exit_code == 0
    assert kept(redis, SESSION) == []


def test_forget_removes_the_chat_page_s_uploads_still_waiting_for_their_turn(settings, redis):
    client = Bot(settings).client
    for session in (SESSION, "session-someone-else"):
        assert client.post(f"/webchat/upload?session={session}", data=png()).status_code == 200
    assert Bot(settings).app.test_cli_runner().invoke(args=["forget", f"webchat:{SESSION}"]).exit_code == 0
    [left] = redis.keys("bot:channel:webchat:upload:*")
    assert redis.hget(left, "session") == b"session-someone-else"


def test_the_contact_keeps_no_words_and_dead_letters_expire(settings, redis, llm, telegram):
    b = Bot(settings, CONTACT_TTL="3600", DEAD_LETTER_TTL="600")
    llm.then(*[openai_error(500, "boom")] * 3)
    b.say("a secret I told the bot", update_id=4)
    assert b"a secret" not in redis.get(f"bot:contact:{ADA}") and 3500 < redis.ttl(f"bot:contact:{ADA}") <= 3600
    [letter] = dead_letters(redis)
    assert 500 < redis.ttl(f"bot:dead:{letter['id']}") <= 600


def test_dead_letters_kept_before_they_expired_on_their_own_go_once_older_than_their_ttl(redis):
    from bot.ops import deadletters

    old = deadletters.add(redis, {"conversation": ADA, "reason": "from before the upgrade", "messages": []}, keep=10**9)
    redis.persist(f"bot:dead:{old}")
    redis.zadd("bot:dead", {old: 1_000_000})  # long ago
    new = deadletters.add(redis, {"conversation": ADA, "reason": "today", "messages": []}, keep=600)
    assert [letter["id"] for letter in dead_letters(redis)] == [new] and not redis.exists(f"bot:dead:{old}")
