"""What a worker needs to run turns: built once per process by the composition root (app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from redis import Redis

from bot.config import Config
from bot.intake import TurnQueue
from bot.llm import LLM
from bot.media.refs import Media
from bot.messages import AfterTimeout, Reply
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

    def discard(self, media: list[Media]) -> None:
        """Delete what the adapter holds of a turn's files once the turn has ended (the chat page's uploads)."""
        ...

    def forget(self, conversation_id: str) -> int:
        """Delete what the platform adapter keeps of a conversation (an erasure request); returns how many records."""
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
