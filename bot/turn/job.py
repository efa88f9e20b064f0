"""Worker side: one conversation's turns, strictly one at a time and in order, each ending in one outcome."""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import ShutDownImminentException

from bot import runtime
from bot.errors import BotError
from bot.media import reading
from bot.messages import Channel, split_conversation
from bot.ops import ledger, transcript
from bot.ops.ledger import Outcome
from bot.outbound import events, proactive
from bot.prompts import Prompt, variables
from bot.runtime import Runtime
from bot.tools import loop
from bot.turn import commands, handoff, memory
from bot.turn.conversation import OUTGOING, Conversation, Kind, LeaseLost, Turn
from bot.turn.delivery import Keepalive, deliver
from bot.turn.limits import Limits
from bot.turn.preview import Preview

logger = logging.getLogger(__name__)

TICK = 4.0  # seconds between lease renewals and typing refreshes
MAX_ATTEMPTS = 3  # a turn that crashed its worker this often is given up: it would crash the next one too
MAX_RESTARTS = 3  # in "restart" burst mode, how often new messages may restart one turn's LLM call

RUNNING: dict[str, Conversation] = {}  # this process's turns in progress, by conversation: what a shutdown hands back


def run(conversation: str) -> None:
    """RQ job: answer everything waiting in the conversation, one turn at a time."""
    rt = runtime.current()
    convo = Conversation(rt.redis, conversation, rt.config)
    if not convo.acquire():
        logger.info("turn already running; it answers this inbox too", extra={"conversation": conversation})
        return
    RUNNING[conversation] = convo
    try:
        with Keepalive(convo, min(TICK, rt.config.lease_seconds / 3)) as keepalive:
            more = _turns(rt, convo, keepalive)
        if more:  # this job has answered turns for a whole deadline: the next go to a new job, within its RQ timeout
            rt.turns.hand_back(convo.name, convo.token)
    except ShutDownImminentException:
        hand_back(rt, convo)
    except LeaseLost:
        raise  # another worker holds the turn now: nothing to hand back
    except Exception as error:  # a bug or an outage, not a dead worker: try again now rather than when the lease lapses
        _retry_now(rt, convo, error)
        raise  # RQ keeps the failed job, traceback included, for the operator
    finally:
        RUNNING.pop(conversation, None)


def hand_back(rt: Runtime, convo: Conversation) -> bool:
    """Release the turn's lease and queue it again, its state intact, for another worker to resume at once."""
    handed = rt.turns.hand_back(convo.name, convo.token)
    if handed:
        logger.warning("worker shutting down: turn handed back", extra={"conversation": convo.name})
    return handed


def _retry_now(rt: Runtime, convo: Conversation, error: Exception) -> None:
    """Hand the failed turn back at once; its attempts are counted, so one that always fails ends as a dead letter."""
    try:
        handed = rt.turns.hand_back(convo.name, convo.token)
    except RedisError:
        handed = False  # Redis is down: the lease lapses, and the sweeper resumes the turn then
    logger.error("turn failed (%s): %s", type(error).__name__,
                 "retrying it at once" if handed else "retried once the lease lapses", extra={"conversation": convo.name})


def hand_back_running(rt: Runtime) -> int:
    """Hand back every turn this process is running (a worker shutting down); returns how many."""
    return sum(hand_back(rt, convo) for convo in list(RUNNING.values()))


def _turns(rt: Runtime, convo: Conversation, keepalive: Keepalive) -> bool:
    """Answer turns until the inbox is empty (False, the lease released) or for a whole deadline (True, still held)."""
    platform, _ = split_conversation(convo.name)
    stop_after = time.monotonic() + rt.config.turn_deadline
    while time.monotonic() < stop_after:
        _settle(convo, rt.config.for_platform(platform, "burst_window"), rt.config.for_platform(platform, "burst_max_wait"))
        turn = convo.next_turn()
        if turn is None:
            return False
        if turn is OUTGOING:
            proactive.send_queued(rt, convo, keepalive)
        else:
            _cut(convo, turn)
            answer(rt, convo, turn, keepalive)
    return True


def _settle(convo: Conversation, window: float, max_wait: float) -> None:
    """Wait until the conversation has been quiet for `window` seconds, or its oldest message has waited `max_wait`."""
    while window > 0 and (since := convo.waiting_since()):
        first, last = since
        wait = min(last + window, first + max_wait) - time.time()
        if wait <= 0:
            return
        time.sleep(min(wait, window))


def _cut(convo: Conversation, turn: Turn) -> None:
    """Answer a command in a turn of its own, and the messages before and after it in theirs, in order."""
    convo.defer(turn, commands.first([message.text for message in turn.messages]) or 1)


