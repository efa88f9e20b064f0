"""A conversation as the worker sees it: its lease, its inbox drained into turns, its history."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass

from redis import Redis

from bot import keys
from bot.messages import IncomingMessage

logger = logging.getLogger(__name__)

# Renew only a lease we still hold; the pending marker lives as long as the turn does.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2] * 2)
return 1
"""

# The next turn: an unfinished one left by a crashed worker, else the whole inbox. With
# nothing left, release the lease and the pending marker in the same atomic step, so a
# message that lands a moment later enqueues a new turn instead of being stranded.
_NEXT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[5], 'id', ARGV[2])
  return 2
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
"""

# Close a turn: its messages and reply join the history, its state goes.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[4], unpack(ARGV, 4))
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
"""


class LeaseLost(Exception):
    """Another worker holds the conversation now: this one must stop without sending."""


@dataclass
class Turn:
    """The messages answered together, and how far answering them got."""

    id: str
    messages: list[IncomingMessage]
    reply: str | None = None
    kind: str = "answer"  # or "notice": a polite failure message, kept out of the history
    sent: int = 0  # reply parts already delivered

    @property
    def last(self) -> IncomingMessage:
        """The newest message: replies go where it came from."""
        return self.messages[-1]


class Conversation:
    """The worker's handle on one conversation while it holds the lease."""

    def __init__(self, redis: Redis, conversation: str, lease_seconds: int) -> None:
        self.redis = redis
        self.name = conversation
        self.token = uuid.uuid4().hex
        self.lease_ms = lease_seconds * 1000
        self._renew = redis.register_script(_RENEW)
        self._next = redis.register_script(_NEXT)
        self._finish = redis.register_script(_FINISH)

    def acquire(self) -> bool:
        """Take the lease; False when another turn of this conversation is running."""
        return bool(self.redis.set(keys.lease(self.name), self.token, nx=True, px=self.lease_ms))

    def renew(self) -> bool:
        """Extend the lease; False if it was lost (this worker stalled past it)."""
        return bool(self._renew(keys=[keys.lease(self.name), keys.pending(self.name)], args=[self.token, self.lease_ms]))

    def next_turn(self) -> Turn | None:
        """The next turn to answer, or None once the inbox is empty and the lease released."""
        state = self._next(keys=self._keys(), args=[self.token, uuid.uuid4().hex[:12]])
        if state == -1:
            raise LeaseLost(self.name)
        return self._load() if state else None

    def _keys(self) -> list[str]:
        c = self.name
        return [keys.lease(c), keys.pending(c), keys.inbox(c), keys.batch(c), keys.turn(c)]

    def _load(self) -> Turn:
        raw, state = self.redis.pipeline().lrange(keys.batch(self.name), 0, -1).hgetall(keys.turn(self.name)).execute()
        state = {k.decode(): v.decode() for k, v in state.items()}
        messages = [IncomingMessage.from_json(item) for item in raw]
        reply = state.get("reply")
        return Turn(state.get("id", "?"), messages, reply, state.get("kind", "answer"), int(state.get("sent", 0)))

    def save_reply(self, turn: Turn) -> None:
        """Keep the LLM's reply, so a turn retried after a crash never asks for it again."""
        self.redis.hset(keys.turn(self.name), mapping={"reply": turn.reply or "", "kind": turn.kind})

    def mark_sent(self, turn: Turn, parts: int) -> None:
        """Record delivered parts, so a retried turn never sends one twice."""
        turn.sent = parts
        self.redis.hset(keys.turn(self.name), "sent", parts)

    def finish(self, turn: Turn, history: list[str], max_messages: int, ttl: int) -> None:
        """Append the turn to the history and drop its state, if the lease is still ours."""
        done = self._finish(
            keys=[keys.lease(self.name), keys.batch(self.name), keys.turn(self.name), keys.history(self.name)],
            args=[self.token, max_messages, ttl, *history],
        )
        if not done:
            raise LeaseLost(self.name)

    def history(self, max_messages: int) -> list[dict[str, str]]:
        """The last messages of the conversation, oldest first."""
        return [json.loads(item) for item in self.redis.lrange(keys.history(self.name), -max_messages, -1)]

    def dead_letter(self, turn: Turn, reason: str) -> None:
        """Keep a failed turn, with everything needed to replay it, where an operator sees it."""
        record = {"conversation": self.name, "turn": turn.id, "reason": reason, "at": time.time(),
                  "messages": [message.to_json() for message in turn.messages]}
        self.redis.pipeline().lpush(keys.dead_letters(), json.dumps(record)).ltrim(keys.dead_letters(), 0, 9999).execute()
        logger.error("turn dead-lettered: %s", reason, extra={"conversation": self.name, "turn": turn.id})
