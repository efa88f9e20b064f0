"""The composition root: builds the Flask app (web) and the runtime the worker uses."""

from __future__ import annotations

import logging
import os
from typing import Mapping

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from bot import checks, llm, storage
from bot.config import OFFLINE_MODEL_HINT, Config
from bot.intake import TurnQueue
from bot.runtime import Runtime
from handlers import registry, telegram, webchat, webhooks

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding it (tests pass their settings here)."""
    settings = Config.from_env({**os.environ, **(config or {})})
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    redis = storage.connect(settings.redis_url)
    channels = registry.enabled(settings, redis)
    app.extensions["bot"] = Runtime(settings, redis, llm.build(settings), channels, TurnQueue(redis, settings))
    for blueprint in (webhooks.bp, webchat.bp):
        app.register_blueprint(blueprint)
    app.cli.add_command(worker)
    app.cli.add_command(check)
    app.cli.add_command(telegram.cli)
    _announce(app.extensions["bot"])
    return app


def _announce(rt: Runtime) -> None:
    logger.info("platforms enabled: %s", ", ".join(rt.channels) or "none: set a platform's credentials")
    if rt.config.offline:
        logger.warning(OFFLINE_MODEL_HINT)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker that answers conversations."""
    from bot.worker import work  # the web process never needs RQ's worker machinery

    work(current_app.extensions["bot"], burst=burst)


@click.command("check")
@with_appcontext
def check() -> None:
    """Check configuration, prompts and Redis: the Procfile's release step."""
    rt = current_app.extensions["bot"]
    click.echo(checks.summary(rt))
    found = checks.problems(rt)
    for problem in found:
        click.echo(f"problem: {problem}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ok")


app = create_app()
