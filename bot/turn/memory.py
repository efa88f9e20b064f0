"""How much history the LLM sees: bounded by messages and by an estimate of tokens."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import BotError

if TYPE_CHECKING:  # the worker's types, without importing the worker into the web process
    from bot.runtime import Runtime
    from bot.turn.conversation import Conversation

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English; conservative for code, generous for CJK
MESSAGE_OVERHEAD = 4  # tokens each chat message costs beyond its text (role, separators)


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens `text` costs in a chat message, without a tokenizer download."""
    return MESSAGE_OVERHEAD + -(-len(text) // CHARS_PER_TOKEN)


def fit(history: list[dict[str, str]], max_tokens: int) -> list[dict[str, str]]:
    """The newest messages of `history` whose estimated tokens fit in `max_tokens` (0: no limit)."""
    if not max_tokens:
        return history
    kept, used = [], 0
    for message in reversed(history):
        used += estimate_tokens(message["content"])
        if used > max_tokens:
            break
        kept.append(message)
    return kept[::-1]


SUMMARY_INSTRUCTION = (
    "Summarise this conversation between a user and an assistant in at most five sentences, keeping names, "
    "numbers, decisions and open questions. Write only the summary."
)


def summary_request(previous: str, older: list[dict[str, str]]) -> list[dict[str, str]]:
    """The LLM messages that fold `older` history (and any previous summary) into one summary."""
    lines = [f"Earlier summary: {previous}"] if previous else []
    lines += [f"{message['role']}: {message['content']}" for message in older]
    return [{"role": "system", "content": SUMMARY_INSTRUCTION}, {"role": "user", "content": "\n".join(lines)}]


def summary_message(summary: str) -> list[dict[str, str]]:
    """The summary as the LLM sees it before the history; nothing when there is none."""
    return [{"role": "system", "content": f"Summary of the earlier conversation: {summary}"}] if summary else []


def summarise_overflow(rt: Runtime, convo: Conversation, adding: int, deadline: float) -> None:
    """Before the history drops its oldest messages, fold the older half into the summary (one LLM call per half)."""
    limit = rt.config.history_max_messages
    history, summary = convo.recall(limit)
    if len(history) + adding <= limit:
        return
    older = history[: max(limit // 2, adding)]
    try:
        completion = rt.llm.complete(summary_request(summary, older), deadline=deadline)
    except BotError as error:  # the turn is answered; only the memory of older messages is lost
        logger.warning("summary failed, older messages are forgotten instead: %s", error, extra={"conversation": convo.name})
        return
    convo.fold(len(older), completion.text.strip(), rt.config.history_ttl)
