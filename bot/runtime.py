"""What a worker needs to run turns: built once per process by the composition root (app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from redis import Redis

from bot.config import Config
from bot.intake import TurnQueue
from bot.llm import LLM
from bot.media.refs import Media
from bot.messages import AfterTimeout, IncomingMessage, Reply
from bot.metrics import Metrics
from bot.prompts import Prompts
from bot.render import Format
from bot.tools.catalog import Tools


class Channel(Protocol):
    """The outbound half of a platform adapter: all that bot/ knows of a platform."""

    name: str
    max_text: int  # the platform's limit for one message
    format: Format
    typing_every: float  # seconds between typing indicators: a little less than the platform shows one

    def send(self, reply: Reply) -> None:
        """Deliver one part; raise Transient, Permanent or FormattingRejected."""
        ...

    def typing(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Show the user that the bot is writing."""
        ...

    def after_timeout(self, reply: Reply) -> AfterTimeout:
        """Whether a part sent without an answer in time may be sent again, landed, or cannot be known."""
        ...

    def download(self, media: Media, limit: int) -> bytes:
        """A message's file, through the platform's API, refused past `limit` bytes (bot.media.fetch.TooLarge)."""
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


@dataclass(frozen=True)
class Runtime:
    """The worker's dependencies."""

    config: Config
    redis: Redis
    llm: LLM
    channels: Mapping[str, Channel]
    turns: TurnQueue
    prompts: Prompts
    metrics: Metrics
    tools: Tools


_current: Runtime | None = None  # RQ calls job functions by name, so they find their dependencies here


def install(runtime: Runtime) -> None:
    """Make `runtime` the one that turn jobs of this process use."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The installed runtime; the worker command installs it before taking any job."""
    if _current is None:
        raise RuntimeError("no runtime installed: start workers with `flask --app app worker`")
    return _current
