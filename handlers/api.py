"""The operator API, behind a bearer token (API_TOKEN): human handoff, for a helpdesk or a person."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import fields, validate

from bot import handoff
from bot.conversation import Conversation
from bot.errors import Rejected
from bot.runtime import Runtime
from handlers import signatures
from handlers.base import Payload, validate_payload

bp = Blueprint("api", __name__, url_prefix="/api")


class Pause(Payload):
    minutes = fields.Integer(validate=validate.Range(min=0))  # 0: until resumed; absent: HANDOFF_TIMEOUT


PAUSE = Pause()


def _runtime() -> Runtime:
    return current_app.extensions["bot"]


@bp.before_request
def authenticate() -> None:
    """Every API call carries `Authorization: Bearer <API_TOKEN>`, compared in constant time."""
    token = _runtime().config.api_token
    if not token:
        raise Rejected("the API is off: set API_TOKEN", 404)
    given = request.headers.get("Authorization", "")
    signatures.require("Authorization bearer token", given.removeprefix("Bearer ") if given else None, token)


@bp.get("/conversations/<path:conversation>")
def show(conversation: str) -> Any:
    """Whether a person or the bot answers the conversation, and its recent history."""
    rt = _runtime()
    history = Conversation(rt.redis, conversation, rt.config.lease_seconds).history(rt.config.history_max_messages)
    return jsonify(conversation=conversation, paused=handoff.status(rt.redis, conversation), history=history)


@bp.post("/conversations/<path:conversation>/pause")
def pause(conversation: str) -> Any:
    """Hand the conversation to a person: the bot stays silent, messages are kept, until resumed or timed out."""
    rt = _runtime()
    data = validate_payload(PAUSE, request.get_json(silent=True) or {})
    seconds = data["minutes"] * 60 if "minutes" in data else rt.config.handoff_timeout
    handoff.pause(rt.redis, conversation, seconds, by="api")
    return jsonify(conversation=conversation, paused=handoff.status(rt.redis, conversation))


@bp.post("/conversations/<path:conversation>/resume")
def resume(conversation: str) -> Any:
    """Give the conversation back to the bot."""
    return jsonify(conversation=conversation, resumed=handoff.resume(_runtime().redis, conversation))
