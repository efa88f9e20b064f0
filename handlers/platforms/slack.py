"""Slack Events API: signed events in, chat.postMessage out (docs/platforms.md section 2)."""

from __future__ import annotations

import html
import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Request, Response
from marshmallow import fields, validate

from bot.errors import Permanent, Transient, Unconfirmed
from bot.media.fetch import check_size
from bot.media.refs import Media, kind_of
from bot.messages import AfterTimeout, Draft, IncomingMessage, Reply
from bot.render.format import CODE, marks
from handlers.platforms import http, signatures
from handlers.platforms.base import ID, TIME, Adapter, Payload, Sample, load
from handlers.platforms.media import fetch, host_of

SIGNATURE = "X-Slack-Signature"
TIMESTAMP = "X-Slack-Request-Timestamp"
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
MENTION = re.compile(r"<@[A-Z0-9]+>\s*")
PERSON_SUBTYPES = {None, "file_share"}  # a person's new message: plain, or sharing files (with words or not)
REPLY_EVENT = "bot_reply_part"  # the metadata event type of every part the bot posts
UNEDITABLE = {"message_not_found", "cant_update_message", "edit_window_closed"}  # chat.update left the message as it was
# mrkdwn: only &, < and > are escaped; a link's text shows no code marks, so they are left out.
MRKDWN = marks(
    {"b": ("*", "*"), "i": ("_", "_"), "s": ("~", "~"), "a": ("<{0}|", ">"), **CODE},
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    code_in_links=False,
)

logger = logging.getLogger(__name__)


class File(Payload):
    """A shared file (a Slack Connect stub has only its id and no URL: it is not fetched)."""

    id = fields.String(required=True, validate=ID)
    name = fields.String(load_default="", validate=ID)
    mimetype = fields.String(load_default="", validate=ID)
    size = fields.Integer(validate=TIME)
    url_private_download = fields.String(validate=validate.Length(max=2048))




class Event(Payload):
    type = fields.String(required=True, validate=ID)
    channel = fields.String(validate=ID)
    channel_type = fields.String(validate=ID)
    user = fields.String(validate=ID)
    text = fields.String()
    ts = fields.String(validate=ID)
    thread_ts = fields.String(validate=ID)
    subtype = fields.String(validate=ID)
    bot_id = fields.String(validate=ID)
    files = fields.List(fields.Nested(lambda: File()), load_default=list)


class Authorization(Payload):
    user_id = fields.String(validate=ID)


class Envelope(Payload):
    type = fields.String(required=True, validate=ID)
    team_id = fields.String(load_default="", validate=ID)
    event_time = fields.Integer(validate=TIME)  # when the event happened, Unix seconds
    event = fields.Nested(Event)
    authorizations = fields.List(fields.Nested(Authorization), load_default=list)


ENVELOPE = Envelope()