def answer(rt: Runtime, convo: Conversation, turn: Turn, keepalive: Keepalive) -> None:
    """Decide the turn's reply (unless a crashed attempt already did), deliver it, record the outcome."""
    channel = rt.channels.get(turn.last.platform)
    if channel is None or turn.attempts > MAX_ATTEMPTS:
        reason = f"platform {turn.last.platform} is not enabled: set its credentials" if channel is None else \
            f"the turn failed {MAX_ATTEMPTS} times (its worker died, or it raised)"
        return _give_up(rt, convo, turn, reason)
    turn.deadline = time.monotonic() + rt.config.turn_deadline
    if turn.reply is None:
        preview = _preview(rt, convo, channel, turn, keepalive)
        with keepalive.typing(lambda: channel.typing(turn.last.conversation_id, turn.last.context), channel.typing_every), \
                preview or nullcontext():  # ends with no frame on its way: none may follow the reply
            turn.reply, turn.kind = decide(rt, convo, turn, preview)
        convo.save_reply(turn)
    failure = deliver(rt, channel, turn, keepalive, lambda: convo.mark_sent(turn)) if turn.reply else None
    _finish(rt, convo, turn, failure)


def _preview(rt: Runtime, convo: Conversation, channel: Channel, turn: Turn, keepalive: Keepalive) -> Preview | None:
    """Where the reply shows while the model writes it: None when STREAMING is off or the platform has no safe way."""
    if not rt.config.streaming or not channel.previews(turn.last.context):
        return None
    return Preview(channel, turn, rt.config.stream_max_frames, lambda: convo.save_preview(turn), lambda: keepalive.lost)


def decide(rt: Runtime, convo: Conversation, turn: Turn, preview: Preview | None = None) -> tuple[str, Kind]:
    """The turn's reply and its kind."""
    if handoff.status(rt.redis, convo.name):
        return "", Kind.HANDOFF  # a person answers now: the messages wait for them in the history
    limits = Limits(rt.redis, rt.config)
    over = limits.exceeded(turn.messages)
    if over:
        notice = rt.config.rate_limit_notice if over == "rate" else rt.config.budget_notice
        first = limits.first_notice(turn.last, over)
        rt.metrics.count("limit_notices", limit=over, notified="yes" if first else "no")
        return (notice, Kind.NOTICE) if first else ("", Kind.SILENT)
    notice = reading.read_turn(rt, convo, turn, limits)
    if notice:
        return notice
    if not any(message.text.strip() or message.media for message in turn.messages):  # stickers, locations, video only
        return (rt.config.non_text_notice, Kind.NOTICE) if rt.config.non_text_notice else ("", Kind.SILENT)
    command = commands.name(turn.last.text)
    if command:
        return _command(rt, convo, turn, command)
    prompt = _prompt_for(rt, turn)
    phrases = prompt.settings.get("handoff_phrases", handoff.PHRASES)
    if any(handoff.requested(message.text, phrases) for message in turn.messages):
        return _hand_off(rt, convo, by="user")
    return ask(rt, convo, turn, limits, prompt, preview if prompt.settings.get("streaming", True) else None)


def _hand_off(rt: Runtime, convo: Conversation, by: str) -> tuple[str, Kind]:
    """Pause the conversation for a person to answer (the user asked, or the model used its handoff tool)."""
    handoff.pause(rt.redis, convo.name, rt.config.handoff_timeout, by=by)
    return rt.config.handoff_notice, Kind.HANDOFF


def _command(rt: Runtime, convo: Conversation, turn: Turn, command: str) -> tuple[str, Kind]:
    """Answer /start, /reset or /help without the LLM; /reset forgets the conversation's history."""
    prompt = _prompt_for(rt, turn)
    turn.prompt = prompt.label
    if command == "/reset":
        convo.forget()
    return commands.reply(command, prompt), Kind.COMMAND


def ask(rt: Runtime, convo: Conversation, turn: Turn, limits: Limits, prompt: Prompt,
        preview: Preview | None = None) -> tuple[str, Kind]:
    """The LLM's reply, after the tools it calls (each round's tokens spent from the user's budget), streamed to the
    preview if there is one; in "restart" mode, asked again while new messages keep arriving during the call."""
    turn.prompt = prompt.label  # read once: an edit made during the turn applies to the next one
    options = {key: prompt.settings[key] for key in ("model", "temperature", "max_tokens", "reasoning_effort", "verbosity")
               if key in prompt.settings}
    offered = rt.tools.offer(prompt.name, prompt.settings.get("tools", []))
    for _ in range(MAX_RESTARTS + 1):
        try:
            completion = loop.answer(rt, convo, turn, _messages(rt, convo, turn, prompt), options, offered,
                                     lambda spent: limits.spend(turn.last, spent.prompt_tokens + spent.completion_tokens),
                                     preview)
        except loop.HandOff:
            return _hand_off(rt, convo, by="model")
        except BotError as error:
            convo.dead_letter(turn, f"LLM: {error}")
            return rt.config.failure_notice, Kind.NOTICE
        if rt.config.burst_mode != "restart" or not _absorbed(convo, turn):
            break
        if preview is not None:
            preview.discard()  # the answer starts again, to all the messages
    if not completion.text.strip():
        convo.dead_letter(turn, "LLM: an empty reply")
        return rt.config.failure_notice, Kind.NOTICE
    logger.info("LLM answered", extra={"conversation": convo.name, "turn": turn.id, "prompt": turn.prompt,
                                       "llm_ms": int(completion.seconds * 1000), "prompt_tokens": completion.prompt_tokens,
                                       "completion_tokens": completion.completion_tokens})
    return completion.text, Kind.ANSWER


