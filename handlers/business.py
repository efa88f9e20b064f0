"""POST /events/<source>: a business system's event verified, kept and queued before the 2xx, as webhooks are.

Refusals, a body of unexpected shape kept for inspection, and 503 while Redis is down come from the webhooks
blueprint's error handlers, which serve the whole app.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from bot.config import Config
from bot.errors import Rejected
from bot.outbound.business import records
from bot.runtime import app_runtime
from handlers.sources import registry
from handlers.sources.base import Source

bp = Blueprint("business", __name__)


def install(app: Flask, config: Config) -> None:
    """Serve /events/<source> for every source whose secret is set."""
    app.extensions["sources"] = registry.enabled(config)
    app.register_blueprint(bp)


@bp.post("/events/<source>")
@bp.route("/events/<source>/<key>", methods=["GET", "POST"])
def receive(source: str, key: str | None = None) -> Response:
    """Take one delivery: verified, then each of its events kept once and queued for a worker."""
    found = _source(source)
    if key is not None and not found.keyed:
        raise Rejected(f"event source {source} takes its events at /events/{source}", 404)
    found.verify(request, key)
    g.verified = found  # from here on a refusal is the source's own payload: worth keeping
    handshake = found.handshake(request)
    if handshake is not None:
        return handshake
    rt = app_runtime()
    for event in found.parse(request):
        if not records.accept(rt.turns, event, found.dedupe_ttl, records.retention(rt.config)):
            rt.metrics.count("business_events", source=found.name, outcome="duplicate")
    return jsonify(ok=True)


@bp.after_request
def count(response: Response) -> Response:
    """Every answer to a source, by source and status, as the webhooks counter counts the platforms'."""
    source = (request.view_args or {}).get("source")
    source = source if source in registry.SOURCES else "unknown"  # bounded: no label per made-up path
    app_runtime().metrics.count("webhooks", platform=source, status=str(response.status_code))
    return response


def _source(name: str) -> Source:
    found = current_app.extensions["sources"].get(name)
    if found is not None:
        return found
    if name in registry.SOURCES:
        missing = registry.SOURCES[name].missing(app_runtime().config)
        raise Rejected(f"event source {name} is not enabled: set {', '.join(missing)}", 404)
    raise Rejected(f"unknown event source {name}", 404)
