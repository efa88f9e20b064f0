"""The tool loop: the model calls tools in rounds, then answers; each step journaled, so no retry repeats a call.

A retried turn goes through the same rounds: the ones journaled are not asked of the model again, their results are
replayed, and only what was never done is done. A call that was on its way when its worker died is sent again (with
the same webhook-id) only if the tool is idempotent; otherwise the model is told its outcome is unknown.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any, Callable

from bot import keys
from bot.errors import BotError, Permanent, Unconfirmed
from bot.llm import Completion, Messages, ToolCall
from bot.retry import with_retries
from bot.runtime import Runtime
from bot.tools import files
from bot.tools.files import HANDOFF, Tool
from bot.tools.journal import ERROR, OK, SENT, UNKNOWN, Journal
from bot.turn.conversation import Conversation, Turn

logger = logging.getLogger(__name__)

RECENT_CALLS = 200  # tool calls the admin page lists, newest first
UNKNOWN_RESULT = ("the outcome of this call is unknown: it was on its way when the bot restarted, and it is not safe to "
                  "repeat. Do not assume it happened or that it did not, do not call it again, and tell the user you "
                  "cannot confirm it.")


class HandOff(Exception):
    """The model handed the conversation to a person, through the built-in handoff tool."""


def answer(rt: Runtime, convo: Conversation, turn: Turn, messages: Messages, options: dict[str, Any],
           offered: dict[str, Tool], spend: Callable[[Completion], None]) -> Completion:
    """The model's reply after the tool rounds it asks for (up to TOOLS_MAX_ROUNDS, within the turn's deadline), its
    tokens and time summed over this attempt's model calls; raises HandOff, or BotError when the model fails."""
    if not offered:  # a prompt without tools: one model call, and nothing to journal
        return _ask(rt, turn, messages, options, offered, True, spend)
    journal = Journal(convo, turn.id)
    transcript, spent = list(messages), Completion("")
    try:
        for round_ in range(rt.config.tools_max_rounds + 1):
            if round_ == len(journal.rounds):
                may_call = _may_call(rt, turn, round_)
                completion = _ask(rt, turn, transcript, options, offered, may_call, spend)
                spent = _sum(spent, completion)
                if not completion.calls or not may_call and completion.text.strip():  # its answer; calls it may not make
                    return replace(completion, prompt_tokens=spent.prompt_tokens, completion_tokens=spent.completion_tokens,
                                   seconds=spent.seconds, calls=())
                if not may_call:
                    break
                journal.add_round(completion.message or {})
            transcript += _round(rt, journal, turn, round_, offered)
        raise Permanent(f"the model asked for tools after its last round (TOOLS_MAX_ROUNDS is {rt.config.tools_max_rounds}, "
                        "and the turn's deadline counts too)", kind="tool_rounds")
    finally:
        turn.tools = journal.summary()


def _ask(rt: Runtime, turn: Turn, transcript: Messages, options: dict[str, Any], offered: dict[str, Tool], may_call: bool,
         spend: Callable[[Completion], None]) -> Completion:
    """One model call, retried; its tokens count against the user's budget at once."""
    definitions = [tool.definition() for tool in offered.values()]
    completion = rt.llm.complete(transcript, options, definitions, "auto" if may_call else "none", deadline=turn.deadline)
    spend(completion)
    return completion


def _may_call(rt: Runtime, turn: Turn, round_: int) -> bool:
    """Whether the model may ask for tools now: rounds left, and time for the calls and one more model call after them."""
    return round_ < rt.config.tools_max_rounds and time.monotonic() + 2 * rt.config.openai_timeout < turn.deadline


