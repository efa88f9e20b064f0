"""Human handoff: a conversation paused for a person to answer, by an operator or at the user's request."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

from bot import keys

PHRASES = ("talk to a human", "speak to a human", "human agent", "real person", "/human")


def requested(text: str, phrases: list[str] | tuple[str, ...] = PHRASES) -> bool:
    """Whether the user asks for a person: one of the phrases (a prompt's `handoff_phrases`) in their message."""
    lowered = text.lower()
    return any(phrase.lower() in lowered for phrase in phrases)


def pause(redis: Redis, conversation: str, seconds: int, by: str) -> None:
    """Silence the bot in `conversation` for `seconds` (0: until resumed); its messages are kept in the history."""
    record = json.dumps({"by": by, "since": time.time(), "until": time.time() + seconds if seconds else None})
    redis.set(keys.paused(conversation), record, ex=seconds or None)


def resume(redis: Redis, conversation: str) -> bool:
    """Let the bot answer again; False if the conversation was not paused."""
    return bool(redis.delete(keys.paused(conversation)))


def status(redis: Redis, conversation: str) -> dict[str, Any] | None:
    """Who paused the conversation, since when and until when; None if the bot is answering."""
    raw = redis.get(keys.paused(conversation))
    return json.loads(raw) if raw else None
