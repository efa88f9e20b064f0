"""Admin: rq-dashboard at /admin/rq and a small page at /admin, behind HTTP basic auth (off unless both
ADMIN_USERNAME and ADMIN_PASSWORD are set)."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request

from bot import deadletters, handoff, keys
from bot.runtime import Runtime

bp = Blueprint("admin", __name__, template_folder="templates")


def install(app: Flask, rt: Runtime) -> None:
    """Mount the admin pages when credentials are configured; without them /admin does not exist."""
    if not (rt.config.admin_username and rt.config.admin_password):
        return
    import rq_dashboard  # only deployments with an admin pay for its import

    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = [_dashboard_url(rt.config.redis_url)]  # it takes a list of Redis URLs
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/admin/rq")
    app.register_blueprint(bp)
    app.before_request(_guard)


def _dashboard_url(url: str) -> str:
    """REDIS_URL for rq-dashboard, which connects on its own: Heroku's rediss:// needs its self-signed certificate accepted."""
    if url.startswith("rediss://") and "ssl_cert_reqs" not in url:
        return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"
    return url


def _guard() -> Response | None:
    """Basic auth for everything under /admin, compared in constant time."""
    if not request.path.startswith("/admin"):
        return None
    config = current_app.extensions["bot"].config
    given = request.authorization
    user_ok = bool(given) and hmac.compare_digest((given.username or "").encode(), config.admin_username.encode())
    password_ok = bool(given) and hmac.compare_digest((given.password or "").encode(), config.admin_password.encode())
    if user_ok and password_ok:
        return None
    return Response("Admin: sign in with ADMIN_USERNAME and ADMIN_PASSWORD.", 401, {"WWW-Authenticate": 'Basic realm="admin"'})


@bp.get("/admin")
def overview() -> str:
    """Conversations, paused ones, dead letters, and each user's usage today with its estimated cost."""
    rt: Runtime = current_app.extensions["bot"]
    paused = _paused(rt)
    return render_template("admin.html", active=rt.redis.zcard(keys.active()), known=rt.redis.zcard(keys.recent()),
                           recent=_recent(rt, {item["conversation"] for item in paused}), paused=paused,
                           letters=deadletters.newest(rt.redis, 20), usage=_usage(rt), price=rt.config.cost_per_million_tokens)


def _recent(rt: Runtime, paused: set[str], limit: int = 50) -> list[dict[str, Any]]:
    """The conversations whose last turn finished most recently: who, when, and whether a turn or a person has them."""
    newest = [(name.decode(), at) for name, at in rt.redis.zrevrange(keys.recent(), 0, limit - 1, withscores=True)]
    if not newest:
        return []
    names = [name for name, _ in newest]
    contacts = rt.redis.mget([keys.contact(name) for name in names])
    busy = rt.redis.zmscore(keys.active(), names)
    return [_row(name, at, contact, name in paused, score is not None)
            for (name, at), contact, score in zip(newest, contacts, busy)]


def _row(name: str, at: float, contact: bytes | None, paused: bool, busy: bool) -> dict[str, Any]:
    state = "with a person" if paused else "turn queued or running" if busy else ""
    user = json.loads(contact).get("user_name", "") if contact else ""
    return {"conversation": name, "user": user, "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), "state": state}


def _paused(rt: Runtime) -> list[dict[str, Any]]:
    names = [name.decode().split(":", 2)[2] for name in rt.redis.scan_iter(match=keys.paused("*"), count=1000)]
    return [{"conversation": name, **(handoff.status(rt.redis, name) or {})} for name in names]


def _usage(rt: Runtime) -> list[tuple[str, int]]:
    """Tokens per user today, biggest first."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    names = list(rt.redis.scan_iter(match=keys.usage("*", "tokens", today), count=1000))
    values = rt.redis.mget(names) if names else []
    users = [(name.decode().split(":", 2)[2].rsplit(":tokens:", 1)[0], int(value or 0)) for name, value in zip(names, values)]
    return sorted(users, key=lambda pair: -pair[1])[:100]
