"""Worker side: one conversation's turns, strictly one at a time and in order."""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterator

from bot import runtime
from bot.conversation import Conversation, LeaseLost, Turn
from bot.errors import BotError, FormattingRejected, Permanent
from bot.messages import Reply
from bot.prompts import system_prompt
from bot.render import render
from bot.retry import with_retries
from bot.runtime import Channel, Runtime

logger = logging.getLogger(__name__)

TICK = 4.0  # seconds between lease renewals and typing refreshes


def run(conversation: str) -> None:
    """RQ job: answer everything waiting in the conversation, one turn at a time."""
    rt = runtime.current()
    convo = Conversation(rt.redis, conversation, rt.config.lease_seconds)
    if not convo.acquire():
        logger.info("turn already running; it answers this inbox too", extra={"conversation": conversation})
        return
    with Keepalive(convo, min(TICK, rt.config.lease_seconds / 3)) as keepalive:
        while (turn := convo.next_turn()) is not None:
            answer(rt, convo, turn, keepalive)


def answer(rt: Runtime, convo: Conversation, turn: Turn, keepalive: Keepalive) -> None:
    """Ask the LLM (unless a crashed attempt already did), deliver the reply, record the turn."""
    channel = rt.channels.get(turn.last.platform)
    if channel is None:
        convo.dead_letter(turn, f"platform {turn.last.platform} is not enabled: set its credentials")
        return convo.finish(turn, [], rt.config.history_max_messages, rt.config.history_ttl)
    if turn.reply is None:
        with keepalive.typing(lambda: channel.typing(turn.last.conversation_id, turn.last.context), channel.typing_every):
            turn.reply, turn.kind = ask(rt, convo, turn)
        convo.save_reply(turn)
    delivered = deliver(rt, convo, channel, turn, keepalive)
    history = _history(turn) if delivered and turn.kind == "answer" else []
    convo.finish(turn, history, rt.config.history_max_messages, rt.config.history_ttl)
    logger.info("turn done", extra={"conversation": convo.name, "turn": turn.id, "messages": len(turn.messages),
                                    "kind": turn.kind, "delivered": delivered, "latency_ms": _latency_ms(turn)})


def ask(rt: Runtime, convo: Conversation, turn: Turn) -> tuple[str, str]:
    """The LLM's reply and "answer", or the failure notice and "notice" once retries are spent."""
    messages = [{"role": "system", "content": system_prompt(rt.config.prompts_dir, turn.last.platform)}]
    messages += convo.history(rt.config.history_max_messages)
    messages += [{"role": "user", "content": message.text} for message in turn.messages]
    try:
        completion = with_retries(lambda: rt.llm.complete(messages), rt.config.openai_max_retries, "LLM call")
        if not completion.text.strip():
            raise Permanent("LLM returned an empty reply")
    except BotError as error:
        convo.dead_letter(turn, f"LLM: {error}")
        return rt.config.failure_notice, "notice"
    logger.info("LLM answered", extra={"conversation": convo.name, "turn": turn.id,
                                       "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens})
    return completion.text, "answer"


def deliver(rt: Runtime, convo: Conversation, channel: Channel, turn: Turn, keepalive: Keepalive) -> bool:
    """Send each part not yet sent, marking each once delivered; False if the platform refused."""
    parts = render(turn.reply or "", channel.format, channel.max_text)
    for index in range(turn.sent, len(parts)):
        if keepalive.lost:
            raise LeaseLost(convo.name)
        part = parts[index]
        reply = Reply(channel.name, turn.last.conversation_id, part.text, part.plain, part=index,
                      key=f"{turn.id}-{index}", context=turn.last.context)
        try:
            with_retries(lambda: _send(channel, reply), rt.config.platform_max_retries, "delivery")
        except BotError as error:
            convo.dead_letter(turn, f"delivery: {error}")
            return False
        convo.mark_sent(turn, index + 1)
    return True


def _send(channel: Channel, reply: Reply) -> None:
    """Send formatted; if the platform rejects the formatting, send the same part as plain text."""
    try:
        channel.send(reply)
    except FormattingRejected as error:
        logger.warning("formatting rejected, resending as plain text: %s", error, extra={"platform": channel.name})
        channel.send(replace(reply, text=reply.plain, formatted=False))


def _history(turn: Turn) -> list[str]:
    entries = [{"role": "user", "content": message.text} for message in turn.messages]
    entries.append({"role": "assistant", "content": turn.reply or ""})
    return [json.dumps(entry) for entry in entries]


def _latency_ms(turn: Turn) -> int:
    return int((time.time() - turn.messages[0].received_at) * 1000)


class Keepalive:
    """Renews the turn's lease while it runs, and keeps the typing indicator alive while the LLM writes."""

    def __init__(self, convo: Conversation, interval: float) -> None:
        self.convo = convo
        self.interval = interval
        self.lost = False
        self._typing: Callable[[], None] | None = None
        self._typing_every = 0.0
        self._typing_shown = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"keepalive {convo.name}", daemon=True)

    def __enter__(self) -> Keepalive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def typing(self, show: Callable[[], None], every: float) -> Iterator[None]:
        """Show the indicator now, and again every `every` seconds until the block ends."""
        self._typing, self._typing_every, self._typing_shown = show, every, 0.0
        self._show()
        try:
            yield
        finally:
            self._typing = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.convo.renew():
                logger.error("lease lost: another worker took this conversation over", extra={"conversation": self.convo.name})
                self.lost = True
                return
            self._show()

    def _show(self) -> None:
        show = self._typing
        if show is None or time.monotonic() - self._typing_shown < self._typing_every - 0.5:
            return
        self._typing_shown = time.monotonic()
        try:
            show()
        except BotError as error:  # a missing indicator must never fail the turn
            logger.debug("typing indicator failed: %s", error)
