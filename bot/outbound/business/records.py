"""A business event as received: kept once per delivery id, with its job queued in the same step, before the 2xx."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from redis import Redis
from rq import Retry

from bot import jobs, keys
from bot.config import Config
from bot.intake import TurnQueue
from bot.outbound.events import RETRY_INTERVALS

LEDGER = "events"  # the outcome ledger's platform for business events: `flask outcome events <source>:<id>`
MIN_KEEP = sum(RETRY_INTERVALS) + 3600  # seconds: a payload outlives its job's retries, and an hour of backlog


@dataclass(frozen=True)
class BusinessEvent:
    """One event a business system reported, verified (PayPal's: in the worker) and of the shape its source sends."""

    source: str  # stripe, shopify, github, paypal, hubspot, mailchimp
    event_id: str  # the source's id for it, which its retries repeat: the dedupe key
    kind: str  # its type: payment_intent.succeeded, orders/fulfilled, push, contact.creation, subscribe, ...
    payload: dict[str, Any]  # what the rules' templates and prompts read
    raw: str = ""  # the body exactly as received, for a source that verifies it later (PayPal)
    headers: dict[str, str] = field(default_factory=dict)  # the headers that verification needs
    conversation: str = ""  # where its rule sent it, once known: `flask forget` finds it by this
    received_at: float = field(default_factory=time.time)

    @property
    def ref(self) -> str:
        """source:id, as the ledger and the logs name it."""
        return f"{self.source}:{self.event_id}"

    def variables(self) -> dict[str, Any]:
        """What templates see: the payload's fields, and `event` (source, type, id)."""
        return {**self.payload, "event": {"source": self.source, "type": self.kind, "id": self.event_id}}


def accept(turns: TurnQueue, event: BusinessEvent, dedupe_ttl: int, keep: int) -> bool:
    """Keep the event for `keep` s and queue its job, unless its id was seen in the last `dedupe_ttl` s; raises RedisError."""
    return turns.take(keys.seen(LEDGER, event.ref), dedupe_ttl, keys.business_event(event.source, event.event_id),
                      json.dumps(asdict(event)), keep, jobs.BUSINESS_EVENT, event.source, event.event_id,
                      retry=Retry(len(RETRY_INTERVALS), RETRY_INTERVALS))


def retention(config: Config) -> int:
    """Seconds an event's payload, and the mark of its outcome, are kept: EVENT_PAYLOAD_TTL, never less than MIN_KEEP."""
    return max(config.event_payload_ttl, MIN_KEEP)


def get(redis: Redis, source: str, event_id: str) -> BusinessEvent | None:
    """The kept event, or None once its retention ran out."""
    raw = redis.get(keys.business_event(source, event_id))
    return BusinessEvent(**json.loads(raw)) if raw else None


def kept(redis: Redis, ref: str) -> dict[str, Any] | None:
    """The kept event that `source:id` names, for an operator's eyes; None once its retention ran out."""
    source, _, event_id = ref.partition(":")
    event = get(redis, source, event_id)
    return asdict(event) if event else None


def addressed(redis: Redis, event: BusinessEvent, conversation: str) -> BusinessEvent:
    """The event, noted as sent to `conversation`, so that forgetting the conversation forgets it too; never kept again
    once forgotten or expired meanwhile (it would be kept for good: no TTL to keep)."""
    event = replace(event, conversation=conversation)
    redis.set(keys.business_event(event.source, event.event_id), json.dumps(asdict(event)), keepttl=True, xx=True)
    return event
