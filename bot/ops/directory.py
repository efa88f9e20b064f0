"""What the operator console lists: conversations newest first with the state of each, handoffs, usage and tool calls."""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterator

from redis import Redis

from bot import keys, times
from bot.ops import deadletters
from bot.turn import handoff

CHUNK = 500  # conversations read per round trip while searching


def page(redis: Redis, query: str = "", number: int = 1, size: int = 50) -> tuple[list[dict[str, Any]], bool]:
    """One page of conversations, newest first, whose platform, id or user name contains `query`; and whether more follow."""
    if (number - 1) * size >= redis.zcard(keys.recent()):  # past the last one, however far: islice takes no more than maxsize
        return [], False
    wanted = query.strip().lower()
    matching = (row for row in _newest(redis) if wanted in row["conversation"].lower() or wanted in row["user"].lower())
    found = list(itertools.islice(matching, (number - 1) * size, number * size + 1))  # one more: is there a next page?
    return _with_states(redis, found[:size]), len(found) > size


def _newest(redis: Redis) -> Iterator[dict[str, Any]]:
    """Every listed conversation, newest first: its name, its user's name and when its last turn finished."""
    for start in range(0, redis.zcard(keys.recent()), CHUNK):
        chunk = redis.zrevrange(keys.recent(), start, start + CHUNK - 1, withscores=True)
        contacts = redis.mget([keys.contact(name.decode()) for name, _ in chunk]) if chunk else []
        for (name, at), contact in zip(chunk, contacts):
            yield {"conversation": name.decode(), "user": json.loads(contact).get("user_name", "") if contact else "", "at": at}


def _with_states(redis: Redis, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lettered = deadletters.conversations(redis)
    return [{**row, "states": states(redis, row["conversation"], lettered)} for row in rows]


def states(redis: Redis, conversation: str, lettered: set[str] | None = None) -> list[str]:
    """What has the conversation now: "answering" (a turn runs), "queued", "handed to a person", "dead letter waiting"."""
    leased, busy, paused = redis.pipeline(transaction=False).exists(keys.lease(conversation)) \
        .zscore(keys.active(), conversation).exists(keys.paused(conversation)).execute()
    lettered = deadletters.conversations(redis) if lettered is None else lettered
    found = ["answering" if leased else "queued" if busy is not None else "", "handed to a person" if paused else "",
             "dead letter waiting" if conversation in lettered else ""]
    return [state for state in found if state]


def paused(redis: Redis) -> list[dict[str, Any]]:
    """Every conversation handed to a person: who paused it, since and until when."""
    names = [name.decode().split(":", 2)[2] for name in redis.scan_iter(match=keys.paused("*"), count=1000)]
    return [{"conversation": name, **(handoff.status(redis, name) or {})} for name in names]


def usage_today(redis: Redis, limit: int = 100) -> list[tuple[str, int]]:
    """Tokens per user today (UTC), biggest first."""
    names = list(redis.scan_iter(match=keys.usage("*", "tokens", times.day()), count=1000))
    values = redis.mget(names) if names else []
    users = [(name.decode().split(":", 2)[2].rsplit(":tokens:", 1)[0], int(value or 0)) for name, value in zip(names, values)]
    return sorted(users, key=lambda pair: -pair[1])[:limit]


def tool_calls(redis: Redis, limit: int = 50) -> list[dict[str, Any]]:
    """The newest tool calls: tool, conversation, milliseconds, outcome."""
    return [json.loads(raw) for raw in redis.lrange(keys.tool_calls(), 0, limit - 1)]
