"""The composition root: `create_app` builds the Flask app (web) and the runtime the worker uses; importing this module
builds nothing (gunicorn serves "app:create_app()", and `flask --app app` finds the factory)."""

from __future__ import annotations

import logging
import os
from typing import Mapping

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import llm, runtime, storage
from bot.config import OFFLINE_MODEL_HINT, Config
from bot.intake import TurnQueue
from bot.ops import cli, logs
from bot.ops.metrics import Metrics
from bot.prompts import Prompts
from bot.runtime import Runtime
from bot.tools.catalog import Tools
from handlers import admin, api, bodies, headers, health, metrics, webhooks
from handlers.addresses import allow_sources
from handlers.business import install as install_business_events
from handlers.cli import samples
from handlers.cli import telegram as telegram_cli
from handlers.cli import webhook as webhook_cli
from handlers.platforms import registry, webchat
from handlers.platforms.allowlist import Allowlist
from handlers.platforms.http import PlatformAPI

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding it (tests pass their settings here)."""
    settings = Config.from_env({**os.environ, **(config or {})})
    logs.configure(settings.log_level, settings.log_format, logs.secrets_in(settings.env))
    app = Flask(__name__)
    # The one definition of the client's address and the public URL (request.remote_addr, request.url): the forwarded
    # headers of TRUSTED_PROXIES hops only. Never X-Forwarded-Host: Heroku's router passes a client's own on untouched,
    # and routes by the Host header, which proxies pass on.
    hops = settings.trusted_proxies
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_port=hops)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    allow_sources(app, settings)  # <NAME>_ALLOWED_IPS: first, before any body is read
    bodies.install(app)  # strict JSON, and the body limit however a body is framed
    # A worker's slots each hold a connection while they wait for a job, and their turns' lease renewals another.
    redis = storage.connect(settings.redis_url, max_connections=max(100, 2 * settings.worker_concurrency + 20))
    channels = registry.enabled(settings, redis)
    prompts = Prompts(settings.prompts_dir, settings.prompt, redis)
    measures = Metrics(redis)
    rt = Runtime(settings, redis, llm.build(settings, measures), channels, TurnQueue(redis, settings), prompts, measures,
                 _tools(settings, redis))
    app.extensions[runtime.APP_KEY] = rt
    for blueprint in (webhooks.bp, webchat.bp, api.bp, health.bp, metrics.bp):
        app.register_blueprint(blueprint)
    install_business_events(app, settings)
    admin.install(app, rt)
    headers.install(app)
    for command in (*cli.COMMANDS, webhook_cli.cli, telegram_cli.cli, samples.send_sample, webchat.chat):
        app.cli.add_command(command)
    _announce(rt)
    return app


def _tools(settings: Config, redis: Redis) -> Tools:
    """The tools, held to TOOLS_ALLOWLIST when their URLs are read and again when each connection is made."""
    guard = Allowlist(settings.tools_allowlist, setting="TOOLS_ALLOWLIST", what="tool")
    http = PlatformAPI("tool", settings.tools_timeout, settings.worker_concurrency, guard.peer_refusal)
    return Tools(settings, redis, guard, http, guard.peer_refusal)


def _announce(rt: Runtime) -> None:
    logger.info("platforms enabled: %s", ", ".join(rt.channels) or "none: set a platform's credentials")
    if rt.config.offline:
        logger.warning(OFFLINE_MODEL_HINT)

