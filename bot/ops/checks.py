"""Pre-flight checks for a release: what would stop the bot from answering, and how to fix it."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from redis import Redis
from redis.exceptions import RedisError

from bot import keys, llm
from bot.config import Config
from bot.errors import BotError
from bot.outbound import triggers
from bot.outbound.business import rules
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

ADMIN_PASSWORD_LENGTH = 16  # with 10 guesses a minute allowed per address, long enough for /admin on the internet


def problems(rt: Runtime, warn: Callable[[str], None] = logger.warning) -> list[str]:
    """Everything wrong with this deployment, one actionable sentence each; what could not be checked goes to `warn`."""
    found = [f"Prompt: {problem}" for problem in rt.prompts.problems(rt.config.timezone)]
    found += _model_problems(rt.config, warn)
    try:
        rt.redis.ping()
    except RedisError as error:
        found.append(f"Redis is unreachable ({type(error).__name__}): check REDIS_URL.")
    if rt.config.events_urls and not rt.config.events_secret:
        found.append("EVENTS_URLS is set but EVENTS_SECRET is not: set it to whsec_ and base64 of 32 random bytes.")
    if weak := weak_admin_password(rt.config):
        found.append(weak)
    if not rt.channels:
        found.append("No platform is enabled: set one platform's variables (docs/platforms.md), or WEBCHAT_ENABLED=1.")
    return found


def prompts_check(rt: Runtime) -> dict[str, Any]:
    """`flask prompts check`: every prompt, trigger and tool file's problems and warnings, kept for the console to show."""
    tool_problems, warnings = rt.tools.problems()
    problems = rt.prompts.problems(rt.config.timezone) + _trigger_problems(rt) + tool_problems + _rule_problems(rt)
    result = {"at": time.time(), "problems": problems, "warnings": warnings}
    try:
        rt.redis.set(keys.prompts_check(), json.dumps(result))
    except RedisError:
        logger.warning("the prompts check's result is not kept for the console: Redis is unreachable")
    return result


def last_prompts_check(redis: Redis) -> dict[str, Any] | None:
    """The newest prompts check's result, from a release or the console; None before the first."""
    raw = redis.get(keys.prompts_check())
    return json.loads(raw) if raw else None


def _trigger_problems(rt: Runtime) -> list[str]:
    """What is wrong with the triggers file, and with the prompts its triggers name."""
    try:
        named = [trigger.prompt for trigger in triggers.load(Path(rt.config.triggers_file)) if trigger.prompt]
    except ValueError as error:
        return [str(error)]
    return [f"{rt.config.triggers_file}: prompt {name} does not exist" for name in named
            if not (Path(rt.config.prompts_dir) / name).is_file()]


def _rule_problems(rt: Runtime) -> list[str]:
    """What is wrong with the business events' rules file (EVENT_RULES_FILE), and with the prompts its rules name."""
    return rules.problems(rules.rules_file(rt.config), Path(rt.config.prompts_dir))


def weak_admin_password(config: Config) -> str:
    """Why ADMIN_PASSWORD is too weak to guard /admin, which then stays off; "" when it is strong enough (or unset)."""
    password = config.admin_password
    if not (config.admin_username and password) or (len(password) >= ADMIN_PASSWORD_LENGTH and len(set(password)) >= 8):
        return ""
    return (f"ADMIN_PASSWORD is too weak, so /admin stays off: set one of at least {ADMIN_PASSWORD_LENGTH} characters, "
            "8 of them different: `python -c \"import secrets; print(secrets.token_urlsafe(24))\"` makes one.")


def _model_problems(config: Config, warn: Callable[[str], None]) -> list[str]:
    """OPENAI_MODEL against the models the server offers; offline, there is no server to ask."""
    if config.offline:
        return []
    try:
        offered = llm.model_ids(config)
    except BotError as error:
        warn(f"OPENAI_MODEL not checked: listing the LLM server's models failed ({error}); "
             "check OPENAI_BASE_URL and OPENAI_API_KEY.")
        return []
    if not offered:
        warn("OPENAI_MODEL not checked: the LLM server lists no models.")
        return []
    if config.openai_model in offered:
        return []
    listed = ", ".join(sorted(offered)) if len(offered) <= 10 else f"{len(offered)} others"
    return [f"OPENAI_MODEL {config.openai_model} is not offered by the LLM server (it lists {listed}): set OPENAI_MODEL "
            "to one it offers, or check OPENAI_BASE_URL."]


def summary(rt: Runtime) -> str:
    """What this deployment will do, in one line."""
    model = "offline stand-in model" if rt.config.offline else f"model {rt.config.openai_model}"
    return f"platforms: {', '.join(rt.channels) or 'none'}; {model}; queue {rt.config.queue_name}"
