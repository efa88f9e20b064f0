"""What WhatsApp and Messenger share as Meta Graph platforms: the hub.challenge handshake,
X-Hub-Signature-256, and calls to the Graph API with its error codes (docs/platforms.md sections 3 and 4)."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from flask import Request, Response
from redis import Redis

from bot.config import Config
from bot.errors import BotError, Permanent, Rejected, Transient
from handlers.platforms import http, signatures
from handlers.platforms.base import Adapter, Sample
from handlers.platforms.media import host_of

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
GRAPH_TEMPORARY = frozenset({1, 2})  # Graph's "unknown error" and "service temporarily unavailable": retry
MEDIA_HOSTS = (".fbsbx.com", ".facebook.com", ".fbcdn.net", ".whatsapp.net")  # where Graph's media URLs point
CALLBACK_UNVERIFIED = 2200  # Meta's GET to the callback URL did not echo hub.challenge


@dataclass(frozen=True)
class GraphError:
    """What a refused Graph API call said: the HTTP status and Graph's code, subcode and message."""

    status: int
    code: int = 0
    subcode: int | None = None
    message: str = ""

    @classmethod
    def of(cls, response: requests.Response) -> GraphError:
        """Read `{"error": {...}}`; a body that is not Graph's (a proxy's error page) keeps only the status."""
        error = http.json_body(response).get("error")
        try:
            subcode = int(error["error_subcode"]) if error.get("error_subcode") else None
            return cls(response.status_code, int(error.get("code") or 0), subcode, str(error.get("message", "")))
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls(response.status_code, message=response.reason or "")


