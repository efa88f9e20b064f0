"""A chat page for trying the bot locally, through the same pipeline as every platform."""

from __future__ import annotations

import html
import re
import time
import uuid
from typing import Any

import click
from flask import Blueprint, Request, abort, jsonify, render_template, request
from flask.cli import with_appcontext
from marshmallow import ValidationError, fields, validate, validates_schema
from redis import Redis

from bot import keys
from bot.config import Config
from bot.errors import Rejected
from bot.messages import IncomingMessage, Reply
from bot.render.format import HTML
from bot.runtime import app_runtime
from handlers import bodies, headers
from handlers.platforms.base import Adapter, Payload, Sample, json_sample, load
from handlers.platforms.sse import Streams
from handlers.platforms.webchat_drafts import Drafts, draft_key
from handlers.platforms.webchat_uploads import Uploads

ID = validate.Regexp(r"[A-Za-z0-9_-]{8,64}\Z")  # marshmallow matches from the start; \Z, unlike $, refuses a final newline
STREAM_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")  # a reply's id, as Redis streams write them
MAX_STREAM_PART = 2**64 - 2  # Redis refuses larger parts, and an exclusive range from the largest id
KEEP_SECONDS = 86400  # a browser session's replies wait this long to be read
TYPING_SECONDS = 6  # longer than the turn's 4-second typing tick


class ChatMessage(Payload):
    session = fields.String(required=True, validate=ID)
    message_id = fields.String(required=True, validate=ID)
    text = fields.String(load_default="", validate=validate.Length(max=4000))
    upload = fields.String(validate=ID)  # what POST /webchat/upload answered: a photo or a voice note
    seconds = fields.Float(validate=validate.Range(min=0, max=86400))  # a voice note's length, as the page timed it

    @validates_schema
    def _says_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data["text"] and "upload" not in data:
            raise ValidationError("a message needs text or an upload", "text")


CHAT_MESSAGE = ChatMessage()


