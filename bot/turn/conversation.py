"""A conversation as the worker sees it: its lease, its inbox drained into turns, its history."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from redis import Redis

from bot import keys
from bot.config import Config
from bot.messages import IncomingMessage
from bot.ops import deadletters, ledger
from bot.ops.ledger import Outcome

logger = logging.getLogger(__name__)

# Take the lease (ARGV[1] a new token; KEYS: lease, pending, active), or renew it (ARGV[1] the token we
# hold); either way the pending marker lives on, and the sweeper's deadline follows the lease from the
# moment it is taken: a worker that dies at once is noticed when its lease lapses, not later.
# ARGV: token, lease ms, pending ms, deadline, conversation, 1 to take (SET NX) or 0 to renew.
_HOLD = """
if ARGV[6] == '1' then
  if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
elseif redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return 1
"""

# The next turn, as its messages and its state: an unfinished one left by a crashed worker
# (counting the attempt), else the whole inbox. With nothing left (outgoing messages included: -2
# says some wait), release the lease and the pending marker in the same atomic step, so a message
# that lands a moment later enqueues a new turn instead of being stranded.
_NEXT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[7]) == 1 then return -2 end
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HINCRBY', KEYS[5], 'attempts', 1)
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[5], 'id', ARGV[2], 'attempts', 1)
else
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[6], ARGV[3])
  return 0
end
return {redis.call('LRANGE', KEYS[4], 0, -1), redis.call('HGETALL', KEYS[5])}
"""

# Close a turn, if its lease is still ours: messages and reply join the history, each message's
# outcome goes into the ledger, the turn's state and its tool calls' journal go; the newest message becomes the contact and
# the conversation the most recent. ARGV: token, history size, history TTL, ledger TTL, outcome,
# contact, contact TTL, now, conversation, conversations listed, n, n history entries, then ledger
# keys and records alternating.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[11])
if n > 0 then
  redis.call('RPUSH', KEYS[4], unpack(ARGV, 12, 11 + n))
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
local i = 12 + n
while i < #ARGV do
  redis.call('SET', ARGV[i], ARGV[i + 1], 'EX', ARGV[4])
  redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
  i = i + 2
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[8])
redis.call('SET', KEYS[6], ARGV[6], 'EX', ARGV[7])
redis.call('ZADD', KEYS[7], ARGV[8], ARGV[9])
redis.call('ZREMRANGEBYRANK', KEYS[7], 0, -tonumber(ARGV[10]) - 1)
return 1
"""

# Fold messages that arrived during the LLM call into the running turn (the "restart" burst mode).
_ABSORB = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
local new = redis.call('LRANGE', KEYS[2], 0, -1)
if #new > 0 then
  redis.call('RPUSH', KEYS[3], unpack(new))
  redis.call('DEL', KEYS[2])
end
return new
"""

# Give back to the front of the inbox, in order, the batch's messages from index ARGV[2] on: they are
# the next turns' (a command is answered in a turn of its own). KEYS: lease, batch, inbox.
_DEFER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local rest = redis.call('LRANGE', KEYS[2], ARGV[2], -1)
for i = #rest, 1, -1 do redis.call('LPUSH', KEYS[3], rest[i]) end
redis.call('LTRIM', KEYS[2], 0, ARGV[2] - 1)
return #rest
"""


RECENT_KEPT = 10_000  # conversations the admin page can list, newest first
OUTGOING = object()  # what next_turn returns while messages the bot sends on its own wait


class Kind(StrEnum):
    """What a turn's reply is, which says where it goes: the history keeps answers (and handoffs' messages), not notices."""

    ANSWER = "answer"  # the LLM's
    COMMAND = "command"  # to /start, /reset or /help
    NOTICE = "notice"  # of a failure or a limit
    HANDOFF = "handoff"  # the handoff notice, or none: a person answers
    SILENT = "silent"  # none: over a limit already noticed, or a non-text message with NON_TEXT_NOTICE empty


class LeaseLost(Exception):
    """Another worker holds the conversation now: this one must stop without sending."""


@dataclass
class Turn:
    """The messages answered together, and how far answering them got."""

    id: str
    messages: list[IncomingMessage]
    reply: str | None = None
    kind: Kind = Kind.ANSWER
    attempts: int = 1  # how many workers have started this turn
    prompt: str = ""  # the prompt file and version that wrote the reply: name@hash
    deadline: float = 0.0  # time.monotonic() by which this attempt of the turn must end: no retry waits past it
    sent: int = 0  # reply parts already delivered
    unconfirmed: int = 0  # of those, parts the platform took but never confirmed: the user may have missed them
    inflight: int = -1  # the part on its way to the platform, if any: after a crash it may have landed
    tools: list[dict[str, Any]] = field(default_factory=list)  # the tool calls that led to the reply: tool, ms, outcome
    reads: dict[str, Any] = field(default_factory=dict)  # media read for this attempt, by message id (bot.media): never stored

    @property
    def last(self) -> IncomingMessage:
        """The newest message: replies go where it came from."""
        return self.messages[-1]

    def progress(self) -> dict[str, int]:
        """How far delivery got, as a turn's state keeps it."""
        return {"sent": self.sent, "unconfirmed": self.unconfirmed, "inflight": self.inflight}

    @staticmethod
    def progress_of(state: dict[str, Any]) -> dict[str, int]:
        """How far delivery got, read back from a turn's (or an outgoing message's) state."""
        return {"sent": int(state.get("sent", 0)), "unconfirmed": int(state.get("unconfirmed", 0)),
                "inflight": int(state.get("inflight", -1))}