class Slack(Adapter):
    """A Slack app whose Event Subscriptions Request URL is /webhooks/slack."""

    name = "slack"
    prefix = "SLACK"
    max_text = 4000  # Slack's recommended ceiling for `text`, markup included
    format = MRKDWN
    required = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    dedupe_ttl = 26 * 3600  # three retries within 6 minutes, or 24 h with Delayed Events
    default_api_url = "https://slack.com/api"
    preview_every = 2.0  # chat.update is Tier 3, about 50 a minute per workspace: shared by every reply being written
    webhook_console = ("Slack's bot token cannot set the webhook: paste https://<your-app>/webhooks/slack as the "
                       "Request URL on your app's Event Subscriptions page at api.slack.com/apps")

    def __init__(self, config, redis) -> None:
        super().__init__(config, redis)
        self.secret = config.setting("SLACK_SIGNING_SECRET").encode()
        self.headers = {"Authorization": f"Bearer {config.setting('SLACK_BOT_TOKEN')}"}

    def download(self, media: Media, limit: int) -> bytes:
        """GET url_private_download with the bot token, which goes to Slack's own hosts only."""
        check_size(media.size, limit)
        host = host_of(media.ref)
        own = host == host_of(self.api_url) or host == "slack.com" or host.endswith(".slack.com")
        if not own:
            raise Permanent(f"Slack file URL on {host}, not a Slack host: not fetched with the bot token")
        return fetch(self.http, media.ref, limit, self.headers)

    def verify(self, request: Request) -> None:
        """v0 HMAC-SHA256 over the timestamp and the raw body, within 5 minutes."""
        timestamp = request.headers.get(TIMESTAMP)
        signatures.require_fresh(TIMESTAMP, timestamp)
        expected = "v0=" + signatures.digest(self.secret, f"v0:{timestamp}:".encode() + request.get_data()).hex()
        signatures.require(SIGNATURE, request.headers.get(SIGNATURE), expected)

    def handshake(self, request: Request) -> Response | None:
        """Slack's url_verification, a signed POST: echo the challenge. A GET is not verified, so it gets nothing."""
        body = request.get_json(silent=True) if request.method == "POST" else None
        if isinstance(body, dict) and body.get("type") == "url_verification":
            return Response(str(body.get("challenge", "")), mimetype="text/plain")
        return None

    def parse(self, request: Request) -> list[IncomingMessage]:
        """Direct messages and mentions from people; everything else is acknowledged and ignored."""
        envelope = load(ENVELOPE, request)
        event = envelope.get("event")
        bot_user = next((a.get("user_id") for a in envelope["authorizations"]), None)
        if envelope["type"] != "event_callback" or not event or not _addressed_to_bot(event, bot_user):
            return []
        return [self._message(envelope["team_id"], event, envelope.get("event_time"))]

    def _message(self, team: str, event: dict[str, Any], sent_at: int | None) -> IncomingMessage:
        channel, thread = event["channel"], event.get("thread_ts")
        return IncomingMessage(
            platform=self.name,
            # message.im and app_mention for one message, and every retry of either, share this id
            message_id=f"{team}:{channel}:{event['ts']}",
            conversation_id=f"{team}:{channel}:{thread}" if thread else f"{team}:{channel}",
            user_id=event["user"],
            text=html.unescape(MENTION.sub("", event.get("text", ""))).strip(),  # "" for files alone: a notice
            sent_at=sent_at,
            context={"channel": channel, "thread_ts": thread},
            media=[media.to_dict() for media in _media(event["files"])],
        )

    def send(self, reply: Reply) -> None:
        """chat.postMessage, in the user's thread when they wrote in one; the first part of a reply shown while it was
        written completes that message instead (chat.update), or is posted if that message can no longer be edited."""
        if reply.preview and self._completed(reply):
            return
        payload = self._message_in(reply.context, reply.text)
        if not reply.formatted:
            payload["mrkdwn"] = False
        if reply.key:  # so that a part whose answer came too late can be found again (after_timeout)
            payload["metadata"] = {"event_type": REPLY_EVENT, "event_payload": {"key": reply.key}}
        self._call("chat.postMessage", payload)

    def _completed(self, reply: Reply) -> bool:
        """Update the message shown while the reply was written to the reply's first part; False if it cannot be edited."""
        try:
            self._call("chat.update", {"channel": reply.context["channel"], "ts": reply.preview, "text": reply.text})
        except Permanent as error:
            if error.kind not in UNEDITABLE:
                raise
            logger.warning("Slack refused to update the message showing the reply being written (%s): the reply is posted "
                           "instead", error.kind, extra={"platform": self.name})
            return False
        return True

    def previews(self, context: dict[str, Any]) -> bool:
        """A posted message can be edited in every conversation the bot answers in."""
        return True

    def preview(self, draft: Draft) -> str:
        """The first frame posts the message, whose ts is the handle; the next ones chat.update it. The message holds the
        first part only: a longer reply's frames stop there, and its next parts are posted as usual. A resumed turn that
        knows no message looks for one its dead attempt posted first."""
        if draft.part > 0:
            return draft.handle
        text, key = draft.text or "…", f"{draft.key}-preview"  # Slack refuses an empty text; the key finds a post again
        handle = draft.handle or (self._landed(draft.context, key) if draft.resumed else "")
        if handle:
            self._call("chat.update", {"channel": draft.context["channel"], "ts": handle, "text": text})
            return handle
        payload = self._message_in(draft.context, text) | {"metadata": {"event_type": REPLY_EVENT, "event_payload": {"key": key}}}
        try:
            ts = self._call("chat.postMessage", payload).get("ts")
        except Unconfirmed:
            return self._landed(draft.context, key)  # landed: that message, from now on; else the next frame posts it
        if not ts:  # posted, but where is not known: a second post could be a copy
            raise Permanent("Slack answered a preview's chat.postMessage without its ts")
        return str(ts)

    def _landed(self, context: dict[str, Any], key: str) -> str:
        """The ts of the post `key` in the channel (or the thread), or "" if it is not there."""
        posts = self._posts(context)
        if posts is None:  # it may be there, and a second would be a copy: no more frames for this reply
            raise Permanent("Slack may hold a preview posted without an answer, and the channel could not be checked")
        return posts.get(key, "")

    @staticmethod
    def _message_in(context: dict[str, Any], text: str) -> dict[str, Any]:
        """A new message's payload: in the user's thread when they wrote in one."""
        payload: dict[str, Any] = {"channel": context["channel"], "text": text}
        if context.get("thread_ts"):
            payload["thread_ts"] = context["thread_ts"]
        return payload

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        return _check(method, self.http.post(f"{self.api_url}/{method}", json=payload, headers=self.headers))

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """Look for the part in the channel (or the thread) by the key in its metadata: resend only if it is not there.
        An update of a message shown while the reply was written is safe to repeat (it sets the same text again), unless
        that message could not be edited and the part was posted: so it too is looked for first."""
        posts = self._posts(reply.context)
        if posts is not None and reply.key in posts:
            return AfterTimeout.DELIVERED
        return AfterTimeout.RESEND if posts is not None or reply.preview else AfterTimeout.UNKNOWN

    def _posts(self, context: dict[str, Any]) -> dict[str, str] | None:
        """The bot's recent posts in the channel (or the thread), ts by the key in their metadata; None if unknown."""
        thread = context.get("thread_ts")
        method, params = ("conversations.replies", {"ts": thread}) if thread else ("conversations.history", {})
        params |= {"channel": context["channel"], "limit": 50, "include_all_metadata": "true"}
        try:
            body = http.json_body(self.http.request("GET", f"{self.api_url}/{method}", params=params, headers=self.headers))
        except Transient:
            return None
        if not body.get("ok"):
            logger.warning("Slack %s failed (%s): a late reply part cannot be checked, so it is not resent; give the app "
                           "the channels:history, groups:history, im:history and mpim:history scopes", method, body.get("error"))
            return None
        return {(message.get("metadata") or {}).get("event_payload", {}).get("key"): message.get("ts", "")
                for message in body.get("messages") or []}

    def sample(self, url: str, text: str) -> Sample:
        """A direct message from a sample user, signed with the signing secret."""
        event = {"type": "event_callback", "team_id": "T0SAMPLE", "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event": {
            "type": "message", "channel_type": "im", "channel": "D0SAMPLE", "user": "U0SAMPLE", "text": text,
            "ts": f"{time.time():.6f}"}}
        body, ts = json.dumps(event).encode(), str(int(time.time()))
        signature = "v0=" + signatures.digest(self.secret, f"v0:{ts}:".encode() + body).hex()
        return {"Content-Type": "application/json", TIMESTAMP: ts, SIGNATURE: signature}, body


