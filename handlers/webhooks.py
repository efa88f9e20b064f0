"""POST /webhooks/<platform>: verify, parse, accept, answer 200, all before any LLM work."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, g, jsonify, request
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from bot.errors import Rejected
from bot.intake import Accepted
from bot.messages import IncomingMessage
from bot.ops import rejects
from bot.ops.logs import loggable_path
from bot.runtime import Runtime, app_runtime
from handlers.platforms.base import Adapter
from handlers.platforms.registry import ADAPTERS

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5  # what we ask platforms to wait when Redis is down

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/<platform>")
def receive(platform: str) -> Response:
    """Take one webhook delivery from a platform."""
    adapter = _adapter(platform)
    adapter.verify(request)
    g.verified = adapter  # from here on a refusal is the platform's own payload: worth keeping
    handshake = adapter.handshake(request)
    if handshake is not None:
        return handshake
    rt = app_runtime()
    for message in adapter.parse(request):
        if adapter.stale(message):
            _drop(rt, message)
        elif rt.turns.accept(message, adapter.dedupe_ttl) is Accepted.DUPLICATE:
            rt.metrics.count("dedupe_hits", platform=adapter.name)
    return adapter.acknowledge()


def _drop(rt: Runtime, message: IncomingMessage) -> None:
    """Acknowledge an event older than the dedupe horizon (a replay, or a platform's very late retry) without answering it."""
    days = (time.time() - (message.sent_at or 0)) / 86400
    logger.info("event older than the dedupe horizon dropped: %.1f days old", days, extra={"platform": message.platform})
    rt.metrics.count("stale_events", platform=message.platform)


@bp.after_app_request
def count(response: Response) -> Response:
    """Every webhook answer, by platform and status, whether it was accepted or refused."""
    if request.path.startswith("/webhooks/"):
        platform = (request.view_args or {}).get("platform")
        platform = platform if platform in ADAPTERS else "unknown"  # bounded: no label per made-up path
        app_runtime().metrics.count("webhooks", platform=platform, status=str(response.status_code))
    return response


@bp.get("/webhooks/<platform>")
def confirm(platform: str) -> Response:
    """A platform checking the URL before it sends webhooks (Meta's hub.challenge)."""
    handshake = _adapter(platform).handshake(request)
    if handshake is None:
        raise Rejected("this platform sends webhooks with POST", 405)
    return handshake


def _adapter(platform: str) -> Adapter:
    adapter = app_runtime().channels.get(platform)
    if adapter is not None:
        return adapter
    if platform in ADAPTERS:
        missing = ADAPTERS[platform].missing(app_runtime().config)
        raise Rejected(f"platform {platform} is not enabled: set {', '.join(missing)}", 404)
    raise Rejected(f"unknown platform {platform}", 404)


@bp.app_errorhandler(Rejected)
def rejected(error: Rejected) -> tuple[Response, int]:
    """A request we refuse: its status and one sentence saying why; a verified one of bad shape is kept."""
    logger.info("request rejected: %s", error, extra={"status": error.status, "path": loggable_path(request.path)})
    if error.status == 400 and g.get("verified"):
        _keep(g.verified, str(error))
    return jsonify(error=str(error)), error.status


def _keep(adapter: Adapter, reason: str) -> None:
    try:
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict() or request.get_data(as_text=True)
    except Rejected:  # JSON too deep or not valid Unicode: kept as text
        body = request.get_data(as_text=True)
    try:
        rejects.keep(app_runtime().redis, adapter.name, reason, body, adapter.signed)
    except RedisError:
        logger.warning("could not keep the refused payload: Redis unavailable")


@bp.app_errorhandler(RedisError)
def storage_down(error: RedisError) -> tuple[Response, int, dict]:
    """Nothing was stored: 503 makes the platform deliver again later."""
    logger.error("Redis unavailable (%s): check REDIS_URL and that Redis is running", type(error).__name__)
    body = jsonify(error="storage unavailable, retry later")
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Response, int]:
    """Flask's own errors (404, 405, 413 for a body over MAX_BODY_BYTES) as JSON, like ours."""
    return jsonify(error=error.description), error.code or 500
