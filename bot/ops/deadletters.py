"""Dead letters: turns that failed after every retry, kept with everything needed to replay them."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from redis import Redis

from bot import keys
from bot.messages import IncomingMessage, split_conversation
from bot.ops import metrics

if TYPE_CHECKING:
    from bot.runtime import Runtime

CAPACITY = 10_000  # the oldest go first beyond this
KEEP_SECONDS = 30 * 86400  # DEAD_LETTER_TTL's default: a letter keeps the user's words, so it is not kept for ever
REPLAY_CLAIM = 60  # seconds a replay holds its letter: another replay meanwhile finds none; after a crash, it may again


def add(redis: Redis, record: dict[str, Any], keep: int = KEEP_SECONDS) -> str:
    """Keep a failed turn for `keep` seconds; returns its id."""
    letter_id = uuid.uuid4().hex[:16]
    pipe = redis.pipeline()
    pipe.set(keys.dead_letter(letter_id), json.dumps({"id": letter_id, "at": time.time(), **record}), ex=keep)
    pipe.zadd(keys.dead_letters(), {letter_id: time.time()})
    platform, _ = split_conversation(record["conversation"])
    pipe.hincrbyfloat(keys.metrics(), metrics.field("dead_letters", platform=platform), 1)
    pipe.execute()
    _trim(redis, keep)
    return letter_id


def _trim(redis: Redis, keep: int) -> None:
    """Forget letters past the capacity, and those older than `keep` (letters kept before they expired on their own)."""
    pipe = redis.pipeline().zrange(keys.dead_letters(), 0, -CAPACITY - 1)
    pipe.zrangebyscore(keys.dead_letters(), 0, time.time() - keep)
    ids = {letter_id.decode() for found in pipe.execute() for letter_id in found}
    if ids:
        redis.pipeline().delete(*map(keys.dead_letter, ids)).zrem(keys.dead_letters(), *ids).execute()


def newest(redis: Redis, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent dead letters, newest first."""
    ids = [letter_id.decode() for letter_id in redis.zrevrange(keys.dead_letters(), 0, limit - 1)]
    raw = redis.mget([keys.dead_letter(letter_id) for letter_id in ids]) if ids else []
    return [json.loads(item) for item in raw if item]


def get(redis: Redis, letter_id: str) -> dict[str, Any] | None:
    """One dead letter, or None."""
    raw = redis.get(keys.dead_letter(letter_id))
    return json.loads(raw) if raw else None


def remove(redis: Redis, letter_id: str) -> bool:
    """Forget one dead letter; False if there was none by that id."""
    removed, _ = redis.pipeline().delete(keys.dead_letter(letter_id)).zrem(keys.dead_letters(), letter_id).execute()
    return bool(removed)


def of(redis: Redis, conversation: str) -> list[str]:
    """The ids of the conversation's dead letters."""
    return [letter["id"] for letter in newest(redis, CAPACITY) if letter["conversation"] == conversation]


def conversations(redis: Redis) -> set[str]:
    """The conversations with a dead letter waiting."""
    return {letter["conversation"] for letter in newest(redis, CAPACITY)}


def replay(rt: Runtime, letter_id: str) -> dict[str, Any] | None:
    """Put the letter's messages back into their conversation for a new turn (a proactive message into its outbox), once,
    then forget the letter. Returns the letter, or None: gone, or being replayed at this moment (a double click).

    Each message goes back under a mark of its own for this letter, so a replay cut short (its process killed, Redis
    lost) leaves the letter to replay again, once its claim lapses, without putting back a message twice."""
    raw = rt.redis.get(keys.dead_letter(letter_id))
    if raw is None or not rt.redis.set(keys.seen("replay", letter_id), 1, nx=True, ex=REPLAY_CLAIM):
        return None
    letter, marks = json.loads(raw), max(rt.config.dead_letter_ttl, REPLAY_CLAIM)  # marks last as long as the letter
    for message in map(IncomingMessage.from_json, letter["messages"]):
        rt.turns.accept(message, marks, seen=keys.seen("replay", f"{letter_id}:{message.message_id}"))
    if letter.get("outgoing"):
        rt.turns.send_out(letter["conversation"], json.dumps(letter["outgoing"]), keys.seen("replay", f"{letter_id}:outgoing"),
                          marks)
    remove(rt.redis, letter_id)
    return letter


def purge(redis: Redis) -> int:
    """Forget every dead letter; returns how many there were."""
    ids = [letter_id.decode() for letter_id in redis.zrange(keys.dead_letters(), 0, -1)]
    if ids:
        redis.pipeline().delete(*map(keys.dead_letter, ids)).delete(keys.dead_letters()).execute()
    return len(ids)
