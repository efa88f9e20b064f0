"""Outbound events: signed webhooks (Standard Webhooks) to configured URLs, so CRMs, helpdesks and
automation tools hear what happens in conversations: message.received, reply.sent, handoff.requested,
dead_letter. Each delivery is an RQ job, retried with backoff by RQ's scheduler; the job names only the URL and the
event's id, its body waits in Redis (/admin/rq shows job arguments, and events carry what users wrote)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import requests
from rq import Queue, Retry

from bot import jobs, keys, runtime, times
from bot.config import Config
from bot.ops.ledger import Outcome
from bot.runtime import Runtime
from bot.signing import standard_key, standard_sign
from bot.turn import handoff
from bot.turn.conversation import Kind, Turn

logger = logging.getLogger(__name__)

RETRY_INTERVALS = [5, 30, 120, 600, 1800, 3600]  # seconds between attempts: about 1.7 hours in all
TIMEOUT = 15  # seconds the receiver has to answer
# An event's body outlives its delivery's retries and then its failed job, which an operator may requeue.
EVENT_KEEP = sum(RETRY_INTERVALS) + jobs.JOB_KEEP["failure_ttl"] + 3600


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx: RQ tries again later."""


def emit(config: Config, queue: Queue, kind: str, data: dict[str, Any], event_id: str = "") -> None:
    """Queue the event for every configured URL; nothing when EVENTS_URLS is unset.

    A stable `event_id` (the same when a crashed turn emits again) lets receivers dedupe on `webhook-id`.
    """
    if not config.events_urls:
        return
    if not config.events_secret:
        logger.error("EVENTS_URLS is set but EVENTS_SECRET is not: set it (whsec_...) to send events")
        return
    event = json.dumps({"type": kind, "timestamp": times.iso(), "data": data})
    event_id = f"evt_{event_id or uuid.uuid4().hex}"
    pipe = queue.connection.pipeline()
    pipe.multi()  # explicitly: RQ's enqueue would start the transaction itself, and refuses to once commands are queued
    for url in filter(None, (url.strip() for url in config.events_urls.split(","))):
        pipe.set(keys.event(event_id, url), event, ex=EVENT_KEEP)
        queue.enqueue(jobs.DELIVER_EVENT, url, event_id, retry=Retry(len(RETRY_INTERVALS), RETRY_INTERVALS), pipeline=pipe,
                      **jobs.JOB_KEEP)
    pipe.execute()


def deliver(url: str, event_id: str, event: str | None = None) -> None:
    """RQ job: POST one event, signed; raise to be retried, except on 410 Gone (the receiver asks us to stop).

    Jobs queued before bodies moved out of job arguments carry the body as `event`.
    """
    rt = runtime.current()
    kept = keys.event(event_id, url)
    body = event.encode() if event is not None else rt.redis.get(kept)
    if body is None:
        logger.warning("event not sent: delivered already, or kept past its retries", extra={"event": event_id})
        return
    status = _post(rt.config, url, event_id, body)
    if status == 410:
        logger.warning("event receiver answered 410 Gone: remove it from EVENTS_URLS", extra={"event": event_id})
    elif not 200 <= status < 300:
        raise DeliveryFailed(f"event receiver answered {status}")
    rt.redis.delete(kept)


def _post(config: Config, url: str, event_id: str, body: bytes) -> int:
    """POST the body signed as Standard Webhooks asks; the receiver's status."""
    now = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": event_id, "webhook-timestamp": str(now),
               "webhook-signature": standard_sign(standard_key(config.events_secret), event_id, now, body)}
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False).status_code


def announce_turn(rt: Runtime, conversation: str, turn: Turn, outcome: Outcome, failure: Exception | None) -> None:
    """The turn's outbound events: its messages, the reply, a handoff request, a dead letter."""
    def send(event_type: str, key: str = "", **data: Any) -> None:
        data = {"conversation": conversation, "turn": turn.id, **data}
        emit(rt.config, rt.turns.events, event_type, data, event_id=f"{turn.id}_{event_type}{key}")

    if not rt.config.events_urls:
        return
    for n, message in enumerate(turn.messages):
        send("message.received", f"_{n}", message_id=message.message_id, user_id=message.user_id, text=message.text)
    if turn.reply and failure is None:
        send("reply.sent", text=turn.reply, kind=turn.kind)
    if turn.kind == Kind.HANDOFF and turn.reply:
        send("handoff.requested", by=(handoff.status(rt.redis, conversation) or {}).get("by", "user"))  # or "model"
    if outcome == Outcome.DEAD_LETTER:
        send("dead_letter", reason=str(failure))
