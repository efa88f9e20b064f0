"""What every business-event source provides: its secret's name, a check of its signature, and a parse."""

from __future__ import annotations

from typing import Any

from flask import Request, Response, current_app
from marshmallow import Schema

from bot.config import Config
from bot.errors import Rejected
from bot.outbound.business.records import BusinessEvent
from handlers.platforms.base import ID, Payload, validate_payload

ANY_OBJECT = Payload()  # the payload of a source whose events each have their own shape: any JSON object


class Source:
    """One system that reports business events; enabled when every variable of `required` is set."""

    name: str  # also the URL: /events/<name>
    required: tuple[str, ...] = ()
    dedupe_ttl: int = 4 * 86400  # seconds a delivery id is remembered: past the longest retry schedule (3 days)
    signed: bool = True  # False: the web side cannot tell a forgery (PayPal is verified in the worker)
    keyed: bool = False  # True: the URL carries a key, /events/<name>/<key> (Mailchimp)

    def __init__(self, config: Config) -> None:
        self.config = config
        self.secret = config.setting(self.required[0])  # what the signature is checked with (PayPal: PayPal checks it)

    @classmethod
    def missing(cls, config: Config) -> list[str]:
        """The variables still to set before this source is enabled."""
        return [name for name in cls.required if not config.setting(name)]

    def verify(self, request: Request, key: str | None) -> None:
        """Authenticate the request from its raw bytes (`key`: the URL's last segment, if any); raise Rejected if not."""
        raise NotImplementedError

    def handshake(self, request: Request) -> Response | None:
        """Answer a check of the URL (GitHub's ping, Mailchimp's GET) instead of taking an event."""
        return None

    def parse(self, request: Request) -> list[BusinessEvent]:
        """The events in the request; raise Rejected (400) for a shape this source never sends."""
        raise NotImplementedError

    def event(self, event_id: Any, kind: Any, payload: dict[str, Any], **extra: Any) -> BusinessEvent:
        """One event, its id and type bounded as the platforms' are (they go into Redis keys and the ledger)."""
        event_id, kind = ("" if value is None else str(value) for value in (event_id, kind))
        if not event_id or not kind or len(event_id) > ID.max or len(kind) > ID.max:
            raise Rejected(f"{self.name}: missing or overlong event id or type")
        return BusinessEvent(self.name, event_id, kind, payload, **extra)


def json_body(request: Request, schema: Schema = ANY_OBJECT, kind: type = dict) -> Any:
    """The body as JSON of the given kind (an object, or a list), checked against `schema` (each item, for a list)."""
    try:
        body = current_app.json.loads(request.get_data())  # the app's strict JSON: depth, Unicode, finite numbers
    except ValueError:
        raise Rejected("the body must be JSON") from None
    if not isinstance(body, kind):
        raise Rejected(f"the body must be a JSON {'object' if kind is dict else 'array'}")
    for item in body if kind is list else [body]:
        if not isinstance(item, dict):
            raise Rejected("each event must be a JSON object")
        validate_payload(schema, item)  # checked only: templates read the whole payload, fields we do not know included
    return body
