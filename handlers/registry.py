"""Every platform the bot speaks: adding one is a module in handlers/ and a line here."""

from __future__ import annotations

from redis import Redis

from bot.config import Config
from handlers.base import Adapter
from handlers.telegram import Telegram
from handlers.webchat import Webchat

ADAPTERS: dict[str, type[Adapter]] = {
    Telegram.name: Telegram,
    Webchat.name: Webchat,
}


def enabled(config: Config, redis: Redis) -> dict[str, Adapter]:
    """An adapter for each platform whose settings are all present."""
    return {name: cls(config, redis) for name, cls in ADAPTERS.items() if not cls.missing(config)}