def _turn(raw: list[bytes], flat_state: list[bytes]) -> Turn:
    """A turn from its messages and its state hash, as _NEXT returns them."""
    state = {key.decode(): value.decode() for key, value in zip(flat_state[::2], flat_state[1::2])}
    return Turn(state.get("id", "?"), [IncomingMessage.from_json(item) for item in raw], state.get("reply"),
                Kind(state.get("kind", Kind.ANSWER)), int(state.get("attempts", 1)), state.get("prompt", ""),
                **Turn.progress_of(state), tools=json.loads(state.get("tools") or "[]"))


class Conversation:
    """The worker's handle on one conversation while it holds the lease."""

    def __init__(self, redis: Redis, conversation: str, config: Config) -> None:
        self.redis = redis
        self.name = conversation
        self.token = uuid.uuid4().hex
        self.lease_ms = config.lease_seconds * 1000
        self.pending_ms = config.turn_timeout * 1000  # the marker outlives any job: a dead worker's is cleared by recovery
        self.config = config  # how long the history, the contact and dead letters are kept
        self._hold = redis.register_script(_HOLD)
        self._next = redis.register_script(_NEXT)
        self._finish = redis.register_script(_FINISH)
        self._absorb = redis.register_script(_ABSORB)
        self._defer = redis.register_script(_DEFER)

    def acquire(self) -> bool:
        """Take the lease; False when another turn of this conversation is running."""
        return self._held(take=True)

    def renew(self) -> bool:
        """Extend the lease; False if it was lost (this worker stalled past it)."""
        return self._held(take=False)

    def _held(self, take: bool) -> bool:
        deadline = time.time() + self.lease_ms / 1000
        return bool(self._hold(keys=[keys.lease(self.name), keys.pending(self.name), keys.active()],
                               args=[self.token, self.lease_ms, self.pending_ms, deadline, self.name, int(take)]))

    def next_turn(self) -> Turn | object | None:
        """The next turn to answer; OUTGOING while messages the bot sends on its own wait; None once the inbox
        is empty and the lease released."""
        c = self.name
        found = self._next(keys=[keys.lease(c), keys.pending(c), keys.inbox(c), keys.batch(c), keys.turn(c), keys.active(),
                                 keys.outbox(c)],
                           args=[self.token, uuid.uuid4().hex[:12], c])
        if found == -1:
            raise LeaseLost(c)
        if found == -2:
            return OUTGOING
        return _turn(*found) if found else None

    def outgoing(self) -> dict[str, Any] | None:
        """The oldest message the bot is to send on its own, left queued until `sent_outgoing`."""
        raw = self.redis.lindex(keys.outbox(self.name), 0)
        return json.loads(raw) if raw else None

    def update_outgoing(self, item: dict[str, Any]) -> None:
        """Keep how far sending the oldest outgoing message got (its text, parts sent), in its place in the outbox."""
        self.redis.lset(keys.outbox(self.name), 0, json.dumps(item))

    def sent_outgoing(self) -> None:
        """Drop the oldest outgoing message: it was sent (or given up on)."""
        self.redis.lpop(keys.outbox(self.name))

    def contact(self) -> IncomingMessage | None:
        """The conversation's newest message, which says where to reach its user."""
        raw = self.redis.get(keys.contact(self.name))
        return IncomingMessage.from_json(raw) if raw else None

    def remember(self, entries: list[str]) -> None:
        """Append to the history outside a turn (what the bot said on its own)."""
        key, kept = keys.history(self.name), self.config.history_max_messages
        self.redis.pipeline().rpush(key, *entries).ltrim(key, -kept, -1).expire(key, self.config.history_ttl).execute()

    def waiting_since(self) -> tuple[float, float] | None:
        """When the oldest and the newest waiting messages arrived, or None if the inbox is empty."""
        first, last = self.redis.pipeline().lindex(keys.inbox(self.name), 0).lindex(keys.inbox(self.name), -1).execute()
        if first is None or last is None:
            return None
        return IncomingMessage.from_json(first).received_at, IncomingMessage.from_json(last).received_at

    def absorb(self, turn: Turn) -> list[IncomingMessage]:
        """Move messages that arrived meanwhile into this turn; returns them."""
        new = self._absorb(keys=[keys.lease(self.name), keys.inbox(self.name), keys.batch(self.name)], args=[self.token])
        messages = [IncomingMessage.from_json(item) for item in new]
        turn.messages += messages
        return messages

    def defer(self, turn: Turn, keep: int) -> None:
        """Keep the turn's first `keep` messages; the rest go back to the front of the inbox, for the next turns."""
        if keep < len(turn.messages):
            c = self.name
            if self._defer(keys=[keys.lease(c), keys.batch(c), keys.inbox(c)], args=[self.token, keep]) < 0:
                raise LeaseLost(self.name)
            del turn.messages[keep:]

    def save_reply(self, turn: Turn) -> None:
        """Keep the reply, so a turn retried after a crash never asks the LLM for it again."""
        self.redis.hset(keys.turn(self.name), mapping={"reply": turn.reply or "", "kind": turn.kind, "prompt": turn.prompt,
                                                        "tools": json.dumps(turn.tools)})

    def mark_sent(self, turn: Turn) -> None:
        """Record how far delivery got, so a retried turn never sends a part twice nor blindly resends one in flight."""
        self.redis.hset(keys.turn(self.name), mapping=turn.progress())

    def finish(self, turn: Turn, outcome: Outcome, history: list[str], detail: str = "") -> None:
        """Record each message's outcome, append the turn to the history, drop its state; all if the lease is ours."""
        c, config = self.name, self.config
        contact = replace(turn.last, text="", media=[]).to_json()  # where and how to reach the user; their words are not kept
        args = [self.token, config.history_max_messages, config.history_ttl, ledger.KEEP_SECONDS, outcome, contact,
                config.contact_ttl, time.time(), c,
                RECENT_KEPT, len(history), *history,
                *ledger.entries(turn.messages, outcome, turn.id, detail, turn.prompt, turn.tools)]
        done = self._finish(keys=[keys.lease(c), keys.batch(c), keys.turn(c), keys.history(c), keys.outcome_counts(),
                                  keys.contact(c), keys.recent(), keys.journal(c)], args=args)
        if not done:
            raise LeaseLost(c)

    def forget(self) -> None:
        """Drop the conversation's history and summary: the user asked for a fresh start (/reset)."""
        self.redis.delete(keys.history(self.name), keys.summary(self.name))

    def recall(self, max_messages: int) -> tuple[list[dict[str, str]], str]:
        """The last messages of the conversation, oldest first, and the summary of those before them (or "")."""
        raw, summary = self.redis.pipeline(transaction=False).lrange(keys.history(self.name), -max_messages, -1) \
            .get(keys.summary(self.name)).execute()
        return [json.loads(item) for item in raw], (summary or b"").decode()

    def fold(self, count: int, summary: str, ttl: int) -> None:
        """Replace the oldest `count` history messages by a summary of them (and of the previous summary)."""
        pipe = self.redis.pipeline()
        pipe.ltrim(keys.history(self.name), count, -1).set(keys.summary(self.name), summary, ex=ttl).execute()

    def history(self, max_messages: int) -> list[dict[str, str]]:
        """The last messages of the conversation, oldest first."""
        return [json.loads(item) for item in self.redis.lrange(keys.history(self.name), -max_messages, -1)]

    def dead_letter(self, turn: Turn, reason: str) -> str:
        """Keep a failed turn, with everything needed to replay it, where an operator sees it."""
        letter_id = deadletters.add(self.redis, keep=self.config.dead_letter_ttl, record={
            "conversation": self.name, "turn": turn.id, "reason": reason, "reply": turn.reply, "sent": turn.sent,
            "messages": [message.to_json() for message in turn.messages]})
        logger.error("turn dead-lettered: %s", reason,
                     extra={"conversation": self.name, "turn": turn.id, "dead_letter": letter_id})
        return letter_id
