"""Builders for the platforms' webhook payloads, and a bot built from the tests' settings."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import socket
from pathlib import Path
from typing import Any

import telegram

from app import create_app
from bot.runtime import APP_KEY, Runtime
from bot.worker.process import work
from tests.fakes import Canned

ROOT = Path(__file__).resolve().parent.parent
TELEGRAM_TOKEN = "123456:TEST-TOKEN"
TELEGRAM_SECRET = "s3cret-token_value"

_update_ids = itertools.count(872349101)
SENT_AT = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # the bot drops what is older than its dedupe horizon


def update(text: str, chat_id: int = 123456789, *, update_id: int | None = None, chat_type: str = "private",
           thread: int | None = None, is_bot: bool = False, message_id: int = 57, reply_to: int | None = None) -> dict[str, Any]:
    """A Telegram update carrying one text message (docs/platforms.md 1.3), built and serialised by python-telegram-bot.

    `thread` makes it a forum topic's message; `reply_to` a reply to a message of the bot whose id it is. Dated now: the bot
    drops updates older than the dedupe horizon, which a test may set to minutes.
    """
    sent_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    chat = telegram.Chat(id=chat_id, type=chat_type, first_name="Ada")
    sender = telegram.User(id=42, is_bot=is_bot, first_name="Ada", username="ada", language_code="en")
    replied = None if reply_to is None else telegram.Message(
        1, sent_at - dt.timedelta(minutes=1), chat, from_user=telegram.User(id=reply_to, is_bot=True, first_name="Bot"),
        text="earlier")
    message = telegram.Message(message_id, sent_at, chat, from_user=sender, text=text, reply_to_message=replied,
                               message_thread_id=thread, is_topic_message=thread is not None or None)
    return telegram.Update(update_id if update_id is not None else next(_update_ids), message=message).to_dict()


class Bot:
    """The one way the tests build a bot: an app from the tests' settings with some changed, its runtime, its test
    client, and a burst worker for it."""

    def __init__(self, settings: dict[str, str], **overrides: str) -> None:
        self.app = create_app({**settings, **overrides})
        self.client = self.app.test_client()

    @property
    def rt(self) -> Runtime:
        """What the app's routes, commands and workers use."""
        return self.app.extensions[APP_KEY]

    def run(self) -> None:
        """A real RQ worker in burst mode: it answers everything queued, then returns."""
        work(self.rt, burst=True)

    def say(self, text: str, update_id: int | None = None) -> None:
        """The user writes `text` on Telegram, and the worker answers."""
        post_update(self.client, update(text, update_id=update_id))
        self.run()


def texts(telegram) -> list[str]:
    """The texts Telegram was asked to send, in order."""
    return [message["text"] for message in telegram.sent]


def post_update(client, payload: Any, secret: str | None = TELEGRAM_SECRET, **kwargs: Any):
    """POST to /webhooks/telegram as Telegram does, with the secret token header unless None."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=payload, headers=headers, **kwargs)


def stored(redis) -> list[bytes]:
    """The bot's keys about messages and conversations: what a refused request must not leave behind.

    Refused payloads of unexpected shape are kept on purpose (bot:rejects), for operators, and refusals are counted
    (bot:metrics).
    """
    return [key for key in redis.keys("bot:*") if not key.startswith((b"bot:rejects", b"bot:metrics"))]


def dead_letters(redis) -> list[dict[str, Any]]:
    """The dead-lettered turns, newest first."""
    from bot.ops import deadletters

    return deadletters.newest(redis, limit=1000)


# Meta (WhatsApp, Messenger): docs/platforms.md sections 3, 4 and 10.6

APP_SECRET = "test_app_secret"  # the secret of docs/platforms.md 10.6
VERIFY_TOKEN = "meta-verify-token"


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    """X-Hub-Signature-256 as Meta computes it, independently of the code under test."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """The headers of a Meta webhook POST carrying `body`."""
    return {"X-Hub-Signature-256": signature(body, secret), "Content-Type": "application/json"}


def post_signed(client, platform: str, payload: Any):
    """POST a payload as Meta does: ASCII-escaped JSON, signed over the exact bytes sent."""
    body = json.dumps(payload).encode()
    return client.post(f"/webhooks/{platform}", data=body, headers=signed(body))


def graph_error(status: int, code: int, message: str, subcode: int | None = None) -> Canned:
    """A Graph API error response (docs/platforms.md 3.5)."""
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AzWq3bB7tHz"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Canned(status=status, body={"error": error})


def resolve_here(monkeypatch, suffix: str) -> None:
    """Every name ending in `suffix` resolves to this machine (the DNS at the network's edge, as a test sets it up), and
    is reached directly, not through the tests' dead proxy."""
    resolve = socket.getaddrinfo

    def answer(host: Any, *args: Any, **kwargs: Any) -> Any:
        return resolve("127.0.0.1" if str(host).endswith(suffix) else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    monkeypatch.setenv("NO_PROXY", os.environ.get("NO_PROXY", "") + f",{suffix}")
