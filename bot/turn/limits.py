"""Per-user limits on messages and LLM tokens, so one abusive user cannot run up the bill."""

from __future__ import annotations

import time

from redis import Redis

from bot import keys, times
from bot.config import Config
from bot.messages import IncomingMessage

RATE_WINDOW = 60  # seconds: USER_RATE_LIMIT counts messages per minute
DAY = 86400


class Limits:
    """Counts each user's messages and tokens in Redis, shared by every worker."""

    def __init__(self, redis: Redis, config: Config) -> None:
        self.redis = redis
        self.config = config

    def exceeded(self, messages: list[IncomingMessage]) -> str | None:
        """The limit this turn's user is over ("rate" or "budget"), counting these messages; None if within."""
        user, rate, budget = _user(messages[-1]), self.config.user_rate_limit, self.config.user_daily_tokens
        window = keys.usage(user, "messages", str(int(time.time() // RATE_WINDOW)))
        pipe = self.redis.pipeline()
        if rate:
            pipe.incrby(window, len(messages)).expire(window, RATE_WINDOW * 2)
        if budget:
            pipe.get(self._tokens(user))
        counts = pipe.execute() if rate or budget else []
        if rate and counts[0] > rate:
            return "rate"
        if budget and int(counts[-1] or 0) >= budget:
            return "budget"
        return None

    def first_notice(self, message: IncomingMessage, limit: str) -> bool:
        """True once per window and limit: the user hears about a limit once, not for every message."""
        window = RATE_WINDOW if limit == "rate" else DAY
        slot = str(int(time.time() // window))
        return bool(self.redis.set(keys.usage(_user(message), f"noticed-{limit}", slot), 1, nx=True, ex=window * 2))

    def spend(self, message: IncomingMessage, tokens: int) -> None:
        """Count the tokens a turn used against its user's daily budget (if there is one)."""
        if not self.config.user_daily_tokens:
            return
        key = self._tokens(_user(message))
        self.redis.pipeline().incrby(key, tokens).expire(key, DAY * 2).execute()

    @staticmethod
    def _tokens(user: str) -> str:
        return keys.usage(user, "tokens", times.day())


def _user(message: IncomingMessage) -> str:
    return f"{message.platform}:{message.user_id}"