class MetaAdapter(Adapter):
    """A Meta Graph platform; subclasses name their settings (<prefix>_APP_SECRET, <prefix>_VERIFY_TOKEN, ...) and the
    error codes that are theirs."""

    title: ClassVar[str]  # the platform's name in messages for operators
    token_setting: ClassVar[str]  # the variable holding the access token
    webhook_object: ClassVar[str]  # what the app subscribes to for this platform's webhooks
    webhook_fields: ClassVar[str] = "messages"  # the webhook fields it subscribes to, comma-separated
    rate_limits: ClassVar[frozenset[int]]  # Graph codes that mean "slow down"
    # Refusals that will never go through, by (code, subcode): what the operator should know.
    refusals: ClassVar[dict[tuple[int, int | None], str]] = {}
    sample_payload: ClassVar[dict[str, Any]]  # a sample user's message, with SAMPLE_TEXT, SAMPLE_ID and SAMPLE_TIME to fill in
    dedupe_ttl = 8 * 86400  # WhatsApp retries a delivery for up to 7 days
    default_api_url = "https://graph.facebook.com/v21.0"  # with the Graph API's version

    def __init__(self, config: Config, redis: Redis) -> None:
        super().__init__(config, redis)
        self.app_secret = config.setting(f"{self.prefix}_APP_SECRET").encode()
        self.verify_token = config.setting(f"{self.prefix}_VERIFY_TOKEN")
        # A header, not ?access_token=: URLs end up in proxies' logs.
        self.auth = {"Authorization": f"Bearer {config.setting(self.token_setting)}"}

    def verify(self, request: Request) -> None:
        """HMAC-SHA256 of the raw body with the app secret, in lowercase hex after `sha256=`."""
        expected = "sha256=" + signatures.digest(self.app_secret, request.get_data()).hex()
        signatures.require(SIGNATURE_HEADER, request.headers.get(SIGNATURE_HEADER), expected)

    def handshake(self, request: Request) -> Response | None:
        """Meta's GET check of the callback URL: echo hub.challenge if the verify token matches."""
        if request.method != "GET":
            return None
        token = request.args.get("hub.verify_token", "").encode()
        if request.args.get("hub.mode") != "subscribe" or not hmac.compare_digest(token, self.verify_token.encode()):
            raise Rejected(f"wrong hub.mode or hub.verify_token: the Verify token must equal {self.prefix}_VERIFY_TOKEN", 403)
        logger.info("%s webhook subscription confirmed", self.title)
        return Response(request.args.get("hub.challenge", ""), 200, mimetype="text/plain")

    def own_host(self, url: str) -> bool:
        """A host of Meta's that may see the access token: the Graph API's own, or Meta's media hosts over https."""
        host = host_of(url)
        return host == host_of(self.api_url) or (url.lower().startswith("https://") and host.endswith(MEDIA_HOSTS))

    def post(self, path: str, payload: dict[str, Any]) -> None:
        """POST to the Graph API; a refusal raises Transient (worth retrying) or Permanent."""
        response = self.http.post(f"{self.api_url}/{path}", json=payload, headers=self.auth)
        if not response.ok:
            raise self.error(GraphError.of(response))

    def error(self, error: GraphError, credentials: str = "") -> BotError:
        """The bot's error for a Graph refusal, with what the operator can do about it."""
        described = f"{self.title} API refused the call (HTTP {error.status}, code {error.code}): {error.message}"
        if (error.code, error.subcode) in self.refusals:
            return Permanent(self.refusals[error.code, error.subcode])
        if error.code == 190 or error.status == 401:
            return Permanent(f"{described}; check {credentials or self.token_setting}")
        if error.status == 429 or error.status >= 500 or error.code in self.rate_limits | GRAPH_TEMPORARY:
            return Transient(described)  # Graph sends no Retry-After: plain backoff
        return Permanent(described)

    def set_webhook(self, url: str) -> None:
        """Subscribe the app to the platform's message fields at `url`; Meta first checks the URL with its hub.challenge GET."""
        self._subscriptions("POST", json={"object": self.webhook_object, "callback_url": url,
                                          "verify_token": self.verify_token, "fields": self.webhook_fields})

    def show_webhook(self) -> dict[str, Any]:
        """The app's subscription for this platform: callback URL, whether it is active, its fields."""
        subscriptions = self._subscriptions("GET").get("data") or []
        mine = next((sub for sub in subscriptions if sub.get("object") == self.webhook_object), None)
        if mine is None:
            return {}
        fields = ", ".join(field.get("name", "") for field in mine.get("fields") or [])
        return {"callback_url": mine.get("callback_url"), "active": mine.get("active"), "fields": fields}

    def delete_webhook(self) -> None:
        """Unsubscribe the app from this platform's object, which stops its webhooks."""
        self._subscriptions("DELETE", params={"object": self.webhook_object})

    def _subscriptions(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """Call the app's webhook subscriptions, which only the app's own token (id|secret) may manage."""
        app_id = self.config.setting(f"{self.prefix}_APP_ID")
        if not app_id:
            raise Permanent(f"set {self.prefix}_APP_ID (App settings → Basic → App ID) to manage the webhook from here")
        headers = {"Authorization": f"Bearer {app_id}|{self.app_secret.decode()}"}
        response = self.http.request(method, f"{self.api_url}/{app_id}/subscriptions", headers=headers, **kwargs)
        if not response.ok:
            raise self._subscription_error(GraphError.of(response))
        return http.json_body(response)

    def _subscription_error(self, error: GraphError) -> BotError:
        """A refusal of the app's subscriptions: the app credentials, or Meta's check of the callback URL."""
        if error.code == CALLBACK_UNVERIFIED:
            return Permanent(f"Meta could not verify the callback URL ({error.message}): this app must be running there, "
                             f"reachable over HTTPS, with the same {self.prefix}_VERIFY_TOKEN")
        return self.error(error, f"{self.prefix}_APP_ID and {self.prefix}_APP_SECRET")

    def sample(self, url: str, text: str) -> Sample:
        """The platform's sample notification (`sample_payload`), signed with the app secret."""
        body = json.dumps(self.sample_payload).replace("SAMPLE_TEXT", text).replace("SAMPLE_ID", uuid.uuid4().hex)
        body = body.replace("SAMPLE_TIME", str(int(time.time()))).encode()
        signature = "sha256=" + signatures.digest(self.app_secret, body).hex()
        return {"Content-Type": "application/json", SIGNATURE_HEADER: signature}, body
