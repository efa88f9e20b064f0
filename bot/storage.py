"""The Redis connection."""

from __future__ import annotations

from redis import Redis


def connect(url: str) -> Redis:
    """Connect to REDIS_URL; `rediss://` accepts Heroku Redis's self-signed certificate."""
    options: dict = {"socket_connect_timeout": 3, "socket_timeout": 10, "health_check_interval": 30}
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = None
    return Redis.from_url(url, **options)
