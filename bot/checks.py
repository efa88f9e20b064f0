"""Pre-flight checks for a release: what would stop the bot from answering, and how to fix it."""

from __future__ import annotations

from redis.exceptions import RedisError

from bot.runtime import Runtime


def problems(rt: Runtime) -> list[str]:
    """Everything wrong with this deployment, one actionable sentence each."""
    found = [f"Prompt: {problem}" for problem in rt.prompts.problems(rt.config.timezone)]
    try:
        rt.redis.ping()
    except RedisError as error:
        found.append(f"Redis is unreachable ({type(error).__name__}): check REDIS_URL.")
    if rt.config.events_urls and not rt.config.events_secret:
        found.append("EVENTS_URLS is set but EVENTS_SECRET is not: set it to whsec_ and base64 of 32 random bytes.")
    if not rt.channels:
        found.append("No platform is enabled: set one platform's variables (README, Platform setup), or WEBCHAT_ENABLED=1.")
    return found


def summary(rt: Runtime) -> str:
    """What this deployment will do, in one line."""
    model = "offline stand-in model" if rt.config.offline else f"model {rt.config.openai_model}"
    return f"platforms: {', '.join(rt.channels) or 'none'}; {model}; queue {rt.config.queue_name}"
