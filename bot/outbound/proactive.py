"""Messages the bot sends on its own, such as a shop's "your order has shipped": now, or at a given time.

The API queues them in the conversation's outbox; the conversation's own turn sends them, so they
never interleave with a reply. Each is recorded in the outcome ledger under the platform "api". A message
for later waits in Redis; its RQ job names only its id (/admin/rq shows job arguments, and the text is the caller's).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from bot import jobs, keys, runtime
from bot.errors import BotError, Permanent
from bot.messages import Channel, IncomingMessage
from bot.ops import deadletters, ledger, transcript
from bot.ops.ledger import Outcome, unconfirmed_detail
from bot.prompts import PromptError, variables
from bot.runtime import Runtime
from bot.turn.conversation import Conversation, Turn
from bot.turn.delivery import Keepalive, deliver

logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = {"name", "language", "parameters", "tag"}


def outgoing(text: str | None = None, prompt: str | None = None, values: dict[str, Any] | None = None,
             template: dict[str, Any] | None = None) -> dict[str, Any]:
    """A message to send: literal `text`, or text the LLM writes from the named `prompt` and its `values`; past the
    user's reply window (WhatsApp's, Messenger's 24 hours) the `template` goes instead, and without one it is not sent."""
    return {"id": uuid.uuid4().hex[:16], "text": text, "prompt": prompt, "variables": values or {}, "template": template}


def template(value: Any) -> dict[str, Any]:
    """A template as the API, triggers and event rules name one: {name, language, parameters} for WhatsApp (a Content SID
    as name through Twilio), {tag} for Messenger, or both; raises ValueError saying what is wrong."""
    if not isinstance(value, dict) or not value.keys() <= TEMPLATE_FIELDS or not ({"name", "tag"} & value.keys()):
        raise ValueError("a template is {name, language, parameters} (WhatsApp), {tag} (Messenger), or both")
    if not all(isinstance(value.get(name, ""), str) and len(value.get(name, "")) <= 512 for name in ("name", "language", "tag")):
        raise ValueError("a template's name, language and tag are strings")
    parameters = value.get("parameters", [])
    values = parameters.values() if isinstance(parameters, dict) else parameters
    if not isinstance(parameters, (list, dict)) or len(parameters) > 100 or not all(isinstance(item, str) for item in values):
        raise ValueError("a template's parameters are a list of strings, or an object of strings by name; at most 100")
    return {**value, "parameters": parameters}


def schedule(rt: Runtime, conversation: str, item: dict[str, Any], at: datetime) -> None:
    """Send the message at `at`: kept until then and a week past it, for a failed job an operator may requeue."""
    keep = int((at - datetime.now(timezone.utc)).total_seconds()) + jobs.JOB_KEEP["failure_ttl"]
    pipe = rt.redis.pipeline()
    pipe.set(keys.scheduled(item["id"]), json.dumps({**item, "conversation": conversation}), ex=keep)  # for forget
    rt.turns.queue.enqueue_at(at, jobs.SEND_SCHEDULED, conversation, item["id"], pipeline=pipe, **jobs.JOB_KEEP)
    pipe.execute()


def send_scheduled(conversation: str, item_id: str) -> None:
    """RQ job, at the time the API was given: queue the message kept for it."""
    rt = runtime.current()
    item = rt.redis.get(keys.scheduled(item_id))
    if item is None:
        logger.warning("scheduled message not sent: sent already, or its job ran over a week late",
                       extra={"conversation": conversation, "id": item_id})
        return
    rt.turns.send_out(conversation, item.decode())
    rt.redis.delete(keys.scheduled(item_id))


def send_later(conversation: str, item: str) -> None:
    """RQ job of the messages scheduled before their text moved out of job arguments: they still run."""
    runtime.current().turns.send_out(conversation, item)


def send_queued(rt: Runtime, convo: Conversation, keepalive: Keepalive) -> None:
    """Send every queued outgoing message of the conversation, oldest first."""
    while (item := convo.outgoing()) is not None:
        _send(rt, convo, keepalive, item)
        convo.sent_outgoing()


