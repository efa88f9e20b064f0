"""Security headers on every response: a Content Security Policy, no framing, no MIME sniffing, no referrer.

Every response gets them, HTML or not: they cost a few bytes where they do not apply, and no page (error pages
included) can be missed.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

# The bot's own pages run only the inline scripts and styles that carry the response's nonce (see `nonce`).
OWN = ("default-src 'none'; script-src {sources}; style-src {sources}; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# rq-dashboard's templates run inline scripts with no nonce, and underscore's templates compile with eval: this is as
# strict as it works with. What keeps script out of its pages is that no caller's text reaches them (jobs carry ids).
DASHBOARD = ("default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
             "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The console's pages run only its own script and style files (served by the app, the charting library's among them).
CONSOLE = OWN.format(sources="'self'")
EVERYWHERE = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def install(app: Flask) -> None:
    """Add the headers to every response, and `csp_nonce()` to templates."""
    app.jinja_env.globals["csp_nonce"] = nonce
    app.after_request(secure)


def nonce() -> str:
    """This response's nonce, for a template's inline <script> and <style>: `<script nonce="{{ csp_nonce() }}">`."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def secure(response: Response) -> Response:
    """The response with the security headers its page allows."""
    if request.blueprint == "rq_dashboard":
        policy = DASHBOARD
    elif request.blueprint == "console":
        policy = CONSOLE
    else:
        policy = OWN.format(sources=f"'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "'none'")
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in EVERYWHERE.items():
        response.headers.setdefault(name, value)
    return response


def same_origin() -> bool:
    """The request came from this app's own pages, as far as the browser says (a client that is no browser says nothing):
    Sec-Fetch-Site where it sends one, which no page can set, else Origin.

    Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` even with a form of this origin's own pages, so
    Origin alone cannot tell them apart; a foreign page's request says cross-site, and it cannot make its browser say
    otherwise.
    """
    site, origin = request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin")
    if site is not None:
        return site == "same-origin"
    return origin in (None, "null") or urlsplit(origin).netloc == request.host
