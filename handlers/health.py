"""Health checks, cheap enough to poll every few seconds: /healthz (alive) and /readyz (able to answer)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker

from bot.intake import TurnQueue
from bot.runtime import app_runtime

bp = Blueprint("health", __name__)

STUCK_SECONDS = 300  # a turn waiting this long in the queue means the workers are missing or overwhelmed


@bp.get("/healthz")
def alive() -> Any:
    """The web process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def ready() -> Any:
    """Redis reachable, at least one worker registered, and the queue's oldest turn not stuck."""
    rt = app_runtime()
    try:
        problems = _problems(rt.turns)
    except RedisError as error:
        problems = [f"Redis unreachable ({type(error).__name__}): check REDIS_URL"]
    return jsonify(status="ok" if not problems else "unavailable", problems=problems), 503 if problems else 200


def _problems(turns: TurnQueue) -> list[str]:
    found = []
    if Worker.count(connection=turns.redis) == 0:  # a worker's registration lapses minutes after it dies
        found.append("no worker is running: start one (Procfile `worker`)")
    age = turns.oldest_age()
    if age > STUCK_SECONDS:
        found.append(f"the oldest queued turn has waited {int(age)} s: add workers or check their logs")
    return found
