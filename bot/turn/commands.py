"""Chat commands every assistant is expected to know: /start, /reset, /help."""

from __future__ import annotations

from bot.prompts import Prompt

GREETING = "Hi! I'm an AI assistant. Ask me anything, or send /help to see what I can do."
HELP = "Just write your question. /reset makes me forget our conversation; /start shows the greeting again."
FORGOTTEN = "Done: I've forgotten our conversation. What would you like to talk about?"
KNOWN = ("/start", "/reset", "/help")


def name(text: str) -> str | None:
    """The command a message is, such as "/reset" (also as "/reset@MyBot" in groups), or None."""
    word = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
    command = word.split("@", 1)[0]
    return command if command in KNOWN else None


def first(texts: list[str]) -> int:
    """Where the first command is among a turn's messages (len(texts) if none): each is answered in a turn of its own."""
    return next((index for index, text in enumerate(texts) if name(text)), len(texts))


def reply(command: str, prompt: Prompt) -> str:
    """What the bot answers to a command; the prompt's front matter may word the greeting and the help."""
    if command == "/start":
        return str(prompt.settings.get("greeting", GREETING))
    if command == "/help":
        return str(prompt.settings.get("help", HELP))
    return FORGOTTEN
