"""gunicorn's settings for the Procfile's web process, each chosen on purpose (docs/operations.md: Deploying to Heroku).

gunicorn reads a request's headers without a deadline: a client that trickles them holds one of the 8 threads of a
process for as long as it likes (slowloris; bench/slowloris.py measures it). The defence is a proxy in front that
buffers each request whole before passing it on, as Heroku's router does; these settings bound the rest.
"""

import gc

from gunicorn import glogging

from bot.config import Config
from bot.ops.logs import escape_controls, loggable_path

# A worker whose main loop is silent this long is restarted. With gthread this is a heartbeat, not a request limit.
timeout = 30
# After SIGTERM, requests in flight get this long: within the 30 s Heroku allows before its SIGKILL.
graceful_timeout = 20
# Behind a proxy, idle connections are its own, reused for the next request: Heroku's Router 2.0 keeps them 90 s, and
# closing one sooner races a request it is sending. Facing clients directly, 5 s bounds the idle connections held.
keepalive = 100 if Config.from_env().trusted_proxies else 5
# Requests are small: a webhook's path and query, a few headers. Heroku's router refuses header lines over 8 KB too.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# app.py's ProxyFix alone reads X-Forwarded-* (TRUSTED_PROXIES); Heroku's Python buildpack sets FORWARDED_ALLOW_IPS='*',
# under which gunicorn would believe any client's X-Forwarded-Proto.
forwarded_allow_ips = ""


class AccessLogger(glogging.Logger):
    """gunicorn's logger, whose access lines hold no query string (Meta's hub.verify_token, the chat page's session ids),
    no key of a URL that carries one (Mailchimp's) and no raw control characters."""

    def atoms(self, resp: object, req: object, environ: dict, request_time: object) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = f"{atoms['m']} {loggable_path(environ['RAW_URI'])} {atoms['H']}"
        atoms.update(U=loggable_path(atoms["U"]), f=loggable_path(atoms["f"]), q="")
        return {name: escape_controls(value) if isinstance(value, str) else value for name, value in atoms.items()}


logger_class = AccessLogger


def post_worker_init(worker: object) -> None:
    """Once a web process has built its app. What the imports and the app built lives as long as the process: the
    collector need not walk it again. A full collection over it (the openai SDK's many types among it) stopped every
    request and turn in flight for 80 ms. (The worker command freezes its own: bot/ops/cli.py.)"""
    gc.freeze()
