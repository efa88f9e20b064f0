"""Builders for the platforms' webhook payloads."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import TELEGRAM_SECRET

_update_ids = itertools.count(872349101)


def update(text: str, chat_id: int = 123456789, *, update_id: int | None = None, chat_type: str = "private",
           thread: int | None = None, is_bot: bool = False, message_id: int = 57) -> dict[str, Any]:
    """A Telegram update carrying one text message, as in platforms.md 1.3."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {"id": 42, "is_bot": is_bot, "first_name": "Ada", "username": "ada", "language_code": "en"},
        "chat": {"id": chat_id, "type": chat_type, "first_name": "Ada"},
        "date": 1767225600,
        "text": text,
    }
    if thread is not None:
        message["message_thread_id"] = thread
        message["is_topic_message"] = True
    return {"update_id": update_id if update_id is not None else next(_update_ids), "message": message}


def post_update(client, payload: Any, secret: str | None = TELEGRAM_SECRET, **kwargs: Any):
    """POST to /webhooks/telegram as Telegram does, with the secret token header unless None."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=payload, headers=headers, **kwargs)
