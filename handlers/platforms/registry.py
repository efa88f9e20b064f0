"""Every platform the bot speaks: adding one is a module in handlers/platforms/ (its adapter, which builds its own sample
event too) and a line here."""

from __future__ import annotations

from redis import Redis

from bot.config import Config
from handlers.platforms import generic, line, messenger, slack, telegram, twilio, webchat, whatsapp
from handlers.platforms.base import Adapter

ADAPTERS: dict[str, type[Adapter]] = {adapter.name: adapter for adapter in (
    telegram.Telegram,
    slack.Slack,
    whatsapp.WhatsApp,
    messenger.Messenger,
    twilio.Twilio,
    line.Line,
    generic.Generic,
    webchat.Webchat,
)}


def enabled(config: Config, redis: Redis) -> dict[str, Adapter]:
    """An adapter for each platform whose settings are all present."""
    return {name: cls(config, redis) for name, cls in ADAPTERS.items() if not cls.missing(config)}
