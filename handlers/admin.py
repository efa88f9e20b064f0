"""Admin: the operator console at /admin and rq-dashboard at /admin/rq, behind HTTP basic auth (off unless both
ADMIN_USERNAME and ADMIN_PASSWORD are set, and the password is strong enough to face the internet).

Every action of the console is a POST carrying a CSRF token, from this origin as far as the browser says.
"""

from __future__ import annotations

import hmac
import logging
import uuid

from flask import Flask, Response, request
from itsdangerous import BadData, URLSafeTimedSerializer

from bot import keys
from bot.config import Config
from bot.ops import checks
from bot.runtime import Runtime, app_runtime
from handlers import console, console_actions, headers

logger = logging.getLogger(__name__)

LOGIN_FAILURES = 10  # wrong credentials one client address may send in a minute; then it waits out the minute
CSRF_SECONDS = 12 * 3600  # a console page's forms work this long after it was served
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
    app.register_blueprint(console.bp)
    app.register_blueprint(console_actions.bp)
    app.jinja_env.globals.update(csrf_token=csrf_token, form_id=lambda: uuid.uuid4().hex)  # form_id: one per form shown
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
    acting = request.blueprint != "rq_dashboard" and request.method not in ("GET", "HEAD")
    if acting and not (headers.same_origin() and _csrf_ok(rt.config)):
        return Response("Admin: this form is stale or was sent from another site: reload the page and try again.", 403)
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
    return request.headers.get("X-Requested-With") == "XMLHttpRequest" and headers.same_origin()


def _signer(config: Config) -> URLSafeTimedSerializer:
    """Signs the console's CSRF tokens with the admin's credentials: a new password voids every token."""
    return URLSafeTimedSerializer(f"{config.admin_username}:{config.admin_password}", salt="console-csrf")


def csrf_token() -> str:
    """A token for a console form: `<input type="hidden" name="csrf" value="{{ csrf_token() }}">`."""
    return _signer(app_runtime().config).dumps("console")


def _csrf_ok(config: Config) -> bool:
    try:
        return _signer(config).loads(request.form.get("csrf", ""), max_age=CSRF_SECONDS) == "console"
    except BadData:
        return False
