"""The seam: the only things that cross between handlers/ (platforms) and bot/ (conversations), the messages both
ways and the outbound half of an adapter."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from bot.media.refs import Media
from bot.render.format import Format


@dataclass(frozen=True)
class IncomingMessage:
    """A user's text message, as any platform's adapter parses it."""

    platform: str
    message_id: str  # the platform's id for this delivery: what retries repeat and dedupe keys on
    conversation_id: str  # where replies go, within the platform
    user_id: str
    text: str
    user_name: str = ""
    received_at: float = field(default_factory=time.time)
    # When the platform says it was sent (Unix seconds), where it says: intake drops what is older than its dedupe
    # horizon. Not stored: the inbox keeps the format workers of the release before read.
    sent_at: float | None = field(default=None, compare=False)
    # Platform details the reply needs: thread, the message to reply to, chat type.
    context: dict[str, Any] = field(default_factory=dict)
    # Voice notes, photos, documents: bot.media.refs.Media as dicts, fetched by the worker when it reads the turn.
    media: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A lone surrogate (polled JSON's "\ud800", a terminal's undecodable byte) fails every Redis key and LLM call
        # made of it: the turn would crash on every retry. The webhooks refuse one; anything else is repaired here.
        for name, value in vars(self).items():
            if isinstance(value, (str, dict, list)):
                object.__setattr__(self, name, valid_unicode(value))

    @property
    def conversation(self) -> str:
        """The conversation's key across platforms: split_conversation reads it back."""
        return f"{self.platform}:{self.conversation_id}"

    def to_json(self) -> str:
        """Serialise for the conversation's inbox."""
        stored = {**vars(self)}  # not asdict(): its deep copy is a tenth of a webhook's time
        del stored["sent_at"]
        if not self.media:
            del stored["media"]  # a text message keeps the format the release before reads
        return json.dumps(stored, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> IncomingMessage:
        """Read back a message stored by `to_json`."""
        return cls(**json.loads(raw))


def valid_unicode(value: Any) -> Any:
    """`value` with every lone surrogate in its strings, at any depth, replaced by U+FFFD; pairs are joined."""
    if isinstance(value, str):
        if value.isascii() or _encodable(value):
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {valid_unicode(key): valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def split_conversation(conversation: str) -> tuple[str, str]:
    """A conversation's key (telegram:123456789) as its platform and the platform's own id for it."""
    platform, _, conversation_id = conversation.partition(":")
    return platform, conversation_id


@dataclass(frozen=True)
class Reply:
    """One part of the bot's answer, ready for the platform's send call."""

    platform: str
    conversation_id: str
    text: str  # formatted in the adapter's format
    plain: str  # the same part without formatting, for platforms that reject the formatted one
    part: int = 0  # position within the turn's reply: replies to the user's message only on the first
    formatted: bool = True  # False once the platform has rejected the formatting: send `text` as is
    key: str = ""  # unique per turn and part, the same when a crashed turn sends it again: an idempotency key
    context: dict[str, Any] = field(default_factory=dict)  # from the turn's last incoming message
    preview: str = ""  # the first part only: the handle of the message that showed the reply being written (Slack's ts)


@dataclass(frozen=True)
class Draft:
    """One frame of a reply being written (bot.turn.preview): the part it has reached, as far as it goes."""

    platform: str
    conversation_id: str
    text: str  # formatted in the adapter's format, every tag closed; "" while the model has written nothing yet
    plain: str
    part: int  # which part of the reply the text is the start of
    key: str  # the turn and the part: the same for every frame of one part (Telegram's draft_id)
    frame: str  # unique per frame, the same never twice: an idempotency key (a generic webhook's webhook-id)
    handle: str = ""  # what the channel answered an earlier frame of this turn with (Slack: the message's ts)
    context: dict[str, Any] = field(default_factory=dict)  # from the turn's last incoming message
    resumed: bool = False  # an earlier attempt of the turn died: a frame it sent may have landed with no answer heard


class AfterTimeout(StrEnum):
    """What a platform can say of a part it took but answered too late for: was it delivered?"""

    RESEND = "resend"  # safe to send again: it did not land, or the platform drops a repeat of the same key
    DELIVERED = "delivered"  # the platform shows it landed
    UNKNOWN = "unknown"  # no way to tell: it is not resent (a duplicate is worse) but recorded as unconfirmed


class Channel(Protocol):
    """The outbound half of a platform adapter: all that bot/ knows of a platform."""

    name: str
    max_text: int  # the platform's limit for one message
    format: Format
    typing_every: float  # seconds between typing indicators: a little less than the platform shows one
    preview_every: float  # the fewest seconds between two frames of a reply being written (bot.turn.preview)

    def send(self, reply: Reply) -> None:
        """Deliver one part; raise Transient, Permanent or FormattingRejected."""
        ...

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Show the user that the bot is writing."""
        ...

    def previews(self, context: dict[str, Any]) -> bool:
        """Whether the reply may be shown while it is written, in the conversation the context names."""
        ...

    def preview(self, draft: Draft) -> str:
        """Show a frame of the reply being written; the handle of what shows it, for the next frames (or "")."""
        ...

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """Whether a part sent without an answer in time may be sent again, landed, or cannot be known."""
        ...

    def download(self, media: Media, limit: int) -> bytes:
        """A message's file, through the platform's API, refused past `limit` bytes (bot.media.fetch.TooLarge)."""
        ...

    def discard(self, media: list[Media]) -> None:
        """Delete what the adapter holds of a turn's files once the turn has ended (the chat page's uploads)."""
        ...

    def forget(self, conversation_id: str) -> int:
        """Delete what the platform adapter keeps of a conversation (an erasure request); returns how many records."""
        ...

    def outside_window(self, contact: IncomingMessage) -> bool:
        """Whether the user last wrote longer ago than the platform's reply window (WhatsApp's 24 hours) lets text through."""
        ...

    def window_refusal(self, contact: IncomingMessage, template: dict[str, Any] | None) -> str:
        """Why a message the bot sends on its own cannot reach the user now, with this template if any ("" when it can)."""
        ...

    def template_text(self, template: dict[str, Any]) -> str | None:
        """What the history keeps of a template sent in place of the message; None where the message goes out, tagged."""
        ...
