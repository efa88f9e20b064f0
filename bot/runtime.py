"""What a worker needs to run turns: built once per process by the composition root (app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from flask import current_app
from redis import Redis

from bot.config import Config
from bot.intake import TurnQueue
from bot.llm import Retrying
from bot.messages import Channel
from bot.ops.metrics import Metrics
from bot.prompts import Prompts
from bot.tools.catalog import Tools


@dataclass(frozen=True)
class Runtime:
    """The worker's dependencies."""

    config: Config
    redis: Redis
    llm: Retrying
    channels: Mapping[str, Channel]
    turns: TurnQueue
    prompts: Prompts
    metrics: Metrics
    tools: Tools


APP_KEY = "bot"  # where create_app keeps the app's runtime: app.extensions[APP_KEY]
_current: Runtime | None = None  # RQ calls job functions by name, so they find their dependencies here


def install(runtime: Runtime) -> None:
    """Make `runtime` the one that turn jobs of this process use."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The installed runtime; the worker command installs it before taking any job."""
    if _current is None:
        raise RuntimeError("no runtime installed: start workers with `flask --app app worker`")
    return _current


def app_runtime() -> Runtime:
    """The runtime of the Flask app serving this request or running this command: what create_app built for it."""
    return current_app.extensions[APP_KEY]
