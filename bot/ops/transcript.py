"""The turn log: what the operator console shows of a conversation, longer and fuller than the history the LLM sees.

Every message in and out (notices and the bot's own messages included) with its outcome, the turn's latency, the prompt
that answered and its tool calls: the newest MAX_ENTRIES of each conversation, kept TRANSCRIPT_TTL seconds after the last.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from bot import keys, times

if TYPE_CHECKING:
    from bot.turn.conversation import Turn

logger = logging.getLogger(__name__)

MAX_ENTRIES = 200
PROMPT_DAYS_KEPT = 8  # days each prompt's daily turn count is kept


def turn(redis: Redis, ttl: int, conversation: str, done: Turn, outcome: str, detail: str = "") -> None:
    """Log a finished turn: each of its messages, then what the bot said, all with the turn's outcome."""
    shared = {"turn": done.id, "outcome": outcome, "detail": detail, "prompt": done.prompt,
              "latency_ms": int((time.time() - done.messages[0].received_at) * 1000)}
    said = [{**shared, "who": "user", "text": message.text, "user": message.user_name, "message_id": message.message_id,
             "media": [item.get("kind", "file") for item in message.media], "at": message.received_at}
            for message in done.messages]
    if done.reply:
        said.append({**shared, "who": "bot", "kind": done.kind, "text": done.reply, "tools": done.tools, "at": time.time()})
    pipe = _append(redis.pipeline(), ttl, conversation, said)
    if done.prompt:
        today = keys.prompt_turns(times.day())
        pipe.hincrby(today, done.prompt, 1).expire(today, PROMPT_DAYS_KEPT * 86400)
    _execute(pipe, conversation)


def sent(redis: Redis, ttl: int, conversation: str, item: dict[str, Any], outcome: str, detail: str = "") -> None:
    """Log a message the bot sent on its own: a proactive or event message, or a person's reply during a handoff."""
    entry = {"who": item.get("by", "proactive"), "kind": "message", "text": item.get("reply") or "", "turn": item["id"],
             "outcome": outcome, "detail": detail, "prompt": item.get("prompt") or "", "at": time.time()}
    _execute(_append(redis.pipeline(), ttl, conversation, [entry]), conversation)


def _append(pipe: Pipeline, ttl: int, conversation: str, said: list[dict[str, Any]]) -> Pipeline:
    key = keys.transcript(conversation)
    return pipe.rpush(key, *map(json.dumps, said)).ltrim(key, -MAX_ENTRIES, -1).expire(key, ttl)


def _execute(pipe: Pipeline, conversation: str) -> None:
    """Write the entries; the outcomes are in the ledger already, so a failure now costs the console's view only."""
    try:
        pipe.execute()
    except RedisError as error:
        logger.warning("transcript not written: %s", type(error).__name__, extra={"conversation": conversation})


def prompt_turns(redis: Redis, day: str = "") -> dict[str, int]:
    """How many turns each prompt (name@version) answered on `day` (YYYY-MM-DD, UTC; default today)."""
    return {name.decode(): int(count) for name, count in redis.hgetall(keys.prompt_turns(day or times.day())).items()}


def entries(redis: Redis, conversation: str, limit: int = MAX_ENTRIES) -> list[dict[str, Any]]:
    """The conversation's newest `limit` entries, oldest first."""
    return [json.loads(raw) for raw in redis.lrange(keys.transcript(conversation), -limit, -1)]
