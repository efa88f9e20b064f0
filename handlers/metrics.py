"""GET /metrics for Prometheus: the counters every process adds to Redis, and gauges of the queue read now.

With METRICS_TOKEN set, a scrape needs `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from rq import Worker

from bot import keys
from bot.ops.metrics import Collector
from bot.runtime import Runtime, app_runtime
from handlers.platforms import signatures

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """The Prometheus text format; Redis down answers 503, as every other endpoint does."""
    rt = app_runtime()
    if rt.config.metrics_token:
        signatures.require_bearer(request, rt.config.metrics_token)
    rt.metrics.flush()  # this process's latest counts too
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(rt.redis, lambda: gauges(rt)))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def gauges(rt: Runtime) -> dict[str, tuple[str, float]]:
    """What is true right now, rather than counted: queues, workers, conversations."""
    redis = rt.redis
    return {
        "queue_depth": ("Turns waiting in the queue for a worker.", rt.turns.queue.count),
        "queue_oldest_seconds": ("How long the oldest queued turn has waited.", rt.turns.oldest_age()),
        "events_queue_depth": ("Outbound events waiting to be sent.", rt.turns.events.count),
        "workers": ("Workers registered (a dead one drops out within minutes).", Worker.count(connection=redis)),
        "active_conversations": ("Conversations with a turn queued or running.", redis.zcard(keys.active())),
        "dead_letters_stored": ("Dead letters kept for replay.", redis.zcard(keys.dead_letters())),
    }
