"""The RQ job of one business event: verified where its source needs it, matched to its rule, and sent through its
conversation's own turn, as proactive messages are. Each event ends in exactly one ledger outcome; a retried job
(RQ retries a transient failure) never gives it a second."""

from __future__ import annotations

import json
import logging
from typing import Any

from rq import get_current_job
from rq.job import Job
from rq.registry import FailedJobRegistry

from bot import jobs, keys, runtime
from bot.errors import Permanent
from bot.ops import ledger
from bot.ops.ledger import Outcome
from bot.outbound import proactive
from bot.outbound.business import paypal, records, rules
from bot.outbound.business.records import LEDGER, BusinessEvent
from bot.runtime import Runtime
from bot.turn.conversation import Conversation

logger = logging.getLogger(__name__)

MAX_CONVERSATION = 1024  # characters of a conversation's name, as the API takes it
ABANDONED_LOOKED_AT = 200  # the newest failed jobs of the events queue that each look for abandoned events reads


def handle(source: str, event_id: str) -> None:
    """RQ job: give the kept event its outcome; a failure that may pass is raised for RQ to retry, until its last try."""
    rt = runtime.current()
    event = records.get(rt.redis, source, event_id)
    if event is None:
        logger.warning("business event not handled: its payload expired (EVENT_PAYLOAD_TTL)",
                       extra={"event": f"{source}:{event_id}"})
        return
    try:
        _route(rt, event)
    except Permanent as error:
        _finish(rt, event, Outcome.DEAD_LETTER, str(error))
    except Exception as error:  # passing (PayPal down, the rules file mid-edit) or a bug: RQ tries again, up to the last try
        if (job := get_current_job()) is not None and job.retries_left:
            logger.warning("business event %s failed, RQ tries it again: %s", event.ref, error)
            raise
        logger.exception("business event %s failed on its last try", event.ref)
        _finish(rt, event, Outcome.DEAD_LETTER, f"{error}; after every retry")


def settle_abandoned(rt: Runtime) -> int:
    """Dead-letter each event whose job RQ gave up on with no outcome given: its worker died during the last try (RQ
    moves such a job to its failed jobs, unseen by `handle`). Returns how many; the sweeper calls it."""
    ids = FailedJobRegistry(queue=rt.turns.events).get_job_ids(0, ABANDONED_LOOKED_AT - 1, desc=True)
    abandoned = [job for job in Job.fetch_many(ids, connection=rt.redis) if job and job.func_name == jobs.BUSINESS_EVENT]
    events = [event for job in abandoned if (event := records.get(rt.redis, *job.args)) is not None
              and not rt.redis.exists(keys.business_routed(event.source, event.event_id))]  # queued or settled: the turn's
    for event in events:
        _finish(rt, event, Outcome.DEAD_LETTER, "its worker stopped during its last try, before anything was sent")
    return len(events)


def _route(rt: Runtime, event: BusinessEvent) -> None:
    if event.source == "paypal" and (refusal := paypal.refusal(rt.config, event)):
        _finish(rt, event, Outcome.REJECTED, refusal)
        # anyone may post to /events/paypal: a forged delivery must not shadow PayPal's own of the same id
        rt.redis.delete(keys.seen(LEDGER, event.ref), keys.business_routed(event.source, event.event_id))
        return None
    rule = rules.find(rules.load(rules.rules_file(rt.config)), event.source, event.kind)
    if rule is None:
        return _finish(rt, event, Outcome.NO_RULE, f"no rule for {event.source} {event.kind} in {rules.rules_file(rt.config)}")
    values = event.variables()
    conversation = rule.recipient(values)
    if not 0 < len(conversation) <= MAX_CONVERSATION or Conversation(rt.redis, conversation, rt.config).contact() is None:
        return _finish(rt, event, Outcome.NO_RECIPIENT, f"its rule's `to` gave {conversation!r}: no conversation the bot knows")
    event = records.addressed(rt.redis, event, conversation)
    item = _outgoing(rule, values, event)
    if rt.turns.send_out(conversation, json.dumps(item), keys.business_routed(event.source, event.event_id),
                         records.retention(rt.config)):
        rt.metrics.count("business_events", source=event.source, outcome="queued")
        logger.info("business event %s queued for its conversation", event.ref, extra={"conversation": conversation})


def _outgoing(rule: rules.Rule, values: dict[str, Any], event: BusinessEvent) -> dict[str, Any]:
    """The proactive message: its text or prompt, and the template that goes past the user's reply window, if the rule
    has one; recorded in the ledger as the event."""
    try:
        text, template = rule.message(values), rule.message_template(values)
    except rules.RuleError as error:
        raise Permanent(f"{event.source} {event.kind}: {error}") from None
    return {**proactive.outgoing(text, rule.prompt, values, template), "ledger": [LEDGER, event.ref]}


def _finish(rt: Runtime, event: BusinessEvent, outcome: Outcome, detail: str) -> None:
    """Record the event's one outcome, unless a try before this one did."""
    if not rt.redis.set(keys.business_routed(event.source, event.event_id), 1, nx=True, ex=records.retention(rt.config)):
        return
    ledger.record(rt.redis, LEDGER, event.ref, event.conversation, outcome, detail)
    rt.metrics.count("business_events", source=event.source, outcome=outcome)
    logger.info("business event %s: %s", event.ref, outcome, extra={"detail": detail})
