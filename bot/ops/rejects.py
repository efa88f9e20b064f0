"""Payloads of unexpected shape: counted and kept (secrets removed) where an operator can inspect them.

A platform's signed payloads and the chat page's, which anyone may post, are kept apart: a flood of the one never
pushes out the other.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

from bot import keys
from bot.ops.logs import SECRET_NAMES

CAPACITY = 100  # the newest kept, of signed and of unsigned payloads each
MAX_BODY = 10_000  # characters of each body kept


def keep(redis: Redis, platform: str, reason: str, body: Any, signed: bool = True) -> None:
    """Count a refused payload and keep it, with anything that looks like a secret removed."""
    record = {"platform": platform, "reason": reason, "at": time.time(), "body": json.dumps(redact(body))[:MAX_BODY]}
    kept = keys.rejects() if signed else keys.rejects_unsigned()
    pipe = redis.pipeline()
    pipe.hincrby(keys.rejects_counts(), platform, 1)
    pipe.lpush(kept, json.dumps(record)).ltrim(kept, 0, CAPACITY - 1)
    pipe.execute()


def redact(value: Any) -> Any:
    """The payload with the values of secret-looking fields replaced, at any depth."""
    if isinstance(value, dict):
        return {name: "[removed]" if SECRET_NAMES.search(str(name)) else redact(item) for name, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def newest(redis: Redis, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent refused payloads, signed and unsigned, newest first."""
    pipe = redis.pipeline()
    for kept in (keys.rejects(), keys.rejects_unsigned()):
        pipe.lrange(kept, 0, limit - 1)
    records = [json.loads(item) for items in pipe.execute() for item in items]
    return sorted(records, key=lambda record: -record["at"])[:limit]


def counts(redis: Redis) -> dict[str, int]:
    """How many payloads each platform had refused."""
    return {name.decode(): int(value) for name, value in redis.hgetall(keys.rejects_counts()).items()}
