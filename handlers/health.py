"""Health checks, cheap enough to poll every few seconds: /healthz (alive) and /readyz (able to answer)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify
from redis.exceptions import RedisError
from rq import Worker

bp = Blueprint("health", __name__)

STUCK_SECONDS = 300  # a turn waiting this long in the queue means the workers are missing or overwhelmed


@bp.get("/healthz")
def alive() -> Any:
    """The web process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def ready() -> Any:
    """Redis reachable, at least one worker registered, and the queue's oldest turn not stuck."""
    rt = current_app.extensions["bot"]
    try:
        problems = _problems(rt.redis, rt.turns.queue)
    except RedisError as error:
        problems = [f"Redis unreachable ({type(error).__name__}): check REDIS_URL"]
    return jsonify(status="ok" if not problems else "unavailable", problems=problems), 503 if problems else 200


def _problems(redis, queue) -> list[str]:
    found = []
    if Worker.count(connection=redis) == 0:  # a worker's registration lapses minutes after it dies
        found.append("no worker is running: start one (Procfile `worker`)")
    age = _oldest_age(queue)
    if age > STUCK_SECONDS:
        found.append(f"the oldest queued turn has waited {int(age)} s: add workers or check their logs")
    return found


def _oldest_age(queue) -> float:
    """Seconds the oldest queued turn has waited (0 with an empty queue)."""
    oldest = queue.connection.lindex(queue.key, 0)
    if oldest is None:
        return 0.0
    enqueued = queue.connection.hget(f"rq:job:{oldest.decode()}", "enqueued_at")
    if not enqueued:
        return 0.0
    return time.time() - datetime.fromisoformat(enqueued.decode().replace("Z", "+00:00")).timestamp()