def _round(rt: Runtime, journal: Journal, turn: Turn, round_: int, offered: dict[str, Tool]) -> Messages:
    """The round's assistant message and one tool message per call: each call's result, replayed or got now."""
    message = journal.rounds[round_]
    calls = [ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"]) for call in message["tool_calls"]]
    if any(call.name == HANDOFF for call in calls):
        raise HandOff()
    results = [_result(rt, journal, turn, round_, index, call, offered.get(call.name)) for index, call in enumerate(calls)]
    return [message, *({"role": "tool", "tool_call_id": call.id, "content": result} for call, result in zip(calls, results))]


def _result(rt: Runtime, journal: Journal, turn: Turn, round_: int, index: int, call: ToolCall, tool: Tool | None) -> str:
    """The call's result for the model: the journal's if it was settled, else the call's now (or why it was not made)."""
    known = journal.call(round_, index)
    if known and known["state"] != SENT:
        return known["result"]
    if known and not (tool and tool.idempotent):  # on its way when its worker died: a second call could refund twice
        return _settle(rt, journal, turn, round_, index, call.name, UNKNOWN, UNKNOWN_RESULT)
    if tool is None:
        return _settle(rt, journal, turn, round_, index, call.name, ERROR,
                       f"the tool was not called: there is no tool {call.name}")
    try:
        arguments = files.arguments(tool, call.arguments)
    except ValueError as problem:
        return _settle(rt, journal, turn, round_, index, tool.name, ERROR, f"the tool was not called: {problem}")
    if not known and not journal.claim(round_, index, tool.name) and not tool.idempotent:
        return _settle(rt, journal, turn, round_, index, tool.name, UNKNOWN, UNKNOWN_RESULT)
    started = time.monotonic()
    outcome, result = _call(rt, turn, tool, arguments, f"call_{turn.id}_{round_}_{index}")
    return _settle(rt, journal, turn, round_, index, tool.name, outcome, result, time.monotonic() - started)


def _call(rt: Runtime, turn: Turn, tool: Tool, arguments: dict[str, Any], call_id: str) -> tuple[str, str]:
    """Call the tool (an idempotent one retried): its outcome and the result the model sees; never an exception."""
    last = turn.last
    context = {"conversation": last.conversation, "user_id": last.user_id, "platform": last.platform}
    try:
        return OK, with_retries(lambda: rt.tools.call(tool, arguments, call_id, context),
                                rt.config.tools_max_retries if tool.idempotent else 0, f"tool {tool.name}",
                                deadline=turn.deadline - rt.config.openai_timeout)
    except Unconfirmed as error:
        return UNKNOWN, f"the tool failed: {error}. It may have acted: do not assume it did or did not; tell the user."
    except BotError as error:  # what an MCP tool reports of its own failure is its result: not logged
        logger.warning("tool %s failed: %s", tool.name, "it reported an error" if error.kind == "tool_error" else error,
                       extra={"conversation": last.conversation, "turn": turn.id})
        return ERROR, f"the tool failed: {error}"


def _settle(rt: Runtime, journal: Journal, turn: Turn, round_: int, index: int, tool: str, outcome: str, result: str,
            seconds: float = 0.0) -> str:
    """Journal the call's outcome and result, then count and list it (its arguments and result are never logged)."""
    ms = int(seconds * 1000)
    journal.settle(round_, index, {"tool": tool, "outcome": outcome, "result": result, "ms": ms})
    rt.metrics.count("tool_calls", tool=tool, outcome=outcome)
    rt.metrics.observe("tool_seconds", seconds, tool=tool)
    listed = json.dumps({"conversation": turn.last.conversation, "turn": turn.id, "tool": tool, "ms": ms, "outcome": outcome,
                         "at": time.time()})
    rt.redis.pipeline().lpush(keys.tool_calls(), listed).ltrim(keys.tool_calls(), 0, RECENT_CALLS - 1).execute()
    logger.info("tool called", extra={"conversation": turn.last.conversation, "turn": turn.id, "tool": tool, "tool_ms": ms,
                                      "outcome": outcome})
    return result


def _sum(spent: Completion, completion: Completion) -> Completion:
    return replace(spent, prompt_tokens=spent.prompt_tokens + completion.prompt_tokens,
                   completion_tokens=spent.completion_tokens + completion.completion_tokens,
                   seconds=spent.seconds + completion.seconds)
