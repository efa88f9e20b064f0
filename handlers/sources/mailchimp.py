"""Mailchimp: it signs nothing, so a secret in the URL, /events/mailchimp/<MAILCHIMP_WEBHOOK_KEY> (contracts-next.md 7.6)."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable

from flask import Request, Response, jsonify

from bot.errors import Rejected
from bot.outbound.business.records import BusinessEvent
from handlers.bodies import MAX_DEPTH
from handlers.platforms import signatures
from handlers.sources.base import Source

FIELD = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")  # data[merges][FNAME]
PART = re.compile(r"\[([^\[\]]*)\]")


class Mailchimp(Source):
    """An audience's webhook, its URL carrying the key."""

    name = "mailchimp"
    required = ("MAILCHIMP_WEBHOOK_KEY",)
    keyed = True

    def verify(self, request: Request, key: str | None) -> None:
        """The URL's key, in constant time."""
        signatures.require("key in the URL (/events/mailchimp/<key>)", key, self.secret)

    def handshake(self, request: Request) -> Response | None:
        """The GET Mailchimp sends when the webhook is saved."""
        return jsonify(ok=True) if request.method == "GET" else None

    def parse(self, request: Request) -> list[BusinessEvent]:
        """One event from the form, its fields nested (data[merges][FNAME] as data.merges.FNAME); no delivery id is sent,
        so a hash of the body is the dedupe key (read first: once the form is parsed, the body reads as empty)."""
        event_id = hashlib.sha256(request.get_data()).hexdigest()[:32]
        payload = unflatten(request.form.items(multi=True))
        return [self.event(event_id, payload.get("type"), payload)]


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Bracketed form names as nested values; Rejected for a name that is not one, nests past a JSON body's MAX_DEPTH,
    or is both a value and a group."""
    tree: dict[str, Any] = {}
    for name, value in pairs:
        match = FIELD.fullmatch(name)
        if match is None:
            raise Rejected(f"unexpected form field {name[:64]!r}")
        *groups, last = [match[1], *PART.findall(match[2])]
        if len(groups) > MAX_DEPTH:
            raise Rejected(f"form field {name[:64]!r} nests deeper than {MAX_DEPTH} levels")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
            if not isinstance(node, dict):
                raise Rejected(f"form field {name[:64]!r} is both a value and a group")
        if isinstance(node.get(last), dict):
            raise Rejected(f"form field {name[:64]!r} is both a value and a group")
        node[last] = value
    return tree
