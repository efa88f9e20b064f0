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
    seconds, `frames` in all, and a discard on each restart. Its own thread sends them, so the model's stream never waits for
    the platform; the block ends with no frame on its way, before the reply goes. A refusal never fails the turn; a 429 skips
    frames."""

    def __init__(self, channel: Channel, turn: Turn, frames: int, keep: Callable[[], None], lost: Callable[[], bool]) -> None:
        self.channel, self.turn, self.left = channel, turn, frames
        self.keep, self.lost = keep, lost  # keep: saves turn.preview, the handle of what shows the frames
        self.text = self.status = ""
        self.shown = 0
        self._news = self._urgent = self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"preview {turn.id}", daemon=True)

    def __enter__(self) -> Preview:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread.ident is not None:
            self._thread.join()

    def write(self, text: str) -> None:
        """The model's text so far: what a streamed call tells as it grows."""
        self._nudge(text, "")

    def calling(self, tools: list[str]) -> None:
        """A round of tool calls: a status line under the text, never the calls themselves."""
        self._nudge(self.text, f"*Using {', '.join(dict.fromkeys(tools))}…*")

    def discard(self) -> None:
        """New messages restart the answer (burst mode "restart"): what was shown goes at once, throttle or not."""
        if self.shown:
            self._nudge("", "", urgent=True)

    def _nudge(self, text: str, status: str, urgent: bool = False) -> None:
        with self._changed:
            self.text, self.status = text, status
            self._news, self._urgent = True, self._urgent or urgent
            self._changed.notify()
        if self._thread.ident is None:
            self._thread.start()

    def _run(self) -> None:
        ready_at = 0.0
        while True:
            with self._changed:
                while not self._closed and not self._due(ready_at):
                    self._changed.wait(max(0.0, ready_at - time.monotonic()) if self._news and self.left > 0 else None)
                if self._closed or self.lost():
                    return
                self._news = self._urgent = False
                text, status = self.text, self.status
            pause = self._show(text, status)
            if pause is None:
                return
            ready_at = time.monotonic() + pause

    def _due(self, ready_at: float) -> bool:
        """Whether a frame may go now: a discard always may (its frames spent or not), the newest text when the throttle
        and the frames left allow."""
        return self._news and (self._urgent or (self.left > 0 and time.monotonic() >= ready_at))

    def _show(self, text: str, status: str) -> float | None:
        """Send one frame; the seconds until the next may go, or None once the platform refused one."""
        turn = self.turn
        parts = render("\n\n".join(piece for piece in (text, status) if piece), self.channel.format, self.channel.max_text)
        index = max(len(parts) - 1, 0)  # the part being written; the renderer closes every tag it opens
        self.left, self.shown = self.left - 1, self.shown + 1
        draft = Draft(turn.last.platform, turn.last.conversation_id, parts[-1].text if parts else "",
                      parts[-1].plain if parts else "", index, f"{turn.id}-{index}",
                      f"{turn.id}-{index}-{turn.attempts}-{self.shown}", turn.preview, turn.last.context, turn.attempts > 1)
        try:
            handle = self.channel.preview(draft)
        except Transient as error:  # rate limited, most likely: skip frames while it lasts rather than pile them up
            logger.debug("preview frame failed: %s", error)
            return max(self.channel.preview_every, error.retry_after or 0)
        except BotError as error:  # refused: the reply itself still comes, so no more frames
            logger.warning("preview refused, none more for this turn: %s", error, extra={"platform": self.channel.name})
            return None
        if handle and handle != turn.preview:
            turn.preview = handle
            self.keep()  # at once: a turn retried after a crash must finish this message, not post a second
        return self.channel.preview_every
