"""How much history the LLM sees: bounded by messages and by an estimate of tokens."""

from __future__ import annotations

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
