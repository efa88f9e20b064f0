"""Sending a turn's reply: each part once, in order, while the turn's lease is alive."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterator

from bot.errors import BotError, FormattingRejected, Unconfirmed
from bot.messages import AfterTimeout, Channel, Reply
from bot.render.format import render
from bot.retry import with_retries
from bot.runtime import Runtime
from bot.turn.conversation import Conversation, LeaseLost, Turn

logger = logging.getLogger(__name__)


def deliver(rt: Runtime, channel: Channel, turn: Turn, keepalive: Keepalive, on_progress: Callable[[], None]) -> BotError | None:
    """Send each part not yet sent; `on_progress` keeps turn.progress() whenever it changes. The final refusal, if any."""
    parts = render(turn.reply or "", channel.format, channel.max_text)
    in_doubt = turn.inflight  # the part a crashed attempt of this turn was sending, if any: it may have landed
    for index in range(turn.sent, len(parts)):
        if keepalive.lost:
            raise LeaseLost(keepalive.convo.name)
        reply = Reply(channel.name, turn.last.conversation_id, parts[index].text, parts[index].plain, part=index,
                      key=f"{turn.id}-{index}", context=turn.last.context)
        try:
            status = _deliver_part(rt, _Part(channel, reply, turn, on_progress, unsure=index == in_doubt), turn.deadline)
        except BotError as error:
            return error
        if status == "unconfirmed":
            _unconfirmed(rt, channel, turn, index, len(parts))
        # the next part is on its way from here: marked with this one, so the happy path costs no extra write
        turn.sent, turn.inflight = index + 1, index + 1 if index + 1 < len(parts) else -1
        on_progress()
    return None


def _deliver_part(rt: Runtime, part: _Part, deadline: float) -> str:
    """Send one part, retrying; how it went (sent, plain_fallback, sent_late, unconfirmed) is counted, and returned."""
    try:
        status = with_retries(part, rt.config.platform_max_retries, "delivery", deadline=deadline)
    except Unconfirmed:  # the last try's answer never came either
        status = "unconfirmed"
    except BotError:
        rt.metrics.count("deliveries", platform=part.channel.name, status="failed")
        raise
    rt.metrics.count("deliveries", platform=part.channel.name, status=status)
    return status


def _unconfirmed(rt: Runtime, channel: Channel, turn: Turn, index: int, count: int) -> None:
    """Not resent, since a duplicate is worse, but never silent: the outcome, a metric and a line say so."""
    turn.unconfirmed += 1
    logger.warning("reply part %d of %d unconfirmed: %s may have it (it took the part without answering within "
                   "PLATFORM_TIMEOUT, %g s, or a worker died while sending it), and it was not resent to avoid a duplicate. "
                   "Raise PLATFORM_TIMEOUT if this repeats", index + 1, count, channel.name, rt.config.platform_timeout,
                   extra={"conversation": turn.last.conversation, "turn": turn.id, "platform": channel.name})


class _Part:
    """One part's tries. Once one may have landed (no answer in time, or a worker died sending it), the next asks the
    platform what to do first: resend where that is safe, else leave it unconfirmed."""

    def __init__(self, channel: Channel, reply: Reply, turn: Turn, on_progress: Callable[[], None], unsure: bool) -> None:
        self.channel, self.reply, self.turn, self.on_progress = channel, reply, turn, on_progress
        self.unsure = unsure

    def __call__(self) -> str:
        if self.unsure:
            verdict = self.channel.after_timeout(self.reply)
            if verdict is not AfterTimeout.RESEND:
                return "sent_late" if verdict is AfterTimeout.DELIVERED else "unconfirmed"
        self._on_its_way(True)
        try:
            return _send(self.channel, self.reply)
        except Unconfirmed:
            self.unsure = True
            raise
        except BotError:
            self._on_its_way(False)  # refused or unreachable: it did not land
            raise

    def _on_its_way(self, sending: bool) -> None:
        """Keep whether the part may be at the platform now; written only when that changes."""
        inflight = self.reply.part if sending else -1
        if self.turn.inflight != inflight:
            self.turn.inflight = inflight
            self.on_progress()


def _send(channel: Channel, reply: Reply) -> str:
    """Send formatted; if the platform rejects the formatting, send the same part as plain text. Says which."""
    try:
        channel.send(reply)
        return "sent"
    except FormattingRejected as error:
        logger.warning("formatting rejected, resending as plain text: %s", error, extra={"platform": channel.name})
        channel.send(replace(reply, text=reply.plain, formatted=False))
        return "plain_fallback"


class Keepalive:
    """Renews the turn's lease while it runs, and keeps the typing indicator alive while the LLM writes."""

    def __init__(self, convo: Conversation, interval: float) -> None:
        self.convo = convo
        self.interval = interval
        self.lost = False
        self._typing: Callable[[], None] | None = None
        self._typing_every = 0.0
        self._typing_shown = 0.0
        self._showing = threading.Lock()  # held while an indicator is sent, so that no reply overtakes it
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"keepalive {convo.name}", daemon=True)

    def __enter__(self) -> Keepalive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    @contextmanager
    def typing(self, show: Callable[[], None], every: float) -> Iterator[None]:
        """Show the indicator now, and again every `every` seconds until the block ends.

        This thread sends it, not the turn's: the LLM call starts without waiting for the platform. A block
        that ends before it was sent (an instant answer) shows none; one sent is finished before the block ends.
        """
        self._typing, self._typing_every, self._typing_shown = show, every, 0.0
        self._wake.set()
        try:
            yield
        finally:
            with self._showing:
                self._typing = None

    def _loop(self) -> None:
        renew_at = time.monotonic() + self.interval
        while True:
            self._wake.wait(max(0.0, renew_at - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            if time.monotonic() >= renew_at:
                renew_at = time.monotonic() + self.interval
                if not self._renew():
                    return
            self._show()

    def _renew(self) -> bool:
        if self.convo.renew():
            return True
        logger.error("lease lost: another worker took this conversation over", extra={"conversation": self.convo.name})
        self.lost = True
        return False

    def _show(self) -> None:
        with self._showing:
            show = self._typing
            if show is None or time.monotonic() - self._typing_shown < self._typing_every - 0.5:
                return
            self._typing_shown = time.monotonic()
            try:
                show()
            except BotError as error:  # a missing indicator must never fail the turn
                logger.debug("typing indicator failed: %s", error)
