"""Admin: rq-dashboard at /admin/rq and a small page at /admin, behind HTTP basic auth (off unless both
ADMIN_USERNAME and ADMIN_PASSWORD are set, and the password is strong enough to face the internet)."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, render_template, request

from bot import keys, times
from bot.config import Config
from bot.ops import checks, deadletters
from bot.runtime import Runtime, app_runtime
from bot.turn import handoff

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, template_folder="templates")

LOGIN_FAILURES = 10  # wrong credentials one client address may send in a minute; then it waits out the minute
# rq-dashboard's pages, which a link or a bookmark may open. Everything else under /admin/rq is called by their
# scripts: the data they show, and the actions (empty, compact, requeue, requeue all, which also answers a GET, delete).
DASHBOARD_PAGES = {f"rq_dashboard.{name}" for name in
                   ("queues_overview", "workers_overview", "jobs_overview", "job_view", "static", "favicon")}


def install(app: Flask, rt: Runtime) -> None:
    """Mount the admin pages when credentials are configured; without them, or with a weak password, /admin does not exist."""
    if not (rt.config.admin_username and rt.config.admin_password):
        return
    if weak := checks.weak_admin_password(rt.config):
        logger.error(weak)
        return
    import rq_dashboard  # only deployments with an admin pay for its import
    from rq_dashboard.web import setup_rq_connection

    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = [_dashboard_url(rt.config.redis_url)]  # it takes a list of Redis URLs
    setup_rq_connection(app)  # left to the first page it serves, its static files and actions failed until then
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/admin/rq")
    app.register_blueprint(bp)
    app.before_request(_guard)


def _dashboard_url(url: str) -> str:
    """REDIS_URL for rq-dashboard, which connects on its own: Heroku's rediss:// needs its self-signed certificate accepted."""
    if url.startswith("rediss://") and "ssl_cert_reqs" not in url:
        return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"
    return url


def _guard() -> Response | None:
    """Everything under /admin: basic auth, with wrong guesses throttled per client; the dashboard's calls from itself only."""
    if not request.path.startswith("/admin"):
        return None
    rt = app_runtime()
    failures = keys.login_failures(request.remote_addr or "?")
    if int(rt.redis.get(failures) or 0) >= LOGIN_FAILURES:
        return Response("Admin: too many wrong credentials from this address: try again in a minute.", 429, {"Retry-After": "60"})
    if not _signed_in(rt.config):
        if request.authorization:  # a browser's first request carries none: only guesses count
            rt.redis.pipeline().set(failures, 0, ex=60, nx=True).incr(failures).execute()
        return Response("Admin: sign in with ADMIN_USERNAME and ADMIN_PASSWORD.", 401,
                        {"WWW-Authenticate": 'Basic realm="admin"'})
    if request.blueprint == "rq_dashboard" and request.endpoint not in DASHBOARD_PAGES and not _from_dashboard():
        return Response("Admin: the dashboard's actions work from its own pages only.", 403)
    return None


def _signed_in(config: Config) -> bool:
    """The request carries the admin's credentials, compared in constant time."""
    given = request.authorization
    user_ok = bool(given) and hmac.compare_digest((given.username or "").encode(), config.admin_username.encode())
    password_ok = bool(given) and hmac.compare_digest((given.password or "").encode(), config.admin_password.encode())
    return user_ok and password_ok


def _from_dashboard() -> bool:
    """A call the dashboard's own scripts made: jQuery's X-Requested-With, from this origin as far as the browser says.

    Browsers resend basic-auth credentials with cross-site requests; a foreign page cannot add X-Requested-With
    without a CORS preflight, which this app never grants, nor make its browser say it is this origin.
    """
    site, origin = request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin")
    return (request.headers.get("X-Requested-With") == "XMLHttpRequest" and site in (None, "same-origin")
            and (origin is None or urlsplit(origin).netloc == request.host))


@bp.get("/admin")
def overview() -> str:
    """Conversations, paused ones, dead letters, the newest tool calls, and each user's usage today with its estimated cost."""
    rt = app_runtime()
    paused = _paused(rt)
    calls = [json.loads(raw) for raw in rt.redis.lrange(keys.tool_calls(), 0, 49)]
    return render_template("admin.html", active=rt.redis.zcard(keys.active()), known=rt.redis.zcard(keys.recent()),
                           recent=_recent(rt, {item["conversation"] for item in paused}), paused=paused, calls=calls,
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
    return {"conversation": name, "user": user, "at": times.stamp(at), "state": state}


def _paused(rt: Runtime) -> list[dict[str, Any]]:
    names = [name.decode().removeprefix(keys.paused("")) for name in rt.redis.scan_iter(match=keys.paused("*"), count=1000)]
    return [{"conversation": name, **(handoff.status(rt.redis, name) or {})} for name in names]


def _usage(rt: Runtime) -> list[tuple[str, int]]:
    """Tokens per user today, biggest first."""
    today = times.day()
    names = list(rt.redis.scan_iter(match=keys.usage("*", "tokens", today), count=1000))
    values = rt.redis.mget(names) if names else []
    users = [(name.decode().split(":", 2)[2].rsplit(":tokens:", 1)[0], int(value or 0)) for name, value in zip(names, values)]
    return sorted(users, key=lambda pair: -pair[1])[:100]