def _send(rt: Runtime, convo: Conversation, keepalive: Keepalive, item: dict[str, Any]) -> None:
    contact = convo.contact()
    channel = rt.channels.get(contact.platform) if contact else None
    try:
        if contact is None or channel is None:
            raise Permanent("the conversation has no known user, or its platform is not enabled")
        turn = _turn(rt, convo, channel, contact, item)
        failure = deliver(rt, channel, turn, keepalive, lambda: convo.update_outgoing(
            {**item, **turn.progress()}))
        if failure:
            raise failure
    except BotError as error:
        return _record(rt, convo, item, Outcome.DEAD_LETTER, deadletters.add(rt.redis, _letter(convo, item, error),
                                                                               rt.config.dead_letter_ttl))
    convo.remember([json.dumps({"role": "assistant", "content": turn.reply, **_author(item)})])
    if turn.unconfirmed:
        return _record(rt, convo, item, Outcome.UNCONFIRMED, unconfirmed_detail(turn.unconfirmed, turn.sent, contact.platform))
    _record(rt, convo, item, Outcome.REPLIED, "")


def _turn(rt: Runtime, convo: Conversation, channel: Channel, contact: IncomingMessage, item: dict[str, Any]) -> Turn:
    """The message as a turn, its text saved first: a send resumed after a crash never rewrites it nor repeats a part.
    Whether the template goes instead (the user last wrote too long ago) is decided then too, once."""
    deadline = time.monotonic() + rt.config.turn_deadline
    if item.get("reply") is None:
        item["templated"] = _templated(channel, contact, item.get("template"))
        item["reply"] = (item["templated"] and channel.template_text(item["template"])) or item["text"] or _write(
            rt, convo, contact, item, deadline)
        convo.update_outgoing(item)
    if item.get("templated"):  # the adapter sends the template, or (Messenger) the text with its tag
        contact = replace(contact, context={**contact.context, "template": item["template"]})
    return Turn(item["id"], [contact], reply=item["reply"], deadline=deadline, **Turn.progress_of(item))


def _templated(channel: Channel, contact: IncomingMessage, template: dict[str, Any] | None) -> bool:
    """Whether the template goes instead of free-form text; Permanent, sending nothing, when neither reaches the user."""
    refusal = channel.window_refusal(contact, template)
    if refusal:
        raise Permanent(refusal)
    return channel.outside_window(contact)


def _write(rt: Runtime, convo: Conversation, contact: IncomingMessage, item: dict[str, Any], deadline: float) -> str:
    """The text the LLM writes from the item's prompt, in the conversation's context."""
    values = variables(contact.platform, contact.user_name, str(contact.context.get("language") or ""),
                       {"id": convo.name, "platform": contact.platform}, rt.config.timezone)
    try:
        prompt = rt.prompts.named(item["prompt"], {**values, **item["variables"]})
    except (OSError, PromptError) as error:
        raise Permanent(f"prompt {item['prompt']}: {error}") from None
    messages = [{"role": "system", "content": prompt.text}, *convo.history(rt.config.history_max_messages)]
    completion = rt.llm.complete(messages, deadline=deadline)
    if not completion.text.strip():
        raise Permanent("the LLM wrote nothing")
    return completion.text


def _author(item: dict[str, Any]) -> dict[str, str]:
    """Who wrote the message, for the history: a person answering a handoff is named (chat completions' `name`)."""
    return {"name": "person"} if item.get("by") == "person" else {}


def _letter(convo: Conversation, item: dict[str, Any], error: BotError) -> dict[str, Any]:
    return {"conversation": convo.name, "turn": item["id"], "reason": f"proactive message: {error}", "messages": [],
            "outgoing": item}


def _record(rt: Runtime, convo: Conversation, item: dict[str, Any], outcome: Outcome, detail: str) -> None:
    """In the ledger under "api" and the item's id, or where the item says (a business event: "events", source:id)."""
    platform, message_id = item.get("ledger") or ("api", item["id"])
    if platform != "api" and outcome is Outcome.REPLIED:
        outcome = Outcome.SENT  # a business event's message is no reply: the events ledger says sent
    ledger.record(rt.redis, platform, message_id, convo.name, outcome, detail)
    transcript.sent(rt.redis, rt.config.transcript_ttl, convo.name, item, outcome, detail)
    logger.info("proactive message %s", outcome, extra={"conversation": convo.name, "id": item["id"]})
