"""Payloads of unexpected shape: counted and kept (secrets removed) where an operator can inspect them."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

from bot import keys
from bot.ops.logs import SECRET_NAMES

CAPACITY = 100  # the newest kept
MAX_BODY = 10_000  # characters of each body kept


def keep(redis: Redis, platform: str, reason: str, body: Any) -> None:
    """Count a refused payload and keep it, with anything that looks like a secret removed."""
    record = {"platform": platform, "reason": reason, "at": time.time(), "body": json.dumps(redact(body))[:MAX_BODY]}
    pipe = redis.pipeline()
    pipe.hincrby(keys.rejects_counts(), platform, 1)
    pipe.lpush(keys.rejects(), json.dumps(record)).ltrim(keys.rejects(), 0, CAPACITY - 1)
    pipe.execute()


def redact(value: Any) -> Any:
    """The payload with the values of secret-looking fields replaced, at any depth."""
    if isinstance(value, dict):
        return {name: "[removed]" if SECRET_NAMES.search(str(name)) else redact(item) for name, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def newest(redis: Redis, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent refused payloads, newest first."""
    return [json.loads(item) for item in redis.lrange(keys.rejects(), 0, limit - 1)]


def counts(redis: Redis) -> dict[str, int]:
    """How many payloads each platform had refused."""
    return {name.decode(): int(value) for name, value in redis.hgetall(keys.rejects_counts()).items()}
