"""GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (contracts-next.md 7.3)."""

from __future__ import annotations

from flask import Request, Response, jsonify

from bot.outbound.business.records import BusinessEvent
from handlers.platforms import signatures
from handlers.sources.base import Source, json_body

HEADER = "X-Hub-Signature-256"


class GitHub(Source):
    """A repository's, organisation's or app's webhook, with its secret."""

    name = "github"
    required = ("GITHUB_WEBHOOK_SECRET",)

    def verify(self, request: Request, key: str | None) -> None:
        """sha256= and the hex HMAC of the raw body, in constant time."""
        expected = "sha256=" + signatures.digest(self.secret.encode(), request.get_data()).hex()
        signatures.require(HEADER, request.headers.get(HEADER), expected)

    def handshake(self, request: Request) -> Response | None:
        """The ping GitHub sends when a webhook is made: answered, not kept."""
        if request.headers.get("X-GitHub-Event") != "ping":
            return None
        return jsonify(ok=True, pong=request.headers.get("X-GitHub-Delivery", ""))

    def parse(self, request: Request) -> list[BusinessEvent]:
        """One event, named by X-GitHub-Event; X-GitHub-Delivery is the same for its redeliveries."""
        body = json_body(request)
        return [self.event(request.headers.get("X-GitHub-Delivery"), request.headers.get("X-GitHub-Event"), body)]
