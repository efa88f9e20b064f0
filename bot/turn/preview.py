"""A reply shown while the model writes it: frames to the channel's preview, throttled, never the reply itself.

The reply the user keeps is still the one saved in the turn's state and sent part by part (bot.turn.delivery); a frame is
ephemeral (a Telegram draft, the chat page's) or, on Slack, the message that the reply's first part then completes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from bot.errors import BotError, Transient
from bot.messages import Channel, Draft
from bot.render.format import render
from bot.turn.conversation import Turn

logger = logging.getLogger(__name__)


class Preview:
    """Shows the reply as it grows: the first words at once, then the newest text at most every `channel.preview_every`
    seconds, `frames` in all. Its own thread sends them, so the model's stream never waits for the platform; the block
    ends with no frame on its way, before the reply goes. A refusal never fails the turn; a 429 skips frames."""

    def __init__(self, channel: Channel, turn: Turn, frames: int, keep: Callable[[], None], lost: Callable[[], bool]) -> None:
        self.channel, self.turn, self.left = channel, turn, frames
        self.keep, self.lost = keep, lost  # keep: saves turn.preview, the handle of what shows the frames
        self.text = self.status = ""
        self.shown = 0
        self._news, self._closed = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"preview {turn.id}", daemon=True)

    def __enter__(self) -> Preview:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._news.set()
        if self._thread.ident is not None:
            self._thread.join()

    def write(self, text: str) -> None:
        """The model's text so far: what a streamed call tells as it grows."""
        self.text, self.status = text, ""
        self._nudge()

    def calling(self, tools: list[str]) -> None:
        """A round of tool calls: a status line under the text, never the calls themselves."""
        self.status = f"*Using {', '.join(dict.fromkeys(tools))}…*"
        self._nudge()

    def discard(self) -> None:
        """New messages restart the answer (burst mode "restart"): what was shown goes."""
        self.text = self.status = ""
        if self.shown:
            self._nudge()

    def _nudge(self) -> None:
        if self._thread.ident is None:
            self._thread.start()
        self._news.set()

    def _run(self) -> None:
        while self.left > 0:
            self._news.wait()
            self._news.clear()
            if self._closed.is_set() or self.lost():
                return
            started = time.monotonic()
            pause = self._show()
            if self._closed.wait(max(0.0, started + pause - time.monotonic())):
                return

    def _show(self) -> float:
        """Send one frame of the text as it is now; the seconds until the next may go."""
        text, status, turn = self.text, self.status, self.turn
        parts = render("\n\n".join(piece for piece in (text, status) if piece), self.channel.format, self.channel.max_text)
        index = max(len(parts) - 1, 0)  # the part being written; the renderer closes every tag it opens
        self.left, self.shown = self.left - 1, self.shown + 1
        draft = Draft(turn.last.platform, turn.last.conversation_id, parts[-1].text if parts else "",
                      parts[-1].plain if parts else "", index, f"{turn.id}-{index}",
                      f"{turn.id}-{index}-{turn.attempts}-{self.shown}", turn.preview, turn.last.context)
        try:
            handle = self.channel.preview(draft)
        except Transient as error:  # rate limited, most likely: skip frames while it lasts rather than pile them up
            logger.debug("preview frame failed: %s", error)
            return max(self.channel.preview_every, error.retry_after or 0)
        except BotError as error:  # refused: the reply itself still comes, so no more frames
            self.left = 0
            logger.warning("preview refused, none more for this turn: %s", error, extra={"platform": self.channel.name})
            return 0.0
        if handle and handle != turn.preview:
            turn.preview = handle
            self.keep()  # at once: a turn retried after a crash must finish this message, not post a second
        return self.channel.preview_every
