"""The outcome ledger: what became of each message, so "exactly one outcome" can be checked and explained."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Any

from redis import Redis

from bot import keys
from bot.messages import IncomingMessage

KEEP_SECONDS = 14 * 86400  # long enough to answer "what happened to my message last week?"


class Outcome(StrEnum):
    """What a message can end in: exactly one each."""

    REPLIED = "replied"  # answered in a turn of its own
    MERGED = "merged"  # answered together with the other messages of its turn
    NOTICE = "notice"  # the user got a notice instead: failure, rate limit, budget, non-text
    DEAD_LETTER = "dead_letter"  # nothing reached the user: an operator must look
    REJECTED = "rejected"  # deliberately not answered: over a limit already noticed, or ignored by config
    HANDOFF = "handoff"  # left for a person: the conversation is paused, or the user asked for one
    UNCONFIRMED = "unconfirmed"  # answered, but the platform never confirmed a part: the user may have missed it
    # A business event's outcomes (platform "events"), besides dead_letter and rejected (PayPal did not verify it)
    SENT = "sent"  # its message went out through the conversation's turn
    NO_RULE = "no_rule"  # acknowledged: no rule in EVENT_RULES_FILE for its source and type
    NO_RECIPIENT = "no_recipient"  # its rule's `to` found no conversation the bot knows


def unconfirmed_detail(unconfirmed: int, parts: int, platform: str) -> str:
    """The ledger's word on a reply the platform took but never confirmed."""
    return f"{unconfirmed} of {parts} reply parts taken by {platform} but never confirmed: not resent, to avoid a duplicate"


def entries(messages: list[IncomingMessage], outcome: Outcome, turn: str, detail: str = "", prompt: str = "",
            tools: list[dict[str, Any]] | None = None) -> list[str]:
    """Key and record, alternating, for each message of a turn: what the finishing script writes.

    `prompt` is the prompt file and version that wrote the reply: "which prompt said that?"; `tools` the tool calls
    that led to it (tool, ms, outcome).
    """
    flat: list[str] = []
    for message in messages:
        flat += [keys.outcome(message.platform, message.message_id),
                 _record(outcome, turn, detail, prompt, message.conversation, tools)]
    return flat


def record(redis: Redis, platform: str, message_id: str, conversation: str, outcome: Outcome, detail: str = "") -> None:
    """Record the outcome of one message outside a turn, such as a proactive message (platform "api")."""
    pipe = redis.pipeline()
    pipe.set(keys.outcome(platform, message_id), _record(outcome, message_id, detail, "", conversation), ex=KEEP_SECONDS)
    pipe.hincrby(keys.outcome_counts(), outcome, 1).execute()


def _record(outcome: Outcome, turn: str, detail: str, prompt: str, conversation: str,
            tools: list[dict[str, Any]] | None = None) -> str:
    record = {"outcome": outcome, "turn": turn, "detail": detail, "prompt": prompt, "at": time.time(),
              "conversation": conversation}
    return json.dumps({**record, "tools": tools} if tools else record)


def lookup(redis: Redis, platform: str, message_id: str) -> dict[str, Any] | None:
    """The recorded outcome of one message, or None if it has none (yet, or any more)."""
    raw = redis.get(keys.outcome(platform, message_id))
    return json.loads(raw) if raw else None


def counts(redis: Redis) -> dict[str, int]:
    """How many messages ended in each outcome, since the counts were last reset."""
    return {name.decode(): int(value) for name, value in redis.hgetall(keys.outcome_counts()).items()}
