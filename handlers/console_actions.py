"""The operator console's actions: POSTs only, each checked by handlers.admin's guard (CSRF token, same origin).

Each redirects to the page it came from, or the one it names, with a code of what happened (handlers.console.NOTICES).
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from bot import keys
from bot.ops import checks, deadletters
from bot.outbound import events, proactive
from bot.runtime import app_runtime
from bot.turn import handoff
from bot.turn.conversation import Conversation

bp = Blueprint("console_actions", __name__, url_prefix="/admin")

MAX_REPLY = 4000  # characters: as the API takes
FORM_ID = re.compile(r"[0-9a-f]{32}")  # each reply form's own id (the form_id() pages put in it)
FORM_SECONDS = 86400  # how long a sent form's id is remembered: longer than anyone keeps a page open to send it again


def _back(done: str, default: str) -> Response:
    """Back to the console page the form names (never elsewhere), saying what happened."""
    back = request.form.get("back", "")
    local = back.startswith("/admin") and back.isprintable() and not any(mark in back for mark in ("//", "\\", "?"))
    return redirect(f"{back if local else default}?done={done}", 303)


@bp.post("/dead-letters/<letter_id>/replay")
def replay(letter_id: str) -> Response:
    """Put a dead letter's messages back into their conversation for a new turn."""
    replayed = deadletters.replay(app_runtime(), letter_id)
    return _back("replayed" if replayed else "gone", url_for("console.dead_letters"))


@bp.post("/dead-letters/purge")
def purge() -> Response:
    """Forget every dead letter, once the box saying so is ticked."""
    confirmed = request.form.get("confirm") == "purge"
    if confirmed:
        deadletters.purge(app_runtime().redis)
    return _back("purged" if confirmed else "confirm", url_for("console.dead_letters"))


@bp.post("/conversations/<path:conversation>/pause")
def pause(conversation: str) -> Response:
    """Hand the conversation to a person for HANDOFF_TIMEOUT: the bot stays silent, the messages are kept."""
    return _back("paused" if _pause(conversation) else "unknown", url_for("console.conversation", conversation=conversation))


@bp.post("/handoff")
def hand_over() -> Response:
    """The handoff page's form: hand over the conversation it names."""
    conversation = request.form.get("conversation", "").strip()
    if not _pause(conversation):
        return _back("unknown", url_for("console.handoffs"))
    return redirect(url_for("console.conversation", conversation=conversation, done="paused"), 303)


def _pause(conversation: str) -> bool:
    """Hand the conversation over, and say so to the event subscribers, if anybody ever wrote in it."""
    rt = app_runtime()
    if Conversation(rt.redis, conversation, rt.config).contact() is None:
        return False
    handoff.pause(rt.redis, conversation, rt.config.handoff_timeout, by="console")
    events.emit(rt.config, rt.turns.events, "handoff.requested", {"conversation": conversation, "by": "console"})
    return True


@bp.post("/conversations/<path:conversation>/resume")
def resume(conversation: str) -> Response:
    """Give the conversation back to the bot."""
    handoff.resume(app_runtime().redis, conversation)
    return _back("resumed", url_for("console.conversation", conversation=conversation))


@bp.post("/conversations/<path:conversation>/reply")
def reply(conversation: str) -> Response:
    """The person's reply: sent by the conversation's own turn, in order and once, as a proactive message is."""
    rt, text, form_id = app_runtime(), request.form.get("text", "").strip(), request.form.get("form", "")
    problem = _reply_problem(conversation, text, form_id)
    if not problem:  # the form id is claimed in the step that queues it: a resent form queues nothing, a failed send claims none
        item = json.dumps({**proactive.outgoing(text), "by": "person"})
        rt.turns.send_out(conversation, item, claim=keys.console_form(form_id), claim_ttl=FORM_SECONDS)
    return _back(problem or "replied", url_for("console.conversation", conversation=conversation))


def _reply_problem(conversation: str, text: str, form_id: str) -> str:
    """Why the reply cannot be sent, as a notice's code; "" when it can."""
    if not FORM_ID.fullmatch(form_id):
        return "stale"
    if not 0 < len(text) <= MAX_REPLY:
        return "empty"
    rt = app_runtime()
    contact = Conversation(rt.redis, conversation, rt.config).contact()
    if contact is None:
        return "unknown"
    channel = rt.channels.get(contact.platform)
    return "window" if channel and channel.outside_window(contact) else ""


@bp.post("/prompts/check")
def check_prompts() -> Response:
    """Run `prompts check` now; its result shows on the prompts page."""
    checks.prompts_check(app_runtime())
    return _back("checked", url_for("console.prompts"))
