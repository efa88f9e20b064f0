"""The name of every Redis key the bot keeps, in one place."""

from __future__ import annotations

PREFIX = "bot"


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


def seen(platform: str, message_id: str) -> str:
    """Marks a platform message id as delivered, for dedupe."""
    return _key("seen", platform, message_id)


def inbox(conversation: str) -> str:
    """Messages waiting for the conversation's next turn, oldest first."""
    return _key("inbox", conversation)


def pending(conversation: str) -> str:
    """Set while a turn job for the conversation is queued or running."""
    return _key("pending", conversation)


def lease(conversation: str) -> str:
    """The running turn's hold on the conversation; it expires if its worker dies."""
    return _key("lease", conversation)


def batch(conversation: str) -> str:
    """The messages the running turn answers, moved out of the inbox in one step."""
    return _key("batch", conversation)


def turn(conversation: str) -> str:
    """The running turn's state: its messages, the LLM's reply, the parts already sent."""
    return _key("turn", conversation)


def history(conversation: str) -> str:
    """The conversation's recent messages, for the LLM's context."""
    return _key("history", conversation)


def dead_letters() -> str:
    """Turns that failed after every retry, newest first, for an operator to inspect."""
    return _key("dead")


def channel(platform: str, *parts: str) -> str:
    """A key a platform adapter keeps for itself, such as the web chat's reply streams."""
    return _key("channel", platform, *parts)
