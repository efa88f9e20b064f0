"""The operator API, behind a bearer token (API_TOKEN): proactive messages, and human handoff."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError, fields, validate, validates_schema

from bot.errors import Rejected
from bot.outbound import events, proactive
from bot.prompts import PromptError, sample_variables
from bot.runtime import app_runtime
from bot.turn import handoff
from bot.turn.conversation import Conversation
from handlers.platforms import signatures
from handlers.platforms.base import ID, Payload, load
from handlers.platforms.registry import ADAPTERS

bp = Blueprint("api", __name__, url_prefix="/api")


MAX_PAUSE_MINUTES = 365 * 24 * 60  # a year: longer is as good as 0 (until resumed), and far longer Redis refuses as a TTL


class Pause(Payload):
    minutes = fields.Integer(validate=validate.Range(min=0, max=MAX_PAUSE_MINUTES))  # 0: until resumed; absent: HANDOFF_TIMEOUT


PAUSE = Pause()


class Template(fields.Field):
    """A message template, checked as proactive.template checks the triggers' and event rules' own."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return proactive.template(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class Outgoing(Payload):
    conversation = fields.String(required=True, validate=validate.Length(max=1024))  # <platform>:<id>, as the logs show it
    text = fields.String(validate=validate.Length(min=1, max=4000))
    prompt = fields.String(validate=ID)  # a prompt file whose template writes the message, e.g. examples/order-status.md
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    at = fields.AwareDateTime()  # ISO 8601 with a time zone; absent or past: now
    template = Template(load_default=None)  # sent instead past the user's reply window: {name, language, parameters}, {tag}

    @validates_schema
    def _text_or_prompt(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("text" in data) == ("prompt" in data):
            raise ValidationError("give either text or prompt")


OUTGOING = Outgoing()


@bp.before_request
def authenticate() -> None:
    """Every API call carries `Authorization: Bearer <API_TOKEN>`, compared in constant time."""
    token = app_runtime().config.api_token
    if not token:
        raise Rejected("the API is off: set API_TOKEN", 404)
    signatures.require_bearer(request, token)


@bp.post("/messages")
def send() -> Any:
    """Send a message to a known conversation now, or at a given time: literal text, or written from a prompt."""
    rt = app_runtime()
    data = load(OUTGOING, request)
    _check_reachable(data["conversation"], data["template"])
    if "prompt" in data:
        _check_prompt(data["prompt"], data["variables"])
    item = proactive.outgoing(data.get("text"), data.get("prompt"), data["variables"], data["template"])
    at = data.get("at")
    if at and at > datetime.now(timezone.utc):
        proactive.schedule(rt, data["conversation"], item, at)
    else:
        rt.turns.send_out(data["conversation"], json.dumps(item))
    return jsonify(id=item["id"], conversation=data["conversation"], at=(at.isoformat() if at else None)), 202


def _check_reachable(conversation: str, template: dict[str, Any] | None) -> None:
    """Refuse a conversation nobody wrote in, and a user outside their reply window (WhatsApp's, Messenger's 24 hours)
    without a template their platform takes then."""
    rt = app_runtime()
    contact = Conversation(rt.redis, conversation, rt.config).contact()
    if contact is None:
        raise Rejected(f"unknown conversation {conversation}: its user must have written to the bot first", 404)
    refusal = ADAPTERS[contact.platform].window_refusal(contact, template) if contact.platform in ADAPTERS else ""
    if refusal:
        raise Rejected(refusal, 409)


def _check_prompt(name: str, values: dict[str, Any]) -> None:
    """A prompt that exists and renders with these variables, or 400 saying why."""
    try:
        app_runtime().prompts.named(name, {**sample_variables(), **values})
    except (OSError, PromptError) as error:
        raise Rejected(f"prompt {name} cannot be used: {error}") from None


@bp.get("/conversations/<path:conversation>")
def show(conversation: str) -> Any:
    """Whether a person or the bot answers the conversation, and its recent history."""
    rt = app_runtime()
    history = Conversation(rt.redis, conversation, rt.config).history(rt.config.history_max_messages)
    return jsonify(conversation=conversation, paused=handoff.status(rt.redis, conversation), history=history)


@bp.post("/conversations/<path:conversation>/pause")
def pause(conversation: str) -> Any:
    """Hand the conversation to a person: the bot stays silent, messages are kept, until resumed or timed out."""
    rt = app_runtime()
    data = load(PAUSE, request, empty=True)
    seconds = data["minutes"] * 60 if "minutes" in data else rt.config.handoff_timeout
    handoff.pause(rt.redis, conversation, seconds, by="api")
    events.emit(rt.config, rt.turns.events, "handoff.requested", {"conversation": conversation, "by": "api"})
    return jsonify(conversation=conversation, paused=handoff.status(rt.redis, conversation))


@bp.post("/conversations/<path:conversation>/resume")
def resume(conversation: str) -> Any:
    """Give the conversation back to the bot."""
    return jsonify(conversation=conversation, resumed=handoff.resume(app_runtime().redis, conversation))