def _media(files: list[dict[str, Any]]) -> list[Media]:
    """The shared files the bot can fetch."""
    return [Media(kind_of(file["mimetype"]), file["url_private_download"], file["mimetype"],
                  file["name"], file.get("size")) for file in files if file.get("url_private_download")]


def _addressed_to_bot(event: dict[str, Any], bot_user: str | None) -> bool:
    """A person's new words or files in a DM with the bot, or a mention of it; never the bot's own posts or edits."""
    wanted = event["type"] == "app_mention" or (event["type"] == "message" and event.get("channel_type") == "im")
    from_person = event.get("user") not in (None, bot_user) and not event.get("bot_id")
    new = event.get("subtype") in PERSON_SUBTYPES  # not an edit, a deletion, a join
    said = bool(event.get("text", "").strip() or event["files"])
    return wanted and from_person and new and said and "ts" in event and "channel" in event


def _check(method: str, response: Any) -> dict[str, Any]:
    """The answer's body; or the bot's error for a failed call: 429 and 5xx are worth retrying, the rest are not."""
    if http.retryable(response):
        raise http.transient(response, f"Slack answered {response.status_code}")
    body = http.json_body(response)
    if response.status_code == 200 and body.get("ok"):
        return body
    if "ok" not in body:  # a proxy's error page, or a SLACK_API_URL that is not Slack's
        raise Permanent(f"Slack {method} got no Slack API answer (HTTP {response.status_code}): check SLACK_API_URL")
    error = body.get("error") or f"HTTP {response.status_code}"
    if error == "ratelimited":
        raise Transient("Slack rate limit")
    hint = ": check SLACK_BOT_TOKEN and the app's scopes (chat:write)" if error in AUTH_ERRORS else ""
    raise Permanent(f"Slack {method} failed: {error}{hint}", kind=error)
