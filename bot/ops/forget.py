"""Erasure on request: everything the bot keeps about one conversation, removed (`flask --app app forget`)."""

from __future__ import annotations

import json
from typing import Any, Callable

from redis import Redis

from bot import keys
from bot.messages import split_conversation
from bot.ops import deadletters
from bot.runtime import Runtime

SCAN_BATCH = 1000  # keys read per round trip while looking for the conversation's records


class Busy(Exception):
    """A turn of the conversation is running: forgetting now would race it."""


def forget(rt: Runtime, conversation: str) -> dict[str, int]:
    """Remove the conversation's history, summary, contact, waiting and scheduled messages, ledger entries, dead letters,
    unsent events, the business events sent to it and what its platform keeps of it; returns how many records of each
    kind went."""
    if rt.redis.exists(keys.lease(conversation)):
        raise Busy(f"a turn of {conversation} is running: try again in a minute")
    platform, conversation_id = split_conversation(conversation)
    channel = rt.channels.get(platform)
    removed = {"conversation records": rt.redis.delete(*_own_keys(conversation)),
               "outcomes": _forget_records(rt.redis, keys.outcome("*", "*"), conversation),
               "scheduled messages": _forget_records(rt.redis, keys.scheduled("*"), conversation),
               "unsent events": _forget_records(rt.redis, keys.event("*", "*"), conversation, _event_conversation),
               "business events": _forget_records(rt.redis, keys.business_event("*", "*"), conversation),
               "dead letters": sum(deadletters.remove(rt.redis, letter) for letter in deadletters.of(rt.redis, conversation)),
               "platform records": channel.forget(conversation_id) if channel else 0}
    removed["tool calls listed"] = _forget_listed(rt.redis, keys.tool_calls(), conversation)
    rt.redis.pipeline().zrem(keys.recent(), conversation).zrem(keys.active(), conversation).execute()
    return removed


def _own_keys(c: str) -> list[str]:
    return [keys.history(c), keys.summary(c), keys.contact(c), keys.inbox(c), keys.batch(c), keys.turn(c), keys.outbox(c),
            keys.paused(c), keys.pending(c), keys.journal(c), keys.transcript(c)]


def _forget_listed(redis: Redis, key: str, conversation: str) -> int:
    """Remove the conversation's records from a list of JSON records, such as the admin page's newest tool calls."""
    mine = [raw for raw in redis.lrange(key, 0, -1) if json.loads(raw).get("conversation") == conversation]
    return sum(redis.lrem(key, 0, raw) for raw in set(mine))


def _event_conversation(event: dict[str, Any]) -> str | None:
    return (event.get("data") or {}).get("conversation")


def _forget_records(redis: Redis, pattern: str, conversation: str,
                    owner: Callable[[dict[str, Any]], str | None] = lambda record: record.get("conversation")) -> int:
    """Delete the JSON records under `pattern` that belong to the conversation, such as its messages' ledger entries."""
    removed, cursor = 0, 0
    while True:
        cursor, names = redis.scan(cursor, match=pattern, count=SCAN_BATCH)
        records = redis.mget(names) if names else []
        mine = [name for name, raw in zip(names, records) if raw and owner(json.loads(raw)) == conversation]
        removed += redis.delete(*mine) if mine else 0
        if cursor == 0:
            return removed