def _absorbed(convo: Conversation, turn: Turn) -> bool:
    """Fold in the messages that arrived during the LLM call, up to a command (answered next, on its own) or a file
    (its turn reads it: this one has read its files already)."""
    before = len(turn.messages)
    if not convo.absorb(turn):
        return False
    new = turn.messages[before:]
    first_file = next((n for n, message in enumerate(new) if message.media), len(new))
    convo.defer(turn, before + min(first_file, commands.first([message.text for message in new])))
    return len(turn.messages) > before


def _prompt_for(rt: Runtime, turn: Turn) -> Prompt:
    last = turn.last
    values = variables(last.platform, last.user_name, str(last.context.get("language") or ""),
                       {"id": last.conversation, "platform": last.platform}, rt.config.timezone)
    return rt.prompts.for_turn(last.platform, values)


def _messages(rt: Runtime, convo: Conversation, turn: Turn, prompt: Prompt) -> list[dict[str, Any]]:
    history, summary = convo.recall(int(prompt.settings.get("history_max_messages", rt.config.history_max_messages)))
    budget = int(prompt.settings.get("history_max_tokens", rt.config.history_max_tokens))
    new = [{"role": "user", "content": read.content} for read in reading.said(turn.reads, turn.messages)]
    earlier = memory.summary_message(summary)
    return [{"role": "system", "content": prompt.text}, *earlier, *memory.fit(history, budget), *new]


def _finish(rt: Runtime, convo: Conversation, turn: Turn, failure: BotError | None) -> None:
    """Record the turn: every message gets exactly one outcome."""
    outcome, detail = _outcome(convo, turn, failure)
    events.announce_turn(rt, convo.name, turn, outcome, failure)
    history = _history(turn) if turn.kind in (Kind.ANSWER, Kind.HANDOFF) and failure is None else []
    if history and rt.config.history_summary:
        memory.summarise_overflow(rt, convo, len(history), turn.deadline)
    convo.finish(turn, outcome, history, detail)
    transcript.turn(rt.redis, rt.config.transcript_ttl, convo.name, turn, outcome, detail)
    reading.discard(rt, turn)
    _measure(rt, turn, outcome, sent=failure is None and bool(turn.reply))
    logger.info("turn done", extra={"conversation": convo.name, "platform": turn.last.platform, "turn": turn.id,
                                    "messages": len(turn.messages), "prompt": turn.prompt,
                                    **({"tools": turn.tools} if turn.tools else {}),
                                    "outcome": outcome, "latency_ms": int((time.time() - turn.messages[0].received_at) * 1000)})


def _outcome(convo: Conversation, turn: Turn, failure: BotError | None) -> tuple[Outcome, str]:
    """The outcome of every message of the turn, and its detail for the ledger."""
    if failure is not None:
        return Outcome.DEAD_LETTER, convo.dead_letter(turn, f"delivery: {failure}")
    if turn.unconfirmed:
        return Outcome.UNCONFIRMED, ledger.unconfirmed_detail(turn.unconfirmed, turn.sent, turn.last.platform)
    if turn.kind in (Kind.ANSWER, Kind.COMMAND):
        return (Outcome.REPLIED if len(turn.messages) == 1 else Outcome.MERGED), ""
    if turn.kind == Kind.HANDOFF:
        return Outcome.HANDOFF, ""
    return (Outcome.NOTICE, turn.reply or "") if turn.kind == Kind.NOTICE else (Outcome.REJECTED, "limit or config")


def _measure(rt: Runtime, turn: Turn, outcome: Outcome, sent: bool) -> None:
    platform = turn.last.platform
    rt.metrics.count("turns", platform=platform, outcome=outcome)
    if outcome == Outcome.MERGED:
        rt.metrics.count("merged_messages", len(turn.messages), platform=platform)
    if sent:
        rt.metrics.observe("turn_seconds", time.time() - turn.messages[0].received_at, platform=platform)


def _give_up(rt: Runtime, convo: Conversation, turn: Turn, reason: str) -> None:
    letter = convo.dead_letter(turn, reason)
    convo.finish(turn, Outcome.DEAD_LETTER, [], letter)
    transcript.turn(rt.redis, rt.config.transcript_ttl, convo.name, turn, Outcome.DEAD_LETTER, letter)
    reading.discard(rt, turn)
    _measure(rt, turn, Outcome.DEAD_LETTER, sent=False)


def _history(turn: Turn) -> list[str]:
    """The user's messages, and the bot's answer to them (the history keeps what a person answering later sees)."""
    entries = [{"role": "user", "content": read.text} for read in reading.said(turn.reads, turn.messages)]  # media as markers
    if turn.kind == Kind.ANSWER:
        entries.append({"role": "assistant", "content": turn.reply or ""})
    return [json.dumps(entry) for entry in entries]