class Webchat(Drafts, Uploads, Adapter):
    """The browser page at /chat: it POSTs messages here and polls for replies."""

    name = "webchat"
    prefix = "WEBCHAT"
    max_text = 20000
    format = HTML  # styled by the page's own CSS
    dedupe_ttl = 3600  # the page retries a failed POST within seconds
    preview_every = 0.2  # frames go to Redis, not to a platform's API
    signed = False
    webhook_console = "the chat page needs no webhook: it posts to this app itself, from /chat"

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.streams = Streams(config.webchat_max_streams, config.webchat_stream_seconds)

    @classmethod
    def missing(cls, config: Config) -> list[str]:
        """Off unless WEBCHAT_ENABLED=1: it has no credentials to protect it."""
        return [] if config.webchat_enabled else ["WEBCHAT_ENABLED"]

    def verify(self, request: Request) -> None:
        """No signature to check: only this app's page may post, and one address only so fast."""
        if not headers.same_origin():
            raise Rejected("Only the chat page itself may send here.", 403)
        window = int(time.time() // 60)
        counter = keys.channel(self.name, "rate", request.remote_addr or "?", str(window))
        count, _ = self.redis.pipeline().incr(counter).expire(counter, 120).execute()
        if count > self.config.webchat_rate_limit:
            raise Rejected("Too many messages: please wait a minute.", 429)

    def parse(self, request: Request) -> list[IncomingMessage]:
        """One message typed on the page, with the photo or voice note it carries."""
        data = load(CHAT_MESSAGE, request)
        session = data["session"]
        media = [self.attached(session, data["upload"], data.get("seconds")).to_dict()] if "upload" in data else []
        return [IncomingMessage(self.name, f"{session}:{data['message_id']}", session, session, data["text"], media=media)]

    def send(self, reply: Reply) -> None:
        """Add the part to the session's stream, where the page's next poll finds it."""
        stream = keys.channel(self.name, reply.conversation_id)
        text = reply.text if reply.formatted else html.escape(reply.text)
        pipe = self.redis.pipeline()
        pipe.xadd(stream, {"html": text}, maxlen=200, approximate=True).expire(stream, KEEP_SECONDS)
        pipe.delete(keys.channel(self.name, "typing", reply.conversation_id), draft_key(reply.conversation_id)).execute()

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Flag the session as typing; the flag fades unless renewed."""
        self.redis.set(keys.channel(self.name, "typing", conversation_id), 1, ex=TYPING_SECONDS)

    def forget(self, conversation_id: str) -> int:
        """The session's reply stream, typing flag, preview and uploads."""
        kept = self.redis.delete(keys.channel(self.name, conversation_id), keys.channel(self.name, "typing", conversation_id),
                                 draft_key(conversation_id))
        return kept + self.forget_uploads(conversation_id)

    def sample(self, url: str, text: str) -> Sample:
        """A message typed on the page, in a sample session."""
        return json_sample({}, {"session": "sample-session", "message_id": uuid.uuid4().hex, "text": text})


bp = Blueprint("webchat", __name__, template_folder="../templates")


def _webchat() -> Webchat:
    adapter = app_runtime().channels.get(Webchat.name)
    if adapter is None:
        abort(404, description="The chat page is off: set WEBCHAT_ENABLED=1 to turn it on.")
    return adapter


@bp.get("/chat")
def page() -> str:
    """The chat page."""
    _webchat()
    return render_template("chat.html")


@bp.get("/webchat/events")
def events() -> Any:
    """Replies and typing state for one browser session, polled by the page."""
    session, after = request.args.get("session", ""), request.args.get("after", "0")
    if ID.regex.fullmatch(session) is None or not _stream_id(after):
        raise Rejected("session and after are required: an id from the page and the last event id seen")
    return jsonify(_webchat().events(session, after))


@bp.get("/webchat/stream")
def stream() -> Any:
    """The same events as they happen (server-sent events); 503 when this process streams to enough pages already,
    and the page polls /webchat/events instead."""
    session, after = request.args.get("session", ""), request.headers.get("Last-Event-ID") or request.args.get("after", "0")
    if ID.regex.fullmatch(session) is None or not _stream_id(after):
        raise Rejected("session and after are required: an id from the page and the last event id seen")
    adapter = _webchat()
    response = adapter.streams.response(adapter.updates(session, after))
    if response is None:
        return jsonify(error="Too many open streams here: poll /webchat/events instead."), 503
    return response


@bp.post("/webchat/upload")
@bodies.limited("WEBCHAT_UPLOAD_MAX_BYTES", lambda: _webchat().config.webchat_upload_max_bytes)
def upload() -> Any:
    """A photo or voice note for the session's next message, held until its turn ends: the reference that message carries."""
    adapter, session = _webchat(), request.args.get("session", "")
    adapter.verify(request)  # the messages' own checks: this page's origin, and the same rate limit
    if ID.regex.fullmatch(session) is None:
        raise Rejected("session is required: the id the page made")
    return jsonify(adapter.keep(session, request.get_data()))


def _stream_id(text: str) -> bool:
    """A reply id Redis takes: ASCII digits (str.isdigit takes any script's), each part within 64 bits."""
    match = STREAM_ID.fullmatch(text)
    return match is not None and all(int(part) <= MAX_STREAM_PART for part in match.groups() if part)


WAIT_SECONDS = 120  # how long `flask chat` waits for a reply before saying the workers seem stuck


@click.command("chat")
@with_appcontext
def chat() -> None:
    """Chat with the bot in the terminal, through the real pipeline: intake, Redis, a worker, the LLM."""
    adapter, turns = _webchat(), app_runtime().turns
    session, after = f"terminal-{uuid.uuid4().hex[:12]}", "0"
    click.echo("Type a message, Enter to send; Ctrl-D to quit. Replies need a running worker (make run).")
    while line := _read():
        turns.accept(IncomingMessage(adapter.name, uuid.uuid4().hex, session, session, line), adapter.dedupe_ttl)
        after = _print_replies(adapter, session, after)


def _read() -> str:
    """The next line typed, or "" at the end of input (Ctrl-D)."""
    try:
        return click.prompt("you", default="", show_default=False, prompt_suffix="> ")
    except click.Abort:
        return ""


def _print_replies(adapter: Webchat, session: str, after: str) -> str:
    """Wait for the turn's replies and print them as plain text; returns the last reply's id."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        state = adapter.events(session, after)
        for reply in state["replies"]:
            click.echo("bot> " + html.unescape(re.sub(r"<[^>]+>", "", reply["html"])))
            after = reply["id"]
        if state["replies"] and not state["typing"]:
            return after
        time.sleep(0.2)
    click.echo("(no reply yet: is a worker running? `flask --app app worker`, or `make run`)", err=True)
    return after
