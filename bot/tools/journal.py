"""The journal of a turn's tool calls, kept in Redis beside the turn's state and dropped with it when the turn ends.

Each round the model asks for is written before any of its calls is sent; each call is claimed before it is sent and
settled with its result after. A turn retried after a crash, a SIGTERM hand-back or a restart reads the journal back:
the rounds written are not asked for again, the results settled are replayed, and a call claimed but never settled
was in flight when its worker died. Only the lease holder writes, so two workers never both send a call.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bot import keys
from bot.turn.conversation import Conversation, LeaseLost

# Write one entry of the turn's journal if the lease is still ours; with ARGV[5] '1', only if it is not there yet (a
# call claimed before it is sent). KEYS: lease, journal. ARGV: token, turn id, field, value, claim. 1 written, 0 not.
_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'turn', ARGV[2], ARGV[3], ARGV[4])
return 1
"""

SENT, DONE = "sent", "done"  # a call's states: on its way (its outcome unknown if its worker died), or settled
OK, ERROR, UNKNOWN = "ok", "error", "unknown"  # a settled call's outcomes: unknown if it may or may not have acted


class Journal:
    """One turn's rounds and calls, as written so far."""

    def __init__(self, convo: Conversation, turn: str) -> None:
        self.convo, self.turn, self.key = convo, turn, keys.journal(convo.name)
        self._write = convo.redis.register_script(_WRITE)
        entries = {name.decode(): value.decode() for name, value in convo.redis.hgetall(self.key).items()}
        if entries.pop("turn", turn) != turn:  # a turn that ended without dropping it (forgotten mid-turn, say)
            convo.redis.delete(self.key)
            entries = {}
        entries = {name: json.loads(value) for name, value in entries.items()}
        self.rounds: list[dict[str, Any]] = []  # the assistant's messages that asked for calls, in order
        while f"round:{len(self.rounds)}" in entries:
            self.rounds.append(entries[f"round:{len(self.rounds)}"])
        self.calls = {field: record for field, record in entries.items() if field.startswith("call:")}

    def add_round(self, message: dict[str, Any]) -> None:
        """Keep the calls the model asks for next, before any is sent: a retried turn asks the model no more for them."""
        self._put(f"round:{len(self.rounds)}", message, claim=False)
        self.rounds.append(message)

    def call(self, round_: int, index: int) -> dict[str, Any] | None:
        """What is known of a call: None if never sent, else its record, settled or still `sent`."""
        return self.calls.get(f"call:{round_}:{index}")

    def claim(self, round_: int, index: int, tool: str) -> bool:
        """Mark the call on its way, before it is sent; False if it was marked already (so it may have been sent)."""
        record = {"tool": tool, "state": SENT, "at": time.time()}
        claimed = self._put(f"call:{round_}:{index}", record, claim=True)
        self.calls.setdefault(f"call:{round_}:{index}", record)
        return claimed

    def settle(self, round_: int, index: int, record: dict[str, Any]) -> dict[str, Any]:
        """Keep the call's outcome and result, before the model sees it; returns the record."""
        record = {**record, "state": DONE}
        self._put(f"call:{round_}:{index}", record, claim=False)
        self.calls[f"call:{round_}:{index}"] = record
        return record

    def summary(self) -> list[dict[str, Any]]:
        """Each call settled so far, in order: tool, milliseconds, outcome (never its arguments or result)."""
        order = sorted(self.calls, key=lambda field: tuple(int(part) for part in field.split(":")[1:]))
        return [{"tool": record["tool"], "ms": record.get("ms", 0), "outcome": record["outcome"]}
                for record in (self.calls[field] for field in order) if record["state"] == DONE]

    def _put(self, field: str, value: dict[str, Any], claim: bool) -> bool:
        written = self._write(keys=[keys.lease(self.convo.name), self.key],
                              args=[self.convo.token, self.turn, field, json.dumps(value), int(claim)])
        if written == -1:
            raise LeaseLost(self.convo.name)
        return bool(written)
